"""The jobs' own housekeeping: forget old runs."""

from __future__ import annotations

from celery.schedules import crontab

from cloudcodes.jobs.runs import KEEP_RUNS, job, prune_runs


@job("jobs.prune", f"Forget the job runs older than {KEEP_RUNS.days} days", schedule=crontab(minute=45, hour=3))
def prune_job_runs() -> dict[str, int]:
    return {"runs": prune_runs()}
