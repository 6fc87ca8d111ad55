"""The figures the partner's dashboard pages share: ledger sums, the 12-month series, the latest activity.

Every figure is an aggregate computed by the database, and each function sends a fixed number of
statements however many purchases or entries a partner has. Month buckets are computed here as
date boundaries and summed with ``case`` so the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import Row, Select, and_, bindparam, case, func, or_, select

from cloudcodes.billing import totals
from cloudcodes.billing.models import (
    LedgerEntry,
    PartnerMonthTotals,
    PayoutStatement,
    Product,
    Purchase,
    Refund,
)
from cloudcodes.billing.payouts import month_end
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db
from cloudcodes.formatting import date as format_date
from cloudcodes.formatting import level_name
from cloudcodes.money import Money
from cloudcodes.notices.messages import summary as notice_summary
from cloudcodes.notices.models import Notice
from cloudcodes.notices.rules import NoticeKind
from cloudcodes.partners.models import PartnerLevel
from cloudcodes.partners.services import level_record_on
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import DomainRegistration, RegistrationStatus

CHART_MONTHS = 12
ACTIVITY_SHOWN = 8
ENDING_WITHIN = timedelta(days=14)

# What "earnings" counts: commissions and discounts accrued, less reversals, with adjustments;
# payouts only move money already earned.
EARNING_KINDS = totals.EARNING_KINDS


class RowPagination(SelectPagination):
    """A page of a select's rows, every column of them (``db.paginate`` gives only the first column)."""

    def _query_items(self) -> list[Any]:
        statement = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(statement))


@dataclass(frozen=True)
class LedgerFigures:
    payable_now: Money  # the payable balance: hold passed, not yet paid out
    in_hold: Money  # payable entries whose hold has not passed yet
    paid_out: Money
    discounts: Money  # taken as a discount on purchases through the partner, never paid out
    earned_this_month: Money
    earned_this_year: Money
    statement_month: date  # the first day of the month the next statement closes
    next_statement: Money  # open payable entries that will be payable by that month's end
    hold_ends_on: date | None  # when the earliest held entry becomes payable
    awaiting_payment: Money  # on statements made but not paid yet

    @property
    def statement_closes_after(self) -> date:
        return month_end(self.statement_month)


def _sum(condition: Any, sign: int = 1) -> Any:
    return func.coalesce(func.sum(case((condition, sign * LedgerEntry.amount_minor), else_=0)), 0)


# The hot statements are built once, with bound parameters, and only executed per request: building
# a select of a dozen CASEs costs more than the database takes to answer it.
_PARTNER = bindparam("partner_id")
# Untyped: each takes the type of the column it is compared with (and its conversions).
_TODAY = bindparam("today")
_CLOSES = bindparam("closes")
_NEXT_MONTH = bindparam("next_month")


_PARTNER_MONTHS = select(PartnerMonthTotals.month, *(getattr(PartnerMonthTotals, name) for name in totals.SUMS)).where(
    PartnerMonthTotals.partner_id == _PARTNER
)


def partner_months(partner_id: int) -> list[Row[Any]]:
    """The partner's monthly totals, one row a month it has had anything in (``billing.totals``): read
    once for all of the overview's sums and its chart, a row a month however many purchases."""
    return list(db.session.execute(_PARTNER_MONTHS, {"partner_id": partner_id}))


def _ledger_live_statement() -> Select[Any]:
    """The few entries whose sums depend on today: held, not on a statement yet, counted ahead of today."""
    # The bare column, as the partial index ix_ledger_entries_partner_open writes its condition.
    open_entry = and_(LedgerEntry.statement_id.is_(None), LedgerEntry.payable)
    held = and_(LedgerEntry.payable.is_(True), LedgerEntry.payable_on > _TODAY)
    ahead = and_(LedgerEntry.effective_on > _TODAY, LedgerEntry.effective_on < _NEXT_MONTH)
    unpaid = select(func.coalesce(func.sum(PayoutStatement.total_minor), 0)).where(
        PayoutStatement.partner_id == _PARTNER, PayoutStatement.paid_at.is_(None)
    )
    live = select(
        _sum(held),
        _sum(and_(open_entry, LedgerEntry.payable_on <= _CLOSES)),
        _sum(and_(LedgerEntry.kind.in_(EARNING_KINDS), ahead)),
        func.min(case((held, LedgerEntry.payable_on), else_=None)),
        unpaid.scalar_subquery(),
    ).where(LedgerEntry.partner_id == _PARTNER, or_(held, open_entry, ahead))
    return live


_LEDGER_LIVE = _ledger_live_statement()


