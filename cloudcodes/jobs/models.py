from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloudcodes import clock
from cloudcodes.db import enum_column
from cloudcodes.extensions import db


class JobOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ``error`` says why; a transient error is retried as a new run (``attempt`` + 1)
    SKIPPED = "skipped"  # another run of the same job was in progress: this one did nothing


class JobTrigger(StrEnum):
    SCHEDULE = "schedule"  # the beat
    COMMIT = "commit"  # a change that queued work (an e-mail) asked for it
    MANUAL = "manual"  # "Run now" in the console


class JobRun(db.Model):
    """One run of a recurring job: when it started and ended, what it did, or why it failed."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    task_id: Mapped[str | None] = mapped_column(String(155))  # Celery's id; None for a run in-process
    trigger: Mapped[JobTrigger] = enum_column(JobTrigger, name="known_trigger", length=10)
    attempt: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[JobOutcome] = enum_column(JobOutcome, name="known_outcome", length=10, default=JobOutcome.RUNNING)
    # What the run did, e.g. {"sent": 3, "failed": 0}: the numbers the matching command prints.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # The job's name while a run of a job that must not overlap itself is in progress, else None:
    # the unique constraint lets one such run at a time exist, on every database, across workers.
    running_lock: Mapped[str | None] = mapped_column(String(80), unique=True)

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def counts_text(self) -> str:
        """``sent 3, given up 1``: the counts as words (``year`` is shown as is)."""
        return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in (self.counts or {}).items())
