"""``@job``: a Celery task whose every run is recorded in ``job_runs``, and what the console and /healthz read.

A feature's ``tasks.py`` declares its job next to the services it calls::

    @job("domains.expire", "End the registrations past their lifetime", schedule=crontab(minute=15, hour=0))
    def expire_domains() -> dict[str, int]:
        report = expire_registrations(clock.now())
        return {"registrations": report.registrations, "codes": report.codes}

The function takes no arguments (it works out "today" when it runs) and returns its counts. Each
run is a row: started, then succeeded (with the counts), failed (with the error) or skipped (a
run of the same job was in progress: a job is ``exclusive`` unless its service is safe to run
twice at once, like the outbox's). A transient error (the database or a server unreachable) is
retried with exponential backoff, each attempt a row of its own; a refusal (``ServiceError``) or a
setting that is wrong is not: it fails until someone corrects it. The tasks acknowledge late, so a
task whose worker is killed is delivered again; its redelivery takes over the run left "running".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from celery.schedules import crontab
from celery.schedules import schedule as every
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cloudcodes import clock, formatting
from cloudcodes.extensions import db
from cloudcodes.formatting import plural
from cloudcodes.jobs.models import JobOutcome, JobRun, JobTrigger
from cloudcodes.services import transactional

log = logging.getLogger(__name__)

# Worth trying again: the database, the mail server or the broker did not answer (smtplib's errors are OSErrors).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, PoolTimeout, OSError)
MAX_RETRIES = 5
RETRY_BACKOFF = (10, 30, 90, 270, 600)  # seconds before the 1st, 2nd, ... retry
MAX_ERROR_LENGTH = 2000
# A run still "running" after this long has lost its worker (tasks are killed after an hour).
ABANDONED_AFTER = timedelta(hours=2)
KEEP_RUNS = timedelta(days=30)

Schedule = every | crontab


@dataclass
class JobSpec:
    name: str
    title: str  # what it does, for the console
    function: Callable[[], dict[str, int] | None]
    schedule: Schedule | None
    exclusive: bool
    task: Any = None

    def schedule_text(self) -> str:
        """The schedule in words, for the console."""
        if self.schedule is None:
            return "when asked"
        if isinstance(self.schedule, crontab):
            return _crontab_text(self.schedule)
        seconds = int(self.schedule.run_every.total_seconds())
        if seconds == 60:
            return "every minute"
        return f"every {seconds // 60} minutes" if seconds % 60 == 0 else f"every {seconds} seconds"

    def next_due(self, last_started: datetime | None, now: datetime) -> datetime | None:
        """When the beat sends this job next (from its last start, or from now when it never ran)."""
        if self.schedule is None:
            return None
        if isinstance(self.schedule, crontab):
            return _next_crontab(self.schedule, now)
        return max((last_started or now) + self.schedule.run_every, now)


# Every job, by name: the worker's beat schedule, the console's list and its "Run now" read this.
REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str, title: str, *, schedule: Schedule | None = None, exclusive: bool = True
) -> Callable[[Callable[[], dict[str, int] | None]], JobSpec]:
    """Declare a recorded, retried job (see the module's documentation); the task is ``spec.task``."""

    def decorate(function: Callable[[], dict[str, int] | None]) -> JobSpec:
        spec = JobSpec(name, title, function, schedule, exclusive)

        @shared_task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            max_retries=MAX_RETRIES,
        )
        def task(self: Task, trigger: str = JobTrigger.SCHEDULE) -> None:
            attempt = self.request.retries + 1
            try:
                run_recorded(spec, trigger=JobTrigger(trigger), attempt=attempt, task_id=self.request.id)
            except TRANSIENT_ERRORS as error:
                if self.request.retries >= MAX_RETRIES:
                    raise
                raise self.retry(exc=error, countdown=retry_delay(attempt)) from error

        spec.task = task
        REGISTRY[name] = spec
        return spec

    return decorate


def retry_delay(attempt: int) -> int:
    """Seconds before retrying after the ``attempt``-th attempt failed."""
    return RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]


def run_recorded(
    spec: JobSpec, *, trigger: JobTrigger, attempt: int = 1, task_id: str | None = None, will_retry: bool = True
) -> JobRun:
    """Run ``spec``'s function once, recording the run; re-raises its error after recording it."""
    run_id = _start(spec, trigger, attempt, task_id)
    if run_id is None:
        return _record_skipped(spec, trigger, attempt, task_id)
    try:
        counts = spec.function() or {}
    except BaseException as error:
        db.session.rollback()
        retrying = will_retry and isinstance(error, TRANSIENT_ERRORS) and attempt <= MAX_RETRIES
        note = f" Retrying in {plural(retry_delay(attempt), 'second')} (attempt {attempt + 1})." if retrying else ""
        try:
            _finish(run_id, JobOutcome.FAILED, error=describe(error) + note)
        except Exception:
            log.exception("Could not record the failure of job %s (run %s)", spec.name, run_id)
        log.warning("Job %s failed (attempt %s): %s", spec.name, attempt, describe(error))
        raise
    return _finish(run_id, JobOutcome.SUCCEEDED, counts={key: int(value) for key, value in counts.items()})


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


