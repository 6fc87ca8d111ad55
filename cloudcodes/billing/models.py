"""Products, purchases and refunds, the append-only commission ledger, and payout statements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloudcodes import clock
from cloudcodes.db import enum_column, money_column
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner
from cloudcodes.program.terms import Level

PERCENT = Numeric(5, 2)


class Channel(StrEnum):
    """How the customer bought: the commission is paid on a direct purchase, taken as a discount on the other."""

    DIRECT = "direct"  # from CloudCodes
    RESELLER = "reseller"  # through the partner


class PurchaseSource(StrEnum):
    API = "api"  # reported to the purchases API
    CHECKOUT = "checkout"  # bought on the portal's checkout page


class AttributionRule(StrEnum):
    """Which rule gave a purchase its partner (the first that matched), or none."""

    CODE = "code"
    REGISTRATION = "registration"
    RENEWAL = "renewal"
    NONE = "none"


class CheckoutStatus(StrEnum):
    OPEN = "open"  # the customer is on (or on the way to) the billing system's payment page
    PAID = "paid"  # the billing system reported its purchase
    EXPIRED = "expired"  # never paid within its 24 hours: it earns nothing


class LedgerKind(StrEnum):
    ACCRUAL = "accrual"  # a commission (or discount) earned: zero or more
    REVERSAL = "reversal"  # a refund's share of it taken back: zero or less
    PAYOUT = "payout"  # money paid on a statement: zero or less
    ADJUSTMENT = "adjustment"  # a manager's correction with a reason (its description): either sign, never zero


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (CheckConstraint("price_per_seat_minor > 0", name="price_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # Per user (seat) per year.
    price_per_seat: Mapped[Money] = money_column("price_per_seat")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Checkout(db.Model):
    """What a customer chose on ``/redeem`` before paying: the billing system takes the money and reports it.

    Its public id (``CHK-`` and 26 random symbols) is the customer's key to the return page and the
    billing system's to the API: it is never guessed, so no other secret is needed for either.
    """

    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("price_minor > 0", name="price_positive"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="paid_iff_paid_at"),
        Index("ix_checkouts_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    customer_domain: Mapped[str] = mapped_column(String(253))
    # The code as the checkout read it (canonical), or None: attribution reads it again when paid.
    referral_code: Mapped[str | None] = mapped_column(String(60))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    seats: Mapped[int]
    price: Mapped[Money] = money_column("price")
    customer_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[CheckoutStatus] = enum_column(
        CheckoutStatus, name="known_status", length=10, default=CheckoutStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]

    product: Mapped[Product] = relationship()
    purchase: Mapped[Purchase | None] = relationship(back_populates="checkout")

    def is_open(self, at: datetime | None = None) -> bool:
        """Open and within its 24 hours (the ``checkouts expire`` sweep may not have run yet)."""
        return self.status == CheckoutStatus.OPEN and self.expires_at > (at or clock.now())


class Purchase(db.Model):
    """A purchase as reported (or made on the checkout page); always recorded, attributed or not."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("(partner_id IS NULL) = (attribution = 'none')", name="partner_iff_attributed"),
        CheckConstraint("commission_minor IS NULL OR commission_minor >= 0", name="commission_not_negative"),
        Index("ix_purchases_domain_purchased_at", "customer_domain", "purchased_at"),
        Index("ix_purchases_partner_purchased_at", "partner_id", "purchased_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[PurchaseSource] = enum_column(PurchaseSource, name="known_source", length=10)
    # SHA-256 of the request as received: the same order_id with another body is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    customer_domain: Mapped[str] = mapped_column(String(253))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    seats: Mapped[int]
    amount: Mapped[Money] = money_column("amount")
    channel: Mapped[Channel] = enum_column(Channel, name="known_channel", length=10)
    purchased_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)

    referral_code_text: Mapped[str | None] = mapped_column(String(60))
    referral_code_id: Mapped[int | None] = mapped_column(ForeignKey("referral_codes.id"))
    # "ok", or why the code given did not hold (typo, unknown, revoked, expired, domain_mismatch, ...).
    code_check: Mapped[str | None] = mapped_column(String(30))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("domain_registrations.id"))
    attribution: Mapped[AttributionRule] = enum_column(AttributionRule, name="known_attribution", length=20)
    attribution_note: Mapped[str] = mapped_column(String(300), default="")
    # Fixed when recorded: later changes of level or settings never touch them.
    level: Mapped[Level | None] = enum_column(Level, name="known_level", length=20)
    margin_pct: Mapped[Decimal | None] = mapped_column(PERCENT)
    volume_points: Mapped[Decimal | None] = mapped_column(PERCENT)
    commission: Mapped[Money | None] = money_column("commission", nullable=True)
    # The checkout it pays, for a purchase made on /redeem: unique, so a checkout is paid once.
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"), unique=True)

    product: Mapped[Product] = relationship()
    checkout: Mapped[Checkout | None] = relationship(back_populates="purchase")
    partner: Mapped[Partner | None] = relationship()
    refunds: Mapped[list[Refund]] = relationship(back_populates="purchase", order_by="Refund.id")


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        # A partner's latest refunds (the overview's activity) without reading all its purchases.
        Index("ix_refunds_partner_refunded_at", "partner_id", "refunded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(100), unique=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Money] = money_column("amount")
    refunded_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)
    commission_reversal: Mapped[Money | None] = money_column("commission_reversal", nullable=True)
    # The purchase's partner (None when it was attributed to none), copied when the refund is recorded.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))

    purchase: Mapped[Purchase] = relationship(back_populates="refunds")


