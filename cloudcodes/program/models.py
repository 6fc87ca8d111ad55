"""The program settings an admin can change, stored in one row plus the volume tiers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cloudcodes import clock
from cloudcodes.db import money_column
from cloudcodes.extensions import db
from cloudcodes.money import Money

PERCENT = Numeric(5, 2)


class ProgramSettings(db.Model):
    """The single row of program settings (``id`` is always 1)."""

    __tablename__ = "program_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("reseller_margin_pct >= 0 AND reseller_margin_pct <= 100", name="reseller_margin_range"),
        CheckConstraint("premier_margin_pct >= 0 AND premier_margin_pct <= 100", name="premier_margin_range"),
        CheckConstraint("premier_commitment_minor >= 0", name="commitment_not_negative"),
        CheckConstraint("premier_trained_sales_staff >= 0", name="trained_staff_not_negative"),
        CheckConstraint("registration_lifetime_days > 0", name="lifetime_positive"),
        CheckConstraint("commission_hold_days >= 0", name="hold_not_negative"),
        CheckConstraint("reseller_registration_cap >= 1", name="reseller_cap_positive"),
        CheckConstraint("premier_registration_cap >= 1", name="premier_cap_positive"),
        CheckConstraint("claim_decision_working_days >= 1", name="claim_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reseller_margin_pct: Mapped[Decimal] = mapped_column(PERCENT)
    premier_margin_pct: Mapped[Decimal] = mapped_column(PERCENT)
    premier_revenue_commitment: Mapped[Money] = money_column("premier_commitment")
    premier_trained_sales_staff: Mapped[int]
    registration_lifetime_days: Mapped[int]
    commission_hold_days: Mapped[int]
    reseller_registration_cap: Mapped[int] = mapped_column(server_default=text("50"))
    premier_registration_cap: Mapped[int] = mapped_column(server_default=text("250"))
    claim_decision_working_days: Mapped[int] = mapped_column(server_default=text("5"))
    currency: Mapped[str] = mapped_column(String(3))
    contact_email: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    # A new random value on every change of the terms (tiers included): processes keep the terms they
    # read and read them again only when it moved. Random, so a change rolled back never comes back
    # under a value another change later commits.
    terms_version: Mapped[str] = mapped_column(String(32), server_default=text("'initial'"))
    # The same for the FAQ's questions: moved by every flush that adds, changes or deletes one.
    faq_version: Mapped[str] = mapped_column(String(32), server_default=text("'initial'"))


class VolumeDiscountTier(db.Model):
    __tablename__ = "volume_discount_tiers"
    __table_args__ = (
        CheckConstraint("min_seats > 0", name="min_seats_positive"),
        CheckConstraint("extra_points >= 0 AND extra_points <= 100", name="extra_points_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    min_seats: Mapped[int] = mapped_column(unique=True)
    extra_points: Mapped[Decimal] = mapped_column(PERCENT)
