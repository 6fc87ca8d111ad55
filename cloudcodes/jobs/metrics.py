"""The jobs' gauges on /metrics: tasks waiting in the broker, failed runs, each job's last success.

Read at each scrape (``cloudcodes.observability.register_gauge``) from the broker and ``job_runs``,
so every web worker answers the same. Alert on failures, and on a last success older than a job's
schedule allows (the outbox's: a few minutes).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cloudcodes import clock, observability
from cloudcodes.extensions import db
from cloudcodes.jobs.models import JobOutcome, JobRun
from cloudcodes.jobs.queue import queue_depth
from cloudcodes.jobs.runs import last_success

FAILURES_WINDOW = timedelta(hours=24)


def waiting_tasks() -> int:
    depth = queue_depth()
    if depth is None:
        raise ConnectionError("the task broker is unreachable")  # leaves the gauge out of this scrape
    return depth


def failures_by_job() -> dict[str, int]:
    """Failed runs of each job that started in the last 24 hours."""
    rows = db.session.execute(
        select(JobRun.job, func.count())
        .where(JobRun.outcome == JobOutcome.FAILED, JobRun.started_at >= clock.now() - FAILURES_WINDOW)
        .group_by(JobRun.job)
    )
    return dict(rows.all())


def last_success_by_job() -> dict[str, float]:
    return {name: finished.timestamp() for name, finished in last_success().items()}


observability.register_gauge(
    "cloudcodes_job_queue_depth", "Tasks waiting in the task broker's queue for a worker.", waiting_tasks
)
observability.register_gauge(
    "cloudcodes_job_failures_last_day",
    "Failed runs of each job in the last 24 hours (a transient error's retries count too).",
    failures_by_job,
    label="job",
)
observability.register_gauge(
    "cloudcodes_job_last_success_timestamp_seconds",
    "When each job last finished successfully (Unix time).",
    last_success_by_job,
    label="job",
)
