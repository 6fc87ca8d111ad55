"""The partner's purchases and earnings: ``/dashboard/earnings``, its CSV downloads and statement PDFs.

Read-only pages over the billing records. Every record is looked up together with the partner's
id, so another partner's statement is simply not found (404). The page's queries do not depend on
how many purchases or entries there are: sums are computed by the database, lists are paged, and
what each row shows (its product, its refunds summed, its code) comes in the row's own query.

The filter (``earnings_filter``) applies to both tables and both downloads alike: a CSV holds every
row the filtered tables list, on all their pages, in the same order and with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from cloudcodes import clock
from cloudcodes.billing.models import Channel, LedgerEntry, PayoutStatement, Purchase
from cloudcodes.billing.payouts import (
    ENTRY_KIND_LABELS,
    EntryKind,
    csv_text,
    entry_kind,
    entry_kind_label,
    ledger_csv,
    month_label,
    statement_csv,
)
from cloudcodes.dashboard.earnings_filter import EarningsFilter, read_filter
from cloudcodes.dashboard.figures import RowPagination, ledger_totals, refunds_per_purchase
from cloudcodes.dashboard.statement_pdf import statement_pdf
from cloudcodes.dashboard.views import blueprint
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.access import Area
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import ReferralCode
from cloudcodes.web import partner_required

PURCHASES_PER_PAGE = 20
LEDGER_PER_PAGE = 25


def _download(body: str | bytes, filename: str, mimetype: str = "text/csv") -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _page_number(name: str) -> int:
    return max(request.args.get(name, 1, type=int) or 1, 1)


# --- Purchases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRow:
    """What the purchases table (and its CSV) shows of one purchase: its refunds summed, its net."""

    purchase: Purchase
    refunded: Money
    reversed: Money  # the commission (or discount) its refunds took back, zero or more
    code: str | None

    @property
    def domain(self) -> str:
        return display_domain(self.purchase.customer_domain)

    @property
    def direct(self) -> bool:
        return self.purchase.channel == Channel.DIRECT

    @property
    def fully_refunded(self) -> bool:
        return self.refunded.minor >= self.purchase.amount.minor

    @property
    def net_amount(self) -> Money:
        return self.purchase.amount - self.refunded

    @property
    def net_commission(self) -> Money | None:
        commission = self.purchase.commission
        return None if commission is None else commission - self.reversed

    @property
    def earning_label(self) -> str:
        return "commission" if self.direct else "discount"


def _purchase_rows(partner: Partner, found: EarningsFilter) -> Select[Any]:
    refunds = refunds_per_purchase(partner.id)
    return (
        select(
            Purchase,
            func.coalesce(refunds.c.refunded, 0).label("refunded"),
            func.coalesce(refunds.c.reversed, 0).label("reversed"),
            ReferralCode.code,
        )
        .outerjoin(refunds, refunds.c.purchase_id == Purchase.id)
        .outerjoin(ReferralCode, ReferralCode.id == Purchase.referral_code_id)
        .where(*found.purchase_conditions(partner.id))
        .options(joinedload(Purchase.product))
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
    )


def _as_purchase_rows(rows: Any, currency: str) -> list[PurchaseRow]:
    return [
        PurchaseRow(purchase, Money(int(refunded), currency), Money(int(reversed_), currency), code)
        for purchase, refunded, reversed_, code in rows
    ]


@dataclass(frozen=True)
class PurchaseTotals:
    count: int
    amount: Money
    refunded: Money
    commission: Money  # commissions and discounts of the purchases, before refunds
    reversed: Money

    @property
    def net_amount(self) -> Money:
        return self.amount - self.refunded

    @property
    def net_commission(self) -> Money:
        return self.commission - self.reversed


def _purchase_totals(partner: Partner, found: EarningsFilter, currency: str) -> PurchaseTotals:
    refunds = refunds_per_purchase(partner.id)
    row = db.session.execute(
        select(
            func.count(Purchase.id),
            func.coalesce(func.sum(Purchase.amount_minor), 0),
            func.coalesce(func.sum(refunds.c.refunded), 0),
            func.coalesce(func.sum(Purchase.commission_minor), 0),
            func.coalesce(func.sum(refunds.c.reversed), 0),
        )
        .select_from(Purchase)
        .outerjoin(refunds, refunds.c.purchase_id == Purchase.id)
        .where(*found.purchase_conditions(partner.id))
    ).one()
    return PurchaseTotals(int(row[0]), *(Money(int(value), currency) for value in row[1:]))


# --- The ledger ---------------------------------------------------------------------------------


def _ledger_entries(partner: Partner, found: EarningsFilter) -> Select[Any]:
    return (
        select(LedgerEntry)
        .where(*found.ledger_conditions(partner.id))
        .options(joinedload(LedgerEntry.purchase), joinedload(LedgerEntry.statement))
        .order_by(LedgerEntry.effective_on.desc(), LedgerEntry.id.desc())
    )


@dataclass(frozen=True)
class KindTotal:
    kind: EntryKind
    count: int
    amount: Money

    @property
    def label(self) -> str:
        return ENTRY_KIND_LABELS[self.kind]


def _ledger_totals(partner: Partner, found: EarningsFilter, currency: str) -> list[KindTotal]:
    """The filtered entries summed per kind, in the order the kinds are listed; kinds without entries left out."""
    rows = db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.payable, func.count(LedgerEntry.id), func.sum(LedgerEntry.amount_minor))
        .where(*found.ledger_conditions(partner.id))
        .group_by(LedgerEntry.kind, LedgerEntry.payable)
    ).all()
    counts: dict[EntryKind, list[int]] = {}
    for kind, payable, count, amount in rows:
        shown = counts.setdefault(entry_kind(kind, payable), [0, 0])
        shown[0] += int(count)
        shown[1] += int(amount or 0)
    return [
        KindTotal(kind, *counts[kind][:1], Money(counts[kind][1], currency)) for kind in EntryKind if kind in counts
    ]


# --- The page -----------------------------------------------------------------------------------


@blueprint.get("/earnings")
@partner_required("dashboard/earnings.html", area=Area.MONEY)
def earnings(partner: Partner) -> ResponseReturnValue:
    found = read_filter(request.args, clock.today())
    currency = program_terms().currency
    purchases = RowPagination(
        select=_purchase_rows(partner, found),
        session=db.session,
        page=_page_number("page"),
        per_page=PURCHASES_PER_PAGE,
        error_out=False,
    )
    entries = db.paginate(
        _ledger_entries(partner, found), page=_page_number("ledger_page"), per_page=LEDGER_PER_PAGE, error_out=False
    )
    statements = db.session.scalars(
        select(PayoutStatement)
        .where(PayoutStatement.partner_id == partner.id)
        .order_by(PayoutStatement.period_start.desc(), PayoutStatement.id.desc())
    ).all()
    # The balance is the partner's whole ledger, whatever the filter.
    totals = ledger_totals(partner.id, clock.today())
    awaiting = Money(sum(s.total.minor for s in statements if s.paid_at is None), currency)
    return render_template(
        "dashboard/earnings.html",
        partner=partner,
        totals=totals,
        awaiting=awaiting,
        filters=found,
        filter_args=found.args(),
        purchases=purchases,
        purchase_rows=_as_purchase_rows(purchases.items, currency),
        purchase_totals=_purchase_totals(partner, found, currency),
        entries=entries,
        kind_totals=_ledger_totals(partner, found, currency),
        entry_kind_label=entry_kind_label,
        statements=statements,
        month_label=month_label,
        hold_days=program_terms().commission_hold_days,
    )


# --- Downloads ----------------------------------------------------------------------------------

PURCHASE_CSV_HEADER = [
    "Date",
    "Order ID",
    "Customer domain",
    "Product",
    "Seats",
    "Amount",
    "Bought",
    "Referral code",
    "Kind",
    "Commission or discount",
    "Refunded",
    "Net amount",
    "Net commission or discount",
    "Currency",
]


def _purchase_line(row: PurchaseRow) -> list[Any]:
    purchase = row.purchase
    return [
        purchase.purchased_at.date(),
        purchase.order_id,
        row.domain,
        purchase.product.name,
        purchase.seats,
        purchase.amount,
        "Direct from CloudCodes" if row.direct else "Through you",
        row.code,
        row.earning_label.capitalize() if purchase.commission is not None else None,
        purchase.commission,
        row.refunded,
        row.net_amount,
        row.net_commission,
        purchase.amount.currency,
    ]


def _filename(what: str, found: EarningsFilter) -> str:
    """``cloudcodes-ledger-<today>.csv``, or for a period: ``cloudcodes-ledger-2027-02-01-to-2027-02-28.csv``."""
    days = found.days
    if days.first is None and days.last is None:
        return f"cloudcodes-{what}-{clock.today().isoformat()}.csv"
    first = days.first.isoformat() if days.first else "start"
    return f"cloudcodes-{what}-{first}-to-{(days.last or clock.today()).isoformat()}.csv"


@blueprint.get("/earnings/purchases.csv")
@partner_required(area=Area.MONEY)
def earnings_purchases_csv(partner: Partner) -> ResponseReturnValue:
    found = read_filter(request.args, clock.today())
    rows = _as_purchase_rows(db.session.execute(_purchase_rows(partner, found)), program_terms().currency)
    return _download(
        csv_text(PURCHASE_CSV_HEADER, (_purchase_line(row) for row in rows)), _filename("purchases", found)
    )


@blueprint.get("/earnings/ledger.csv")
@partner_required(area=Area.MONEY)
def earnings_ledger_csv(partner: Partner) -> ResponseReturnValue:
    found = read_filter(request.args, clock.today())
    entries = db.session.scalars(_ledger_entries(partner, found)).all()
    return _download(ledger_csv(entries), _filename("ledger", found))


def _statement_of(partner: Partner, statement_id: int) -> PayoutStatement:
    statement = db.session.scalar(
        select(PayoutStatement)
        .where(PayoutStatement.id == statement_id, PayoutStatement.partner_id == partner.id)
        .options(selectinload(PayoutStatement.entries).joinedload(LedgerEntry.purchase))
    )
    if statement is None:
        abort(404)
    return statement


@blueprint.get("/earnings/statements/<int:statement_id>.csv")
@partner_required(area=Area.MONEY)
def earnings_statement_csv(partner: Partner, statement_id: int) -> ResponseReturnValue:
    statement = _statement_of(partner, statement_id)
    return _download(statement_csv(statement), f"cloudcodes-statement-{statement.period_start.isoformat()[:7]}.csv")


@blueprint.get("/earnings/statements/<int:statement_id>.pdf")
@partner_required(area=Area.MONEY)
def earnings_statement_pdf(partner: Partner, statement_id: int) -> ResponseReturnValue:
    statement = _statement_of(partner, statement_id)
    return _download(
        statement_pdf(statement, partner, issued_at=clock.now()),
        f"cloudcodes-statement-{statement.period_start.isoformat()[:7]}.pdf",
        mimetype="application/pdf",
    )
