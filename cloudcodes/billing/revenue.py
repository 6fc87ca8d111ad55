"""Attributed revenue, as the level rules count it: purchases less their refunds, summed in the database.

Whole months come from the partners' monthly totals (``cloudcodes.billing.totals``); the days of a
month the period covers only in part are summed from the purchases themselves, so a period costs
at most a month's rows however long a partner's history is.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select

from cloudcodes.billing.models import PartnerMonthTotals, Purchase, Refund
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def split_by_month(start: date, end: date) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months from ``start`` to ``end`` inclusive (their first days), and the partial months' days."""
    whole: list[date] = []
    partial: list[tuple[date, date]] = []
    if start > end:
        return None, partial
    month = start.replace(day=1)
    while month <= end:
        first, last = max(start, month), min(end, _month_end(month))
        if first == month and last == _month_end(month):
            whole.append(month)
        else:
            partial.append((first, last))
        month = _month_end(month) + timedelta(days=1)
    return ((whole[0], whole[-1]) if whole else None), partial


def net_revenue_by_partner(start: date, end: date, partner_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Net attributed revenue (minor units) of purchases made from ``start`` to ``end`` inclusive, less
    their refunds: at most two grouped queries (the whole months, then the partial months' days)."""
    ids = None if partner_ids is None else list(partner_ids)
    whole, partial = split_by_month(start, end)
    totals: dict[int, int] = {}
    if whole is not None:
        query = (
            select(
                PartnerMonthTotals.partner_id,
                func.sum(PartnerMonthTotals.revenue_minor - PartnerMonthTotals.refunded_minor),
            )
            .where(PartnerMonthTotals.month >= whole[0], PartnerMonthTotals.month <= whole[1])
            .group_by(PartnerMonthTotals.partner_id)
        )
        if ids is not None:
            query = query.where(PartnerMonthTotals.partner_id.in_(ids))
        totals.update({partner_id: int(total or 0) for partner_id, total in db.session.execute(query)})
    if partial:
        counted = [
            Purchase.partner_id.is_not(None),
            or_(
                *(
                    and_(
                        Purchase.purchased_at >= start_of_day(first),
                        Purchase.purchased_at < start_of_day(last + timedelta(days=1)),
                    )
                    for first, last in partial
                )
            ),
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
        query = (
            select(Purchase.partner_id, func.sum(Purchase.amount_minor - func.coalesce(refunded.c.refunded, 0)))
            .outerjoin(refunded, refunded.c.purchase_id == Purchase.id)
            .where(*counted)
            .group_by(Purchase.partner_id)
        )
        for partner_id, total in db.session.execute(query):
            totals[partner_id] = totals.get(partner_id, 0) + int(total or 0)
    return totals
