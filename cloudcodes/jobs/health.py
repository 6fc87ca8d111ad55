"""What /healthz says about the jobs: a scheduler that missed its beat, a broker out of reach.

The beat is the outbox's sweep, sent by the scheduler every minute (``outbox.deliver`` with
``trigger=schedule``): when none has started for ``BEAT_OVERDUE``, the scheduler or every worker
is down. A web process that has just started gives them that long too, so a fresh install (or
a deploy) is not reported before the first beat was due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cloudcodes import clock, formatting
from cloudcodes.extensions import db
from cloudcodes.jobs.models import JobRun, JobTrigger
from cloudcodes.jobs.queue import broker_problem

HEARTBEAT_JOB = "outbox.deliver"  # scheduled every minute (cloudcodes.mail.tasks)
BEAT_OVERDUE = timedelta(minutes=3)


def last_beat() -> datetime | None:
    """When the scheduler's every-minute sweep last started a run."""
    query = select(func.max(JobRun.started_at)).where(
        JobRun.job == HEARTBEAT_JOB, JobRun.trigger == JobTrigger.SCHEDULE
    )
    return db.session.scalar(query)


def scheduler_problem(now: datetime | None = None) -> str | None:
    """Why the scheduler looks stopped, or None while its beat comes on time."""
    now = now or clock.now()
    beat = last_beat()
    watched_since = current_app.extensions.get("jobs.started_at", now)
    if now - max(beat or watched_since, watched_since) <= BEAT_OVERDUE:
        return None
    if beat is None:
        return (
            f"the scheduler missed its beat: no every-minute outbox sweep has run since this server started "
            f"{_minutes(now - watched_since)} ago; start the Celery beat and a worker (see the Procfile)"
        )
    return (
        f"the scheduler missed its beat: the every-minute outbox sweep last started {_minutes(now - beat)} ago, "
        f"at {formatting.datetime(beat, locale=formatting.DEFAULT_LOCALE)}; "
        "check that the Celery beat and a worker are running"
    )


def job_problems() -> list[str]:
    """Every reason the jobs are not running as they should; empty when all is well."""
    problems = []
    broker = broker_problem()
    if broker:
        problems.append(broker)
    try:
        scheduler = scheduler_problem()
    except SQLAlchemyError as error:  # the site still serves; the answer says what could not be read
        db.session.rollback()
        scheduler = f"the record of the job runs could not be read ({type(error).__name__}): run flask db upgrade"
    if scheduler:
        problems.append(scheduler)
    return problems


def _minutes(elapsed: timedelta) -> str:
    minutes = int(elapsed.total_seconds() // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