@transactional
def _start(spec: JobSpec, trigger: JobTrigger, attempt: int, task_id: str | None) -> int | None:
    """The new run's id; None when a run of this exclusive job is in progress."""
    now = clock.now()
    # A run left "running" by a worker that died: by this very task (delivered again), or long ago.
    abandoned = JobRun.started_at < now - ABANDONED_AFTER
    if task_id is not None:
        abandoned = abandoned | (JobRun.task_id == task_id)
    db.session.execute(
        update(JobRun)
        .where(JobRun.job == spec.name, JobRun.outcome == JobOutcome.RUNNING, abandoned)
        .values(
            outcome=JobOutcome.FAILED,
            finished_at=now,
            running_lock=None,
            error="Abandoned: the worker running it stopped before it finished; the job ran again.",
        )
        .execution_options(synchronize_session=False)
    )
    run = JobRun(
        job=spec.name,
        task_id=task_id,
        trigger=trigger,
        attempt=attempt,
        started_at=now,
        outcome=JobOutcome.RUNNING,
        counts={},
        running_lock=spec.name if spec.exclusive else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:
        return None  # another worker's run of this job holds the lock
    return run.id


@transactional
def _finish(
    run_id: int, outcome: JobOutcome, *, counts: dict[str, int] | None = None, error: str | None = None
) -> JobRun:
    run = db.session.get(JobRun, run_id, populate_existing=True)
    assert run is not None
    run.outcome = outcome
    run.finished_at = clock.now()
    run.running_lock = None
    if counts is not None:
        run.counts = counts
    run.error = error
    return run


@transactional
def _record_skipped(spec: JobSpec, trigger: JobTrigger, attempt: int, task_id: str | None) -> JobRun:
    running = db.session.scalar(select(JobRun).where(JobRun.running_lock == spec.name))
    # Kept in the run's record, read later by anyone: the house style, not this request's reader's.
    since = f" (started {formatting.datetime(running.started_at, locale=formatting.DEFAULT_LOCALE)})" if running else ""
    now = clock.now()
    run = JobRun(
        job=spec.name,
        task_id=task_id,
        trigger=trigger,
        attempt=attempt,
        started_at=now,
        finished_at=now,
        outcome=JobOutcome.SKIPPED,
        counts={},
        error=f"Another run of this job was in progress{since}: this one did nothing.",
    )
    db.session.add(run)
    return run


# --- Reading the record -------------------------------------------------------------------------


def last_runs() -> dict[str, JobRun]:
    """Each job's latest run (one query)."""
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    runs = db.session.scalars(select(JobRun).join(latest, JobRun.id == latest.c.id))
    return {run.job: run for run in runs}


def last_success() -> dict[str, datetime]:
    rows = db.session.execute(
        select(JobRun.job, func.max(JobRun.finished_at))
        .where(JobRun.outcome == JobOutcome.SUCCEEDED)
        .group_by(JobRun.job)
    )
    return {name: finished for name, finished in rows if finished is not None}


def recent_failures(limit: int = 20) -> list[JobRun]:
    query = select(JobRun).where(JobRun.outcome == JobOutcome.FAILED).order_by(JobRun.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def failures_since(moment: datetime) -> int:
    failed = select(func.count()).select_from(JobRun).where(JobRun.outcome == JobOutcome.FAILED)
    return db.session.scalar(failed.where(JobRun.started_at >= moment)) or 0


def last_started(name: str) -> datetime | None:
    """When a run of ``name`` last started (its beat), whatever became of it."""
    return db.session.scalar(select(func.max(JobRun.started_at)).where(JobRun.job == name))


@transactional
def prune_runs(now: datetime | None = None) -> int:
    """Forget the runs older than KEEP_RUNS (never one still running); how many."""
    cutoff = (now or clock.now()) - KEEP_RUNS
    old = delete(JobRun).where(JobRun.started_at < cutoff, JobRun.outcome != JobOutcome.RUNNING)
    return db.session.execute(old.execution_options(synchronize_session=False)).rowcount


# --- Schedules in words -----------------------------------------------------------------------------


def _next_crontab(entry: crontab, now: datetime) -> datetime:
    """The next moment ``entry`` matches after ``now`` (to the minute, UTC)."""
    moment = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):  # a year of minutes: every crontab the jobs use matches within one
        if (
            moment.month in entry.month_of_year
            and moment.day in entry.day_of_month
            and moment.isoweekday() % 7 in entry.day_of_week
            and moment.hour in entry.hour
            and moment.minute in entry.minute
        ):
            return moment
        moment = _skip(moment, entry)
    return moment


def _skip(moment: datetime, entry: crontab) -> datetime:
    """The next candidate minute, jumping a whole day or hour when that one cannot match."""
    if (
        moment.month not in entry.month_of_year
        or moment.day not in entry.day_of_month
        or moment.isoweekday() % 7 not in entry.day_of_week
    ):
        return (moment + timedelta(days=1)).replace(hour=0, minute=0)
    if moment.hour not in entry.hour:
        return (moment + timedelta(hours=1)).replace(minute=0)
    return moment + timedelta(minutes=1)


def _crontab_text(entry: crontab) -> str:
    minutes, hours = sorted(entry.minute), sorted(entry.hour)
    if len(hours) == 24 and len(minutes) > 1 and len(entry.day_of_month) == 31:
        step = minutes[1] - minutes[0]
        return f"every {step} minutes"
    at = f"{hours[0]:02d}:{minutes[0]:02d} UTC" if len(hours) == 1 and len(minutes) == 1 else str(entry)
    if len(entry.month_of_year) == 1 and len(entry.day_of_month) == 1:
        month = datetime(2000, next(iter(entry.month_of_year)), 1).strftime("%B")
        return f"on {next(iter(entry.day_of_month))} {month} at {at}"
    if len(hours) == 24 and len(minutes) == 1:
        return f"every hour at :{minutes[0]:02d}"
    return f"daily at {at}"
