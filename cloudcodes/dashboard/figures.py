"""The figures the partner's dashboard pages share: ledger sums, the 12-month series, the latest activity.

Every figure is an aggregate computed by the database, and each function sends a fixed number of
statements however many purchases or entries a partner has. Month buckets are computed here as
date boundaries and summed with ``case`` so the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from cloudcodes.billing.models import LedgerEntry, LedgerKind, PayoutStatement, Purchase, Refund
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
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import DomainRegistration, RegistrationStatus

CHART_MONTHS = 12
ACTIVITY_SHOWN = 8
ENDING_WITHIN = timedelta(days=14)

# What "earnings" counts: commissions and discounts accrued, less reversals, with adjustments;
# payouts only move money already earned.
EARNING_KINDS = (LedgerKind.ACCRUAL, LedgerKind.REVERSAL, LedgerKind.ADJUSTMENT)


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


def ledger_figures(partner_id: int, today: date) -> LedgerFigures:
    """All the overview's and the earnings page's ledger sums, in one statement."""
    payable = LedgerEntry.payable.is_(True)
    earning = LedgerEntry.kind.in_(EARNING_KINDS)
    statement_month = today.replace(day=1)
    closes = month_end(statement_month)
    unpaid = select(func.coalesce(func.sum(PayoutStatement.total_minor), 0)).where(
        PayoutStatement.partner_id == partner_id, PayoutStatement.paid_at.is_(None)
    )
    row = db.session.execute(
        select(
            _sum(and_(payable, LedgerEntry.payable_on <= today)),
            _sum(and_(payable, LedgerEntry.payable_on > today)),
            _sum(LedgerEntry.kind == LedgerKind.PAYOUT, -1),
            _sum(LedgerEntry.payable.is_(False)),
            _sum(and_(earning, LedgerEntry.effective_on >= statement_month, LedgerEntry.effective_on <= today)),
            _sum(and_(earning, LedgerEntry.effective_on >= date(today.year, 1, 1), LedgerEntry.effective_on <= today)),
            _sum(and_(payable, LedgerEntry.statement_id.is_(None), LedgerEntry.payable_on <= closes)),
            func.min(case((and_(payable, LedgerEntry.payable_on > today), LedgerEntry.payable_on), else_=None)),
            unpaid.scalar_subquery(),
        ).where(LedgerEntry.partner_id == partner_id)
    ).one()
    currency = program_terms().currency
    sums = [Money(int(value), currency) for value in row[:7]]
    return LedgerFigures(*sums[:6], statement_month, sums[6], row[7], Money(int(row[8]), currency))


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


def refunds_per_purchase() -> Any:
    """Each refunded purchase's refunds summed (``refunded``, ``reversed``): a subquery to outer-join, so that
    joining refunds never repeats a purchase's amount."""
    return (
        select(
            Refund.purchase_id.label("purchase_id"),
            func.sum(Refund.amount_minor).label("refunded"),
            func.sum(func.coalesce(Refund.commission_reversal_minor, 0)).label("reversed"),
        )
        .group_by(Refund.purchase_id)
        .subquery()
    )


def _within(start: date, end: date) -> Any:
    return and_(Purchase.purchased_at >= start_of_day(start), Purchase.purchased_at < start_of_day(end))


def monthly_series(partner_id: int, today: date) -> list[MonthFigures]:
    """Earnings (by ``effective_on``) and referred revenue (by purchase month) of the last 12 months: two statements."""
    months = chart_months(today)
    bounds = [*months, month_end(months[-1]) + timedelta(days=1)]
    spans = list(pairwise(bounds))

    earnings = db.session.execute(
        select(
            *(_sum(and_(LedgerEntry.effective_on >= start, LedgerEntry.effective_on < end)) for start, end in spans)
        ).where(
            LedgerEntry.partner_id == partner_id,
            LedgerEntry.kind.in_(EARNING_KINDS),
            LedgerEntry.effective_on >= bounds[0],
        )
    ).one()

    refunded = (
        select(Refund.purchase_id, func.sum(Refund.amount_minor).label("minor")).group_by(Refund.purchase_id).subquery()
    )
    net = Purchase.amount_minor - func.coalesce(refunded.c.minor, 0)
    revenue = db.session.execute(
        select(
            *(
                func.coalesce(
                    func.sum(case((_within(s, e), net), else_=0)),
                    0,
                )
                for s, e in spans
            )
        )
        .select_from(Purchase)
        .outerjoin(refunded, refunded.c.purchase_id == Purchase.id)
        .where(Purchase.partner_id == partner_id, Purchase.purchased_at >= start_of_day(bounds[0]))
    ).one()
    currency = program_terms().currency
    return [
        MonthFigures(month, Money(int(earned), currency), Money(int(bought), currency))
        for month, earned, bought in zip(months, earnings, revenue, strict=True)
    ]


