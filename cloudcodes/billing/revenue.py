"""Attributed revenue, as the level rules count it: purchases less their refunds, summed in the database.

Whole months come from the partners' monthly totals (``cloudcodes.billing.totals``); the days of a
month the period covers only in part are summed from the purchases themselves, so a period costs
at most a month's rows however long a partner's history is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from cloudcodes import clock
from cloudcodes.billing.models import PartnerMonthTotals, Purchase, Refund
from cloudcodes.billing.periods import month_end
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db


def split_by_month(start: date, end: date) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months from ``start`` to ``end`` inclusive (their first days), and the partial months' days."""
    whole: list[date] = []
    partial: list[tuple[date, date]] = []
    if start > end:
        return None, partial
    month = start.replace(day=1)
    while month <= end:
        first, last = max(start, month), min(end, month_end(month))
        if first == month and last == month_end(month):
            whole.append(month)
        else:
            partial.append((first, last))
        month = month_end(month) + timedelta(days=1)
    return ((whole[0], whole[-1]) if whole else None), partial


def _within(first: date, last: date) -> Any:
    return and_(
        Purchase.purchased_at >= start_of_day(first), Purchase.purchased_at < start_of_day(last + timedelta(days=1))
    )


def net_revenue_by_partner(start: date, end: date, partner_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Net attributed revenue (minor units) of purchases made from ``start`` to ``end`` inclusive, less
    their refunds: at most two grouped queries.

    Whole months are read from the monthly totals. A month the period covers in part is either summed
    from its purchases in the period, or, when the period covers most of it (the year so far ends
    today, and nothing is bought after today), read as its total less the purchases of the days left
    out: whichever reads fewer days of purchases up to today.
    """
    ids = None if partner_ids is None else list(partner_ids)
    whole, partial = split_by_month(start, end)
    months: list[date] = []
    if whole is not None:
        month = whole[0]
        while month <= whole[1]:
            months.append(month)
            month = month_end(month) + timedelta(days=1)
    added: list[tuple[date, date]] = []  # days whose purchases count
    left_out: list[tuple[date, date]] = []  # days of a month read as a whole whose purchases do not
    today = clock.today()

    def days_read(first: date, last: date) -> int:  # days after today hold no purchases to read
        return max(0, (min(last, today) - first).days + 1)

    for first, last in partial:
        month_start, month_last = first.replace(day=1), month_end(first)
        outside = days_read(month_start, first - timedelta(days=1)) + days_read(last + timedelta(days=1), month_last)
        if days_read(first, last) <= outside:
            added.append((first, last))
            continue
        months.append(month_start)
        if first > month_start:
            left_out.append((month_start, first - timedelta(days=1)))
        if last < month_last:
            left_out.append((last + timedelta(days=1), month_last))
    totals: dict[int, int] = {}
    if months:
        query = (
            select(
                PartnerMonthTotals.partner_id,
                func.sum(PartnerMonthTotals.revenue_minor - PartnerMonthTotals.refunded_minor),
            )
            .where(PartnerMonthTotals.month.in_(months))
            .group_by(PartnerMonthTotals.partner_id)
        )
        if ids is not None:
            query = query.where(PartnerMonthTotals.partner_id.in_(ids))
        totals.update({partner_id: int(total or 0) for partner_id, total in db.session.execute(query)})
    if added or left_out:
        counted = [
            Purchase.partner_id.is_not(None),
            or_(*(_within(first, last) for first, last in added + left_out)),
        ]
        if ids is not None:
            counted.append(Purchase.partner_id.in_(ids))
        # The refunds of the purchases counted only: summing every refund first would cost the whole table.
        refunded = (
            select(Refund.purchase_id, func.sum(Refund.amount_minor).label("refunded"))
            .join(Purchase, Purchase.id == Refund.purchase_id)
            .where(*counted)
            .group_by(Refund.purchase_id)
            .subquery()
        )
        net = Purchase.amount_minor - func.coalesce(refunded.c.refunded, 0)
        sign = case((or_(*(_within(first, last) for first, last in left_out)), -1), else_=1) if left_out else 1
        query = (
            select(Purchase.partner_id, func.sum(sign * net))
            .outerjoin(refunded, refunded.c.purchase_id == Purchase.id)
            .where(*counted)
            .group_by(Purchase.partner_id)
        )
        for partner_id, total in db.session.execute(query):
            totals[partner_id] = totals.get(partner_id, 0) + int(total or 0)
    return totals
