"""The partner's purchases and earnings: ``/dashboard/earnings`` and its CSV downloads.

Read-only pages over the billing records. Every record is looked up together with the partner's
id, so another partner's statement is simply not found (404). The page's queries do not depend on
how many purchases or entries there are: sums are computed by the database, lists are paged or
capped, and what each row shows is loaded with it.
"""

from __future__ import annotations

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from cloudcodes import clock
from cloudcodes.billing.models import Channel, LedgerEntry, PayoutStatement, Purchase
from cloudcodes.billing.payouts import ledger_csv, month_label, statement_csv
from cloudcodes.billing.services import refund_totals
from cloudcodes.dashboard.figures import ledger_totals
from cloudcodes.dashboard.views import blueprint
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.access import Area
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.domains import display_domain
from cloudcodes.web import partner_required

PURCHASES_PER_PAGE = 20
LEDGER_SHOWN = 50  # the latest entries on the page; the CSV has them all


def _csv_response(text: str, filename: str) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


class PurchaseRow:
    """What the purchases table shows of one purchase."""

    def __init__(self, purchase: Purchase) -> None:
        self.purchase = purchase
        self.domain = display_domain(purchase.customer_domain)
        self.direct = purchase.channel == Channel.DIRECT
        self.refunded, self.reversed = refund_totals(purchase)
        self.fully_refunded = self.refunded.minor >= purchase.amount.minor


def _totals(partner: Partner) -> dict[str, Money]:
    # Shared with the overview, so both pages show the same balance.
    return ledger_totals(partner.id, clock.today())


@blueprint.get("/earnings")
@partner_required("dashboard/earnings.html", area=Area.MONEY)
def earnings(partner: Partner) -> ResponseReturnValue:
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    purchases = db.paginate(
        select(Purchase)
        .where(Purchase.partner_id == partner.id)
        .options(joinedload(Purchase.product), selectinload(Purchase.refunds))
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc()),
        page=page_number,
        per_page=PURCHASES_PER_PAGE,
        error_out=False,
    )
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.partner_id == partner.id)
        .options(joinedload(LedgerEntry.purchase), joinedload(LedgerEntry.statement))
        .order_by(LedgerEntry.effective_on.desc(), LedgerEntry.id.desc())
        .limit(LEDGER_SHOWN)
    ).all()
    entry_count = db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.partner_id == partner.id))
    statements = db.session.scalars(
        select(PayoutStatement)
        .where(PayoutStatement.partner_id == partner.id)
        .order_by(PayoutStatement.period_start.desc(), PayoutStatement.id.desc())
    ).all()
    totals = _totals(partner)
    awaiting = Money(sum(s.total.minor for s in statements if s.paid_at is None), totals["payable_now"].currency)
    return render_template(
        "dashboard/earnings.html",
        partner=partner,
        totals=totals,
        awaiting=awaiting,
        purchases=purchases,
        purchase_rows=[PurchaseRow(purchase) for purchase in purchases.items],
        entries=entries,
        entry_count=entry_count or 0,
        ledger_shown=LEDGER_SHOWN,
        statements=statements,
        month_label=month_label,
        hold_days=program_terms().commission_hold_days,
    )


@blueprint.get("/earnings/ledger.csv")
@partner_required(area=Area.MONEY)
def earnings_ledger_csv(partner: Partner) -> ResponseReturnValue:
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.partner_id == partner.id)
        .options(joinedload(LedgerEntry.purchase), joinedload(LedgerEntry.statement))
        .order_by(LedgerEntry.effective_on, LedgerEntry.id)
    ).all()
    return _csv_response(ledger_csv(entries), f"cloudcodes-ledger-{clock.today().isoformat()}.csv")


@blueprint.get("/earnings/statements/<int:statement_id>.csv")
@partner_required(area=Area.MONEY)
def earnings_statement_csv(partner: Partner, statement_id: int) -> ResponseReturnValue:
    statement = db.session.scalar(
        select(PayoutStatement)
        .where(PayoutStatement.id == statement_id, PayoutStatement.partner_id == partner.id)
        .options(selectinload(PayoutStatement.entries).joinedload(LedgerEntry.purchase))
    )
    if statement is None:
        abort(404)
    return _csv_response(statement_csv(statement), f"cloudcodes-statement-{statement.period_start.isoformat()[:7]}.csv")
