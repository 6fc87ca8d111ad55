"""The partner's performance: ``/dashboard/performance``, its purchases summed per code and per domain.

One table at a time (``?view=codes`` or ``?view=domains``), sortable by each column and paged. The
sums are made by the database (a GROUP BY over the partner's purchases, with each purchase's
refunds summed first), so the page sends one statement for the rows and one for their count,
whatever the number of purchases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select

from cloudcodes.billing.models import Purchase
from cloudcodes.dashboard.figures import RowPagination, refunds_per_purchase
from cloudcodes.dashboard.views import blueprint
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.access import Area
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.domains import display_domain
from cloudcodes.referrals.models import ReferralCode
from cloudcodes.web import partner_required

ROWS_PER_PAGE = 25
VIEWS = ("codes", "domains")
# The sort keys a link may ask for (anything else falls back to the default); the first word of
# each table's key is its own column: the code or the domain.
SORT_KEYS = ("key", "purchases", "revenue", "commission", "refunds", "last")
DEFAULT_SORT = ("revenue", "desc")


@dataclass(frozen=True)
class PerformanceRow:
    """One line of a table: a code (None for purchases attributed without one) or a domain, and its sums."""

    key: str | None
    purchases: int
    revenue: Money  # what was paid, less what was refunded
    commission: Money  # commission or discount, less what refunds reversed
    refunds: Money
    last_purchase: datetime | None


def _sort_of(args: Any) -> tuple[str, str]:
    key = args.get("sort", DEFAULT_SORT[0])
    direction = args.get("dir", "")
    if key not in SORT_KEYS:
        return DEFAULT_SORT
    if direction not in ("asc", "desc"):
        # A column's natural order: names A to Z, figures and dates largest or latest first.
        direction = "asc" if key == "key" else "desc"
    return key, direction


def _grouped(partner: Partner, view: str, sort: str, direction: str) -> Select[Any]:
    refunds = refunds_per_purchase(partner.id)
    refunded = func.coalesce(refunds.c.refunded, 0)
    if view == "codes":
        key = ReferralCode.code
        group = (Purchase.referral_code_id, ReferralCode.code)
    else:
        key = Purchase.customer_domain
        group = (Purchase.customer_domain,)
    columns = {
        "key": key.label("key"),
        "purchases": func.count(Purchase.id).label("purchases"),
        "revenue": func.sum(Purchase.amount_minor - refunded).label("revenue"),
        "commission": func.sum(
            func.coalesce(Purchase.commission_minor, 0) - func.coalesce(refunds.c.reversed, 0)
        ).label("commission"),
        "refunds": func.sum(refunded).label("refunds"),
        "last": func.max(Purchase.purchased_at).label("last"),
    }
    statement = (
        select(*columns.values())
        .select_from(Purchase)
        .outerjoin(refunds, refunds.c.purchase_id == Purchase.id)
        .where(Purchase.partner_id == partner.id)
        .group_by(*group)
    )
    if view == "codes":
        statement = statement.outerjoin(ReferralCode, ReferralCode.id == Purchase.referral_code_id)
    order = columns[sort].asc() if direction == "asc" else columns[sort].desc()
    # The key breaks ties, so a page always holds the same rows; purchases without a code come last.
    tie = key.asc().nulls_last()
    return statement.order_by(order.nulls_last(), tie)


@blueprint.get("/performance")
@partner_required("dashboard/performance.html", area=Area.MONEY)
def performance(partner: Partner) -> ResponseReturnValue:
    view = request.args.get("view", VIEWS[0])
    if view not in VIEWS:
        view = VIEWS[0]
    sort, direction = _sort_of(request.args)
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    page = RowPagination(
        select=_grouped(partner, view, sort, direction),
        session=db.session,
        page=page_number,
        per_page=ROWS_PER_PAGE,
        error_out=False,
    )
    currency = program_terms().currency
    rows = [
        PerformanceRow(
            key=(display_domain(row.key) if view == "domains" else row.key),
            purchases=int(row.purchases),
            revenue=Money(int(row.revenue or 0), currency),
            commission=Money(int(row.commission or 0), currency),
            refunds=Money(int(row.refunds or 0), currency),
            last_purchase=row.last,
        )
        for row in page.items
    ]
    return render_template(
        "dashboard/performance.html",
        partner=partner,
        view=view,
        sort=sort,
        direction=direction,
        page=page,
        rows=rows,
    )