class PayoutStatement(db.Model):
    """What one partner is paid for one month: the payable entries of the month and what was carried over."""

    __tablename__ = "payout_statements"
    __table_args__ = (
        UniqueConstraint("partner_id", "period_start", name="uq_payout_statements_partner_period"),
        CheckConstraint("total_minor > 0", name="total_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    period_start: Mapped[date]  # the first day of the month closed
    total: Mapped[Money] = money_column("total")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    payment_reference: Mapped[str | None] = mapped_column(String(120))

    partner: Mapped[Partner] = relationship()
    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="statement", order_by="LedgerEntry.id", foreign_keys="LedgerEntry.statement_id"
    )


class LedgerEntry(db.Model):
    """One line of a partner's commission ledger. Append-only: a correction is a new entry.

    ``payable`` entries are money CloudCodes owes (commissions on direct purchases, their
    reversals, and payouts); the others record the discount a partner already took on a purchase
    made through it, so its earnings are complete without being paid twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'accrual' AND amount_minor >= 0) OR (kind IN ('reversal', 'payout') AND amount_minor <= 0)"
            " OR (kind = 'adjustment' AND amount_minor <> 0)",
            name="sign_matches_kind",
        ),
        Index("ix_ledger_entries_partner_payable", "partner_id", "payable", "payable_on"),
        # The earnings page lists and filters a partner's entries by the day they count for.
        Index("ix_ledger_entries_partner_effective", "partner_id", "effective_on"),
        # Payable entries not on a statement yet (the next statement's): few, whatever the partner's history.
        Index(
            "ix_ledger_entries_partner_open",
            "partner_id",
            "payable_on",
            sqlite_where=text("statement_id IS NULL AND payable"),
            postgresql_where=text("statement_id IS NULL AND payable"),
        ),
        # A statement is paid once: at most one payout entry points at it.
        Index(
            "uq_ledger_entries_statement_payout",
            "statement_id",
            unique=True,
            sqlite_where=text("kind = 'payout'"),
            postgresql_where=text("kind = 'payout'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[LedgerKind] = enum_column(LedgerKind, name="known_kind", length=10)
    payable: Mapped[bool]
    amount: Mapped[Money] = money_column("amount")
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("payout_statements.id"), index=True)
    # The day the entry counts for (purchase, refund or payment date) and the day it becomes payable.
    effective_on: Mapped[date]
    payable_on: Mapped[date]
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Who wrote a manual adjustment (the other kinds come from purchases, refunds and payments).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    statement: Mapped[PayoutStatement | None] = relationship(back_populates="entries", foreign_keys=[statement_id])
    purchase: Mapped[Purchase | None] = relationship()


class PartnerMonthTotals(db.Model):
    """A partner's sums for one calendar month (UTC), kept as its purchases, refunds and ledger entries
    are written (``cloudcodes.billing.totals``), so that its pages never sum its whole history.

    Purchases and their refunds count in the month of the purchase (``revenue_minor``,
    ``refunded_minor``); ledger entries in the month of their ``effective_on``.
    """

    __tablename__ = "partner_month_totals"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # its first day
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # purchases attributed to the partner
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # refunds of those purchases
    earned_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # accruals, reversals, adjustments
    payable_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # every payable entry, payouts included
    discounts_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # entries not payable (discounts taken)
    paid_out_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # payouts, as a positive sum
