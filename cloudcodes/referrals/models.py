"""Customer domains registered by partners, and the referral codes issued for them."""

from __future__ import annotations

import secrets
from datetime import date, datetime
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


class Verification(StrEnum):
    """How a registration (or a claim) was proven to have the customer behind it."""

    DNS = "dns"  # the TXT record cloudcodes-partner=<token> on the domain
    CONFIRMATION = "confirmation"  # the customer clicked the signed link sent to an address at the domain

    @property
    def label(self) -> str:
        return "a DNS record on the domain" if self == Verification.DNS else "the customer's confirmation"


def new_proof_token() -> str:
    """The token a registration's TXT record carries: 20 random characters, URL- and DNS-safe."""
    return secrets.token_urlsafe(15)


class DomainRegistration(db.Model):
    """A partner's hold on a customer domain; at most one active per domain.

    It starts *claimed* (on the partner's word) and becomes *verified* with proof that the customer
    stands behind it. What the portal reads of the domain's DNS itself (whether it resolves, whether
    its mail goes to Google Workspace) is kept with the day it was read.
    """

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
    # Proof that the customer stands behind it.
    proof_token: Mapped[str] = mapped_column(String(40), default=new_proof_token)
    verified_at: Mapped[datetime | None]
    verification: Mapped[Verification | None] = enum_column(
        Verification, name="known_verification", length=20, nullable=True
    )
    confirmation_email: Mapped[str | None] = mapped_column(String(254))
    confirmation_sent_at: Mapped[datetime | None]
    # Evidence read from the domain's DNS, and when.
    dns_checked_at: Mapped[datetime | None]
    dns_resolves: Mapped[bool | None]
    mx_workspace: Mapped[bool | None]
    mx_hosts: Mapped[str] = mapped_column(String(500), default="", server_default="")

    partner: Mapped[Partner] = relationship()
    registered_by: Mapped[User | None] = relationship()
    codes: Mapped[list[ReferralCode]] = relationship(back_populates="registration", order_by="ReferralCode.id")

    @property
    def display(self) -> str:
        return display_domain(self.domain)

    @property
    def is_active(self) -> bool:
        return self.status == RegistrationStatus.ACTIVE

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def proof_state(self) -> str:
        """``verified`` or ``claimed``: what the pages call it."""
        return "verified" if self.verified else "claimed"

    @property
    def txt_record(self) -> str:
        return f"cloudcodes-partner={self.proof_token}"

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


class ClaimStatus(StrEnum):
    PENDING = "pending"  # waiting for the holder's manager
    GRANTED = "granted"  # the domain moved to the claimant
    REFUSED = "refused"  # the holder keeps it

    @property
    def label(self) -> str:
        return {"pending": "Waiting for a decision", "granted": "Granted", "refused": "Refused"}[self.value]


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"  # the first decision stands
    OVERTURNED = "overturned"  # the other side wins after all

    @property
    def label(self) -> str:
        return {"pending": "Appealed, waiting for an admin", "upheld": "Upheld", "overturned": "Overturned"}[self.value]


class RegistrationClaim(db.Model):
    """A partner asking for a domain another partner holds, with its evidence; decided by the holder's
    manager, and once on appeal by an admin. Neither partner is ever shown the other's name."""

    __tablename__ = "registration_claims"
    __table_args__ = (
        # One open claim per partner and registration; another partner may claim it too.
        Index(
            "uq_registration_claims_pending",
            "registration_id",
            "claimant_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_registration_claims_status_filed", "status", "filed_at"),
        CheckConstraint("length(note) <= 2000", name="note_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("domain_registrations.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    claimant_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filed_at: Mapped[datetime] = mapped_column(default=clock.now)
    due_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    # The claimant's own proof, checked like a registration's.
    proof_token: Mapped[str] = mapped_column(String(40), default=new_proof_token)
    verified_at: Mapped[datetime | None]
    verification: Mapped[Verification | None] = enum_column(
        Verification, name="known_verification", length=20, nullable=True
    )
    confirmation_email: Mapped[str | None] = mapped_column(String(254))
    # Whether the holder's registration was verified when the claim was filed.
    holder_verified: Mapped[bool] = mapped_column(default=False)

    status: Mapped[ClaimStatus] = enum_column(ClaimStatus, name="known_status", length=20, default=ClaimStatus.PENDING)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)

    appealed_at: Mapped[datetime | None]
    appealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    appeal_note: Mapped[str | None] = mapped_column(Text)
    appeal_status: Mapped[AppealStatus | None] = enum_column(
        AppealStatus, name="known_appeal_status", length=20, nullable=True
    )
    appeal_decided_at: Mapped[datetime | None]
    appeal_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    appeal_reason: Mapped[str | None] = mapped_column(Text)

    registration: Mapped[DomainRegistration] = relationship()
    claimant: Mapped[Partner] = relationship()

    @property
    def display(self) -> str:
        return display_domain(self.domain)

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def txt_record(self) -> str:
        return f"cloudcodes-partner={self.proof_token}"

    @property
    def final(self) -> bool:
        """Decided, and either appealed and decided again or no longer open to appeal."""
        return self.status != ClaimStatus.PENDING and (
            self.appeal_status in (AppealStatus.UPHELD, AppealStatus.OVERTURNED)
        )
