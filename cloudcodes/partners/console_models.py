"""What the console keeps about a partner besides the partner itself: managers' notes, owner e-mail corrections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner


class PartnerNote(db.Model):
    """A staff member's dated note on a partner. Append-only, and never shown to the partner."""

    __tablename__ = "partner_notes"
    __table_args__ = (Index("ix_partner_notes_partner_created", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    partner: Mapped[Partner] = relationship()
    author: Mapped[User | None] = relationship()


class EmailChange(db.Model):
    """A correction of a member's e-mail address, waiting for the new address to confirm it.

    Only the link token's SHA-256 is kept. The change is done when the link is opened (``confirmed_at``)
    or withdrawn (``cancelled_at``); at most one is pending per user.
    """

    __tablename__ = "email_changes"
    __table_args__ = (
        Index(
            "uq_email_changes_user_pending",
            "user_id",
            unique=True,
            sqlite_where=text("confirmed_at IS NULL AND cancelled_at IS NULL"),
            postgresql_where=text("confirmed_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    old_email: Mapped[str] = mapped_column(String(254))
    new_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])

    @property
    def pending(self) -> bool:
        return self.confirmed_at is None and self.cancelled_at is None and self.expires_at > clock.now()
