"""Customer domains registered by partners, and the referral codes issued for them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.db import enum_column
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.domains import display_domain


class RegistrationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"  # given up by the partner, or by staff
    EXPIRED = "expired"  # past its lifetime with no purchase
    REASSIGNED = "reassigned"  # moved to another partner by staff

    @property
    def label(self) -> str:
        return self.value.capitalize()


class DomainRegistration(db.Model):
    """A partner's claim on a customer domain; at most one active claim per domain."""

    __tablename__ = "domain_registrations"
    __table_args__ = (
        CheckConstraint("expires_at > registered_at", name="expires_after_registration"),
        # The first partner wins, also when two ask at the same moment: the database says so.
        Index(
            "uq_domain_registrations_active_domain",
            "domain",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_domain_registrations_partner_status", "partner_id", "status"),
        Index("ix_domain_registrations_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))  # ASCII (punycode), lower case, registrable
    status: Mapped[RegistrationStatus] = enum_column(
        RegistrationStatus, name="known_status", length=20, default=RegistrationStatus.ACTIVE
    )
    registered_at: Mapped[datetime] = mapped_column(default=clock.now)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    renewed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    # Set by the first attributed purchase: from then on the domain stays with the partner.
    converted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)

    partner: Mapped[Partner] = relationship()
    registered_by: Mapped[User | None] = relationship()
    codes: Mapped[list[ReferralCode]] = relationship(back_populates="registration", order_by="ReferralCode.id")

    @property
    def display(self) -> str:
        return display_domain(self.domain)

    @property
    def is_active(self) -> bool:
        return self.status == RegistrationStatus.ACTIVE

    def is_live(self, at: datetime | None = None) -> bool:
        """Active and within its lifetime (a converted registration no longer runs out), even before the sweep."""
        at = at or clock.now()
        existed = self.registered_at <= at  # a purchase made before the registration is not its referral
        return existed and self.is_active and (self.converted_at is not None or self.expires_at > at)


class ReferralCode(db.Model):
    """A code bound to one partner and one registered domain. Never deleted, never reissued."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(17), unique=True)  # canonical CC-XXXX-XXXX-XXXX
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("domain_registrations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    registration: Mapped[DomainRegistration] = relationship(back_populates="codes")
    partner: Mapped[Partner] = relationship()

    @property
    def state(self) -> str:
        """``active``, ``revoked`` or ``expired`` (its registration has ended)."""
        if self.revoked_at is not None:
            return "revoked"
        if not self.registration.is_live():
            return "expired"
        return "active"
