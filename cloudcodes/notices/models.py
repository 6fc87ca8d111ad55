"""Each partner user's choice of delivery per notice kind, and the notices raised for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.db import enum_column
from cloudcodes.extensions import db
from cloudcodes.notices.rules import Delivery, NoticeKind


class NoticePreference(db.Model):
    """A user's choice for one kind; a kind with no row is delivered by its default."""

    __tablename__ = "notice_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_notice_preferences_user_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = enum_column(NoticeKind, name="known_kind", length=30)
    delivery: Mapped[Delivery] = enum_column(Delivery, name="known_delivery", length=20)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Notice(db.Model):
    """Something a partner user is told: sent at once (``sent_at`` set with its mail) or in the next digest.

    ``facts`` are what the notice says, as data (amounts as decimal strings with their currency, days
    as ISO dates), written out by ``notices.messages`` for the mail, the digest and the dashboard.
    A registration's reminder is one row per (registration, days before, user): the unique
    constraint keeps each reminder to a single send, however often the job runs.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("registration_id", "days_before", "user_id", name="uq_notices_reminder"),
        # The digest job's claim: a user's unsent digest notices.
        Index("ix_notices_digest", "delivery", "sent_at", "user_id"),
        Index("ix_notices_partner_created", "partner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = enum_column(NoticeKind, name="known_kind", length=30)
    delivery: Mapped[Delivery] = enum_column(Delivery, name="known_delivery", length=20)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("domain_registrations.id", ondelete="CASCADE"))
    days_before: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
