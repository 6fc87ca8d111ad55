"""Attributed revenue, as the level rules count it: purchases less their refunds, summed in the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import func, select

from cloudcodes.billing.models import Purchase, Refund
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db


def net_revenue_by_partner(start: date, end: date, partner_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Net attributed revenue (minor units) of purchases made from ``start`` to ``end`` inclusive, less
    their refunds: one grouped query."""
    counted = [
        Purchase.partner_id.is_not(None),
        Purchase.purchased_at >= start_of_day(start),
        Purchase.purchased_at < start_of_day(end + timedelta(days=1)),
    ]
    if partner_ids is not None:
        counted.append(Purchase.partner_id.in_(list(partner_ids)))
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
    return {partner_id: int(total or 0) for partner_id, total in db.session.execute(query)}