def ledger_figures(partner_id: int, today: date, months: list[Row[Any]] | None = None) -> LedgerFigures:
    """All the overview's and the earnings page's ledger sums: the partner's monthly totals (``months``
    when the caller read them already, ``partner_months``) and one statement over today's few entries;
    neither grows with the partner's history."""
    statement_month = today.replace(day=1)
    closes = month_end(statement_month)
    year_start = date(today.year, 1, 1)
    params = {"partner_id": partner_id, "today": today, "closes": closes, "next_month": closes + timedelta(days=1)}
    if months is None:
        months = partner_months(partner_id)
    payable = sum(row.payable_minor for row in months)
    paid_out = sum(row.paid_out_minor for row in months)
    discounts = sum(row.discounts_minor for row in months)
    month_earned = sum(row.earned_minor for row in months if row.month == statement_month)
    year_earned = sum(row.earned_minor for row in months if year_start <= row.month <= statement_month)
    in_hold, next_statement, earned_ahead, hold_ends_on, unpaid = db.session.execute(_LEDGER_LIVE, params).one()
    currency = program_terms().currency

    def money(minor: Any) -> Money:
        return Money(int(minor or 0), currency)

    return LedgerFigures(
        payable_now=money(payable - in_hold),
        in_hold=money(in_hold),
        paid_out=money(paid_out),
        discounts=money(discounts),
        earned_this_month=money(month_earned - earned_ahead),
        earned_this_year=money(year_earned - earned_ahead),
        statement_month=statement_month,
        next_statement=money(next_statement),
        hold_ends_on=hold_ends_on,
        awaiting_payment=money(unpaid),
    )


def ledger_totals(partner_id: int, today: date) -> dict[str, Money]:
    """The earnings page's four totals (payable now, in hold, paid out, discounts)."""
    figures = ledger_figures(partner_id, today)
    return {
        "payable_now": figures.payable_now,
        "in_hold": figures.in_hold,
        "paid_out": figures.paid_out,
        "discounts": figures.discounts,
    }


# --- The 12-month series ------------------------------------------------------------------------


def chart_months(today: date, count: int = CHART_MONTHS) -> list[date]:
    """The first days of the last ``count`` months, this one included, the oldest first."""
    months = [today.replace(day=1)]
    while len(months) < count:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months[::-1]


@dataclass(frozen=True)
class MonthFigures:
    month: date
    earnings: Money
    revenue: Money  # purchases attributed to the partner in the month, less their refunds


def refunds_per_purchase(partner_id: int) -> Any:
    """Each refunded purchase's refunds summed (``refunded``, ``reversed``): a subquery to outer-join, so that
    joining refunds never repeats a purchase's amount. Only the partner's refunds are summed (each keeps its
    purchase's partner): summing every partner's first would grow with the whole table."""
    return (
        select(
            Refund.purchase_id.label("purchase_id"),
            func.sum(Refund.amount_minor).label("refunded"),
            func.sum(func.coalesce(Refund.commission_reversal_minor, 0)).label("reversed"),
        )
        .where(Refund.partner_id == partner_id)
        .group_by(Refund.purchase_id)
        .subquery()
    )


def monthly_series(partner_id: int, today: date, months: list[Row[Any]] | None = None) -> list[MonthFigures]:
    """Earnings (by ``effective_on``) and referred revenue (by purchase month, less its refunds) of the
    last 12 months, from the partner's monthly totals (``months`` when the caller read them already)."""
    if months is None:
        months = partner_months(partner_id)
    by_month = {row.month: row for row in months}
    currency = program_terms().currency
    series = []
    for month in chart_months(today):
        row = by_month.get(month)
        earned, revenue = (row.earned_minor, row.revenue_minor - row.refunded_minor) if row else (0, 0)
        series.append(MonthFigures(month, Money(int(earned), currency), Money(int(revenue), currency)))
    return series


# --- The latest activity ------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    kind: str  # "purchase", "refund", "registration_ending", "level", "notice"
    on: date
    text: str
    amount: Money | None
    endpoint: str  # where it is detailed


@dataclass(frozen=True)
class Levels:
    """The partner's level records around ``today``: the one in force, the next one written, the latest few."""

    current: PartnerLevel | None
    upcoming: PartnerLevel | None
    latest: list[PartnerLevel]  # newest first, at most ACTIVITY_SHOWN


def _next_level_record(partner_id: int, today: date) -> PartnerLevel | None:
    return db.session.scalar(
        select(PartnerLevel)
        .where(PartnerLevel.partner_id == partner_id, PartnerLevel.effective_from > today)
        .order_by(PartnerLevel.effective_from)
        .limit(1)
    )


_LATEST_LEVELS = (
    select(PartnerLevel)
    .where(PartnerLevel.partner_id == _PARTNER)
    .order_by(PartnerLevel.effective_from.desc(), PartnerLevel.id.desc())
    .limit(ACTIVITY_SHOWN)
)


