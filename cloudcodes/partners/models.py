"""Partner organisations, their members, their effective-dated levels and their requirements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.auth.models import User
from cloudcodes.crypto import EncryptedText
from cloudcodes.db import enum_column, money_column, search_column
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.payout_rules import Method as PayoutMethod
from cloudcodes.partners.payout_rules import TaxForm as TaxFormKind
from cloudcodes.program.terms import Level


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class MemberRole(StrEnum):
    OWNER = "owner"
    SALES = "sales"
    TECHNICAL = "technical"


class RequirementKind(StrEnum):
    WORKSPACE_RESELLER = "workspace_reseller"
    SALES_TEAM = "sales_team"
    TECHNICAL_TEAM = "technical_team"
    TRAINED_SALES_STAFF = "trained_sales_staff"
    JOINT_BUSINESS_PLAN = "joint_business_plan"
    WEBSITE_PRODUCT_PAGE = "website_product_page"
    JOINT_MARKETING_CAMPAIGN = "joint_marketing_campaign"

    @property
    def label(self) -> str:
        return REQUIREMENT_LABELS[self]


REQUIREMENT_LABELS = {
    RequirementKind.WORKSPACE_RESELLER: "Google Workspace reseller",
    RequirementKind.SALES_TEAM: "Sales team",
    RequirementKind.TECHNICAL_TEAM: "Technical team",
    RequirementKind.TRAINED_SALES_STAFF: "Trained sales staff",
    RequirementKind.JOINT_BUSINESS_PLAN: "Joint business plan",
    RequirementKind.WEBSITE_PRODUCT_PAGE: "Web site carries the CloudCodes product",
    RequirementKind.JOINT_MARKETING_CAMPAIGN: "Joint marketing campaign",
}


class Partner(db.Model):
    __tablename__ = "partners"
    __search_fields__ = ("name",)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    search_text: Mapped[str] = search_column()
    website: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(40), default="")
    workspace_reseller_id: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[PartnerStatus] = enum_column(
        PartnerStatus, name="known_status", length=20, default=PartnerStatus.ACTIVE
    )
    # Why and since when the partner is suspended (both empty while it is active); the audit log keeps the history.
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None]
    channel_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The application it was approved from: unique, so one application can never make two partners.
    application_id: Mapped[int | None] = mapped_column(ForeignKey("partner_applications.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    channel_manager: Mapped[User | None] = relationship(foreign_keys=[channel_manager_id])
    memberships: Mapped[list[PartnerMembership]] = relationship(back_populates="partner", cascade="all, delete-orphan")
    levels: Mapped[list[PartnerLevel]] = relationship(
        back_populates="partner", order_by="PartnerLevel.effective_from", cascade="all, delete-orphan"
    )
    requirements: Mapped[list[PartnerRequirement]] = relationship(
        back_populates="partner", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE


class PartnerMembership(db.Model):
    """A user's place in a partner organisation; a user belongs to at most one partner.

    A member whose account has no password yet has a pending invitation (``partners.team``).
    Removing a member disables the account and deletes this row, so the person may join a partner
    again later; the audit log keeps the history.
    """

    __tablename__ = "partner_memberships"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    role: Mapped[MemberRole] = enum_column(MemberRole, name="known_role", length=20)
    sales_training_completed_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    partner: Mapped[Partner] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class PartnerLevel(db.Model):
    """The level a partner holds from ``effective_from`` until the next record. Never rewritten."""

    __tablename__ = "partner_levels"
    __table_args__ = (
        UniqueConstraint("partner_id", "effective_from", name="uq_partner_levels_partner_effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    level: Mapped[Level] = enum_column(Level, name="known_level", length=20)
    effective_from: Mapped[date]
    protected_until: Mapped[date | None]
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    partner: Mapped[Partner] = relationship(back_populates="levels")


class PartnerRequirement(db.Model):
    """One requirement the partner declared or met, verified (or not yet) by its channel manager."""

    __tablename__ = "partner_requirements"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="dates_in_order"),
        Index("ix_partner_requirements_partner_kind", "partner_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    kind: Mapped[RequirementKind] = enum_column(RequirementKind, name="known_kind", length=40)
    # The calendar year a yearly requirement (business plan, campaign, trained staff) is for.
    year: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    # The page carrying the CloudCodes product; a campaign's name and dates; a plan's commitment.
    url: Mapped[str | None] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    commitment: Mapped[Money | None] = money_column("commitment", nullable=True)
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Why a manager took a verification back (kept until it is verified again).
    unverified_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])

    partner: Mapped[Partner] = relationship(back_populates="requirements")

    @property
    def label(self) -> str:
        return self.kind.label


class PartnerPayoutDetails(db.Model):
    """Who a partner's payouts go to, how, and the payee's tax status: one row per partner.

    The account number, the IBAN and the tax ID are encrypted at rest (``cloudcodes.crypto``); the
    rules of what is valid and what is still missing are in ``partners.payout_rules``.
    """

    __tablename__ = "partner_payout_details"
    __table_args__ = (
        CheckConstraint("length(payee_country) IN (0, 2)", name="country_code"),
        CheckConstraint(
            "method IS NULL"
            " OR (method = 'iban' AND iban IS NOT NULL AND bic IS NOT NULL)"
            " OR (method = 'us_bank' AND account_number IS NOT NULL AND routing_number IS NOT NULL)"
            " OR (method = 'paypal' AND paypal_email IS NOT NULL)",
            name="method_details",
        ),
        CheckConstraint(
            "tax_form_file IS NULL OR (tax_form_kind IS NOT NULL AND tax_form_signed_on IS NOT NULL)",
            name="tax_form_dated",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), unique=True)
    payee_legal_name: Mapped[str] = mapped_column(String(200), default="")
    payee_country: Mapped[str] = mapped_column(String(2), default="")  # ISO 3166-1 alpha-2
    method: Mapped[PayoutMethod | None] = enum_column(PayoutMethod, name="known_method", length=20, nullable=True)
    iban: Mapped[str | None] = mapped_column(EncryptedText)
    bic: Mapped[str | None] = mapped_column(String(11))
    account_number: Mapped[str | None] = mapped_column(EncryptedText)
    routing_number: Mapped[str | None] = mapped_column(String(9))
    paypal_email: Mapped[str | None] = mapped_column(String(254))
    tax_id: Mapped[str | None] = mapped_column(EncryptedText)
    tax_form_kind: Mapped[TaxFormKind | None] = enum_column(
        TaxFormKind, name="known_tax_form", length=20, nullable=True
    )
    tax_form_signed_on: Mapped[date | None]
    # The uploaded PDF's random file name under <instance>/tax-forms/ (never under static/).
    tax_form_file: Mapped[str | None] = mapped_column(String(80))
    tax_form_uploaded_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    partner: Mapped[Partner] = relationship()
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
