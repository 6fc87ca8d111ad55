from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloudcodes import clock
from cloudcodes.db import enum_column
from cloudcodes.extensions import db


class MailStatus(StrEnum):
    QUEUED = "queued"  # waiting for its (next) delivery attempt
    SENT = "sent"
    FAILED = "failed"  # given up: refused for good, or too many attempts; staff may retry it from the console


class OutboxMessage(db.Model):
    """An e-mail written in the same transaction as the change that caused it; sent later by ``outbox send``."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    # The sender's display name and Reply-To (a channel manager's notice); the From address is the site's.
    from_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(80))
    status: Mapped[MailStatus] = enum_column(MailStatus, name="known_status", length=10, default=MailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # when delivery was given up (``last_error`` says why)