# --- The latest activity ------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    kind: str  # "purchase", "refund", "registration_ending", "level", "notice"
    on: date
    text: str
    amount: Money | None
    endpoint: str  # where it is detailed


def latest_activity(
    partner_id: int, today: date, *, money: bool, codes: bool, user_id: int | None = None
) -> list[Activity]:
    """Purchases, refunds, registrations ending within 14 days, level changes and the statements the
    user was told are ready, newest first, capped.

    One statement per kind (at most five), each capped, so the list costs the same for any partner.
    Purchases, refunds and statements are money: only for the roles that see it; registrations only
    for those that see codes.
    """
    items: list[Activity] = []
    if money:
        purchases = db.session.scalars(
            select(Purchase)
            .where(Purchase.partner_id == partner_id)
            .options(joinedload(Purchase.product))
            .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
            .limit(ACTIVITY_SHOWN)
        ).all()
        for purchase in purchases:
            text = f"Purchase by {display_domain(purchase.customer_domain)}: {purchase.seats} × {purchase.product.name}"
            items.append(
                Activity("purchase", purchase.purchased_at.date(), text, purchase.amount, "dashboard.earnings")
            )
        refunds = db.session.scalars(
            select(Refund)
            .join(Refund.purchase)
            .where(Purchase.partner_id == partner_id)
            .options(joinedload(Refund.purchase))
            .order_by(Refund.refunded_at.desc(), Refund.id.desc())
            .limit(ACTIVITY_SHOWN)
        ).all()
        for refund in refunds:
            text = f"Refund to {display_domain(refund.purchase.customer_domain)} (order {refund.purchase.order_id})"
            items.append(Activity("refund", refund.refunded_at.date(), text, -refund.amount, "dashboard.earnings"))
    if codes:
        now = start_of_day(today)
        ending = db.session.scalars(
            select(DomainRegistration)
            .where(
                DomainRegistration.partner_id == partner_id,
                DomainRegistration.status == RegistrationStatus.ACTIVE,
                DomainRegistration.converted_at.is_(None),
                DomainRegistration.expires_at >= now,
                DomainRegistration.expires_at < now + ENDING_WITHIN + timedelta(days=1),
            )
            .order_by(DomainRegistration.expires_at)
            .limit(ACTIVITY_SHOWN)
        ).all()
        for registration in ending:
            ends = registration.expires_at.date()
            text = f"Registration of {registration.display} ends on {format_date(ends)} unless a purchase converts it"
            # Dated by when it ends: the nearest ending comes first among the upcoming.
            items.append(Activity("registration_ending", ends, text, None, "dashboard.referrals"))
    levels = db.session.scalars(
        select(PartnerLevel)
        .where(PartnerLevel.partner_id == partner_id)
        .order_by(PartnerLevel.effective_from.desc(), PartnerLevel.id.desc())
        .limit(ACTIVITY_SHOWN)
    ).all()
    for record in levels:
        verb = "You become" if record.effective_from > today else "You became"
        items.append(
            Activity("level", record.effective_from, f"{verb} {level_name(record.level)}", None, "public.program")
        )
    if money and user_id is not None:
        ready = db.session.scalars(
            select(Notice)
            .where(
                Notice.user_id == user_id,
                Notice.partner_id == partner_id,
                Notice.kind == NoticeKind.STATEMENT_READY,
            )
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(ACTIVITY_SHOWN)
        ).all()
        for notice in ready:
            text = notice_summary(notice.kind, notice.facts)
            items.append(Activity("notice", notice.created_at.date(), text, None, "dashboard.earnings"))
    items.sort(key=lambda item: item.on, reverse=True)
    return items[:ACTIVITY_SHOWN]
