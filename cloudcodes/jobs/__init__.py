"""Recurring jobs on Celery: the Celery app, the schedule and the record of every run.

``queue`` makes the Celery app from the Flask app (``celery_init_app``) and talks to the broker;
``runs`` is the ``@job`` decorator every feature's ``tasks.py`` uses, which records each run in
``job_runs``; ``worker`` is the entry point of ``celery -A cloudcodes.jobs.worker worker`` / ``beat``.
"""

from __future__ import annotations

from flask import Flask

from cloudcodes import clock
from cloudcodes.jobs import metrics  # noqa: F401 - registers the jobs' gauges on /metrics
from cloudcodes.jobs.queue import celery_init_app


def init_app(app: Flask) -> None:
    """Attach the task queue to ``app``; /healthz counts the scheduler's beat from this moment at the earliest."""
    app.extensions["jobs.started_at"] = clock.now()
    celery_init_app(app)
