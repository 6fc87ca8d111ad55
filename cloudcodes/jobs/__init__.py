"""Recurring jobs on Celery: the Celery app, the schedule and the record of every run."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach the task queue to ``app`` (filled in by the jobs work of issue #12)."""