def levels_around(partner_id: int, today: date) -> Levels:
    """One statement for the overview's three uses of the level records (two more only for a partner
    with more records written ahead than the list holds, which the program never writes)."""
    latest = list(db.session.scalars(_LATEST_LEVELS, {"partner_id": partner_id}))
    past = [record for record in latest if record.effective_from <= today]
    ahead = [record for record in latest if record.effective_from > today]
    complete = len(latest) < ACTIVITY_SHOWN or bool(past)  # every record ahead is in the list
    current = past[0] if past else (None if complete else level_record_on(partner_id, today))
    upcoming = ahead[-1] if complete and ahead else (None if complete else _next_level_record(partner_id, today))
    return Levels(current, upcoming, latest)


_LATEST_PURCHASES = (
    select(Purchase.purchased_at, Purchase.customer_domain, Purchase.seats, Product.name, Purchase.amount)
    .join(Product, Product.id == Purchase.product_id)
    .where(Purchase.partner_id == _PARTNER)
    .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
    .limit(ACTIVITY_SHOWN)
)
_LATEST_REFUNDS = (
    select(Refund.refunded_at, Purchase.customer_domain, Purchase.order_id, Refund.amount)
    .join(Purchase, Purchase.id == Refund.purchase_id)
    .where(Refund.partner_id == _PARTNER)
    .order_by(Refund.refunded_at.desc(), Refund.id.desc())
    .limit(ACTIVITY_SHOWN)
)
_REGISTRATIONS_ENDING = (
    select(DomainRegistration.domain, DomainRegistration.expires_at)
    .where(
        DomainRegistration.partner_id == _PARTNER,
        DomainRegistration.status == RegistrationStatus.ACTIVE,
        DomainRegistration.converted_at.is_(None),
        DomainRegistration.expires_at >= bindparam("ending_from"),
        DomainRegistration.expires_at < bindparam("ending_before"),
    )
    .order_by(DomainRegistration.expires_at)
    .limit(ACTIVITY_SHOWN)
)
_STATEMENT_NOTICES = (
    select(Notice.kind, Notice.facts, Notice.created_at)
    .where(
        Notice.user_id == bindparam("user_id"),
        Notice.partner_id == _PARTNER,
        Notice.kind == NoticeKind.STATEMENT_READY,
    )
    .order_by(Notice.created_at.desc(), Notice.id.desc())
    .limit(ACTIVITY_SHOWN)
)


def latest_activity(
    partner_id: int,
    today: date,
    *,
    money: bool,
    codes: bool,
    user_id: int | None = None,
    levels: list[PartnerLevel] | None = None,
) -> list[Activity]:
    """Purchases, refunds, registrations ending within 14 days, level changes and the statements the
    user was told are ready, newest first, capped.

    One statement per kind (at most five), each capped, so the list costs the same for any partner;
    rows of the few columns shown, no objects. Purchases, refunds and statements are money: only for
    the roles that see it; registrations only for those that see codes. ``levels`` are the latest
    level records when the caller has them already (``levels_around``).
    """
    items: list[Activity] = []
    if money:
        purchases = db.session.execute(_LATEST_PURCHASES, {"partner_id": partner_id})
        for purchased_at, domain, seats, product, amount in purchases:
            text = f"Purchase by {display_domain(domain)}: {seats} × {product}"
            items.append(Activity("purchase", purchased_at.date(), text, amount, "dashboard.earnings"))
        refunds = db.session.execute(_LATEST_REFUNDS, {"partner_id": partner_id})
        for refunded_at, domain, order_id, amount in refunds:
            text = f"Refund to {display_domain(domain)} (order {order_id})"
            items.append(Activity("refund", refunded_at.date(), text, -amount, "dashboard.earnings"))
    if codes:
        now = start_of_day(today)
        ending = db.session.execute(
            _REGISTRATIONS_ENDING,
            {"partner_id": partner_id, "ending_from": now, "ending_before": now + ENDING_WITHIN + timedelta(days=1)},
        )
        for domain, expires_at in ending:
            ends = expires_at.date()
            text = f"Registration of {display_domain(domain)} ends on {format_date(ends)} unless a purchase converts it"
            # Dated by when it ends: the nearest ending comes first among the upcoming.
            items.append(Activity("registration_ending", ends, text, None, "dashboard.referrals"))
    if levels is None:
        levels = levels_around(partner_id, today).latest
    for record in levels:
        verb = "You become" if record.effective_from > today else "You became"
        items.append(
            Activity("level", record.effective_from, f"{verb} {level_name(record.level)}", None, "public.program")
        )
    if money and user_id is not None:
        ready = db.session.execute(_STATEMENT_NOTICES, {"partner_id": partner_id, "user_id": user_id})
        for kind, facts, created_at in ready:
            items.append(Activity("notice", created_at.date(), notice_summary(kind, facts), None, "dashboard.earnings"))
    items.sort(key=lambda item: item.on, reverse=True)
    return items[:ACTIVITY_SHOWN]
