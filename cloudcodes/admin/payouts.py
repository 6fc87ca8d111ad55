"""Admins close a month into payout statements and mark each statement paid (``/admin/payouts``).

Thin views: the form, then ``cloudcodes.billing.payouts`` (which owns the transaction and the
rules), then a flash and a 303. Channel managers have no access (``admin_only``): payouts are money.
"""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from cloudcodes import clock, formatting
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.payouts import ALL, PAID, UNPAID, CloseMonthForm, MarkPaidForm, StatementFilterForm
from cloudcodes.admin.lists import Column, ListSpec, csv_export, listing
from cloudcodes.auth.models import User
from cloudcodes.billing.models import LedgerEntry, PayoutStatement
from cloudcodes.billing.payouts import (
    close_month,
    ended_months,
    mark_paid,
    month_label,
    statement_lines,
)
from cloudcodes.billing.services import balance
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.company import missing_payout_items
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.search import fold
from cloudcodes.web import Done, current_staff, submit

PER_PAGE = 25


def _month_choices() -> list[SelectChoice]:
    """The last twelve months that have ended, each saying how many statements it has already."""
    months = ended_months(clock.today())
    closed = dict(
        db.session.execute(
            select(PayoutStatement.period_start, func.count(PayoutStatement.id))
            .where(PayoutStatement.period_start >= months[-1])
            .group_by(PayoutStatement.period_start)
        ).all()
    )
    choices = [SelectChoice("", "Choose a month")]
    for month in months:
        count = closed.get(month, 0)
        note = f" (closed: {formatting.plural(count, 'statement')})" if count else ""
        choices.append(SelectChoice(month.isoformat(), month_label(month) + note))
    return choices


def _paid_text(statement: PayoutStatement) -> str:
    if statement.paid_at is None:
        return "Unpaid"
    return f"Paid {formatting.date(statement.paid_at)}, {statement.payment_reference}"


def _statements_spec() -> ListSpec:
    conditions = {
        UNPAID: PayoutStatement.paid_at.is_(None),
        PAID: PayoutStatement.paid_at.is_not(None),
    }
    return ListSpec(
        endpoint="admin.payouts",
        csv_endpoint="admin.payouts_csv",
        noun="statement",
        form=StatementFilterForm,
        query=lambda: (
            select(PayoutStatement)
            .join(Partner, PayoutStatement.partner_id == Partner.id)
            .options(joinedload(PayoutStatement.partner))
        ),
        columns=[
            Column("partner", "Partner", lambda s: s.partner.name, Partner.name),
            Column(
                "month",
                "Month",
                lambda s: month_label(s.period_start),
                PayoutStatement.period_start,
                then=(Partner.name,),
            ),
            Column("total", "Total", lambda s: s.total, PayoutStatement.total_minor, numeric=True),
            Column("paid", "Paid", _paid_text, PayoutStatement.paid_at),
        ],
        filters={"status": lambda status: conditions.get(status or UNPAID)},
        search=lambda text: Partner.search_text.contains(fold(text), autoescape=True),
        tiebreak=[PayoutStatement.id],
        default_sort=lambda values: ("month", True),
        per_page=PER_PAGE,
        filename="payouts",
        submit_label="Show statements",
    )


def _render_list(close_form: CloseMonthForm | None = None, status: int = 200) -> ResponseReturnValue:
    listed = listing(_statements_spec())
    shown = listed.state.values.get("status") or UNPAID
    unpaid_count, unpaid_minor = db.session.execute(
        select(func.count(PayoutStatement.id), func.coalesce(func.sum(PayoutStatement.total_minor), 0)).where(
            PayoutStatement.paid_at.is_(None)
        )
    ).one()
    if close_form is None:
        close_form = CloseMonthForm(formdata=None)
    close_form.month.choices = _month_choices()
    return render_template(
        "admin/payouts/list.html",
        listing=listed,
        shown=shown,
        all_value=ALL,
        unpaid_count=unpaid_count,
        unpaid_total=Money(int(unpaid_minor), program_terms().currency),
        close_form=close_form,
        month_label=month_label,
    ), status


@blueprint.get("/payouts")
@admin_only
def payouts() -> ResponseReturnValue:
    return _render_list()


@blueprint.get("/payouts.csv")
@admin_only
def payouts_csv() -> ResponseReturnValue:
    return csv_export(_statements_spec())


@blueprint.post("/payouts/close")
@admin_only
def payouts_close() -> ResponseReturnValue:
    form = CloseMonthForm()
    form.month.choices = _month_choices()
    if not form.validate_on_submit():
        return _render_list(form, 400)

    def perform() -> Done:
        period = date.fromisoformat(form.month.data)
        statements = close_month(period, by=current_staff())
        label = month_label(period)
        if not statements:
            return Done(
                f"{label} is closed with nothing new to pay: no partner has commissions payable by its end that "
                "are not on a statement yet (amounts that net to zero or less carry over to a later month).",
                category="info",
            )
        total = Money(sum(s.total.minor for s in statements), statements[0].total.currency)
        return Done(
            f"{label} is closed: {formatting.plural(len(statements), 'statement')} "
            f"for {formatting.money(total)} in all. Mark each one paid once the money is sent."
        )

    return submit(form, perform, back=url_for("admin.payouts"), show=lambda status: _render_list(form, status))


def _statement_or_404(statement_id: int) -> PayoutStatement:
    statement = db.session.scalar(
        select(PayoutStatement)
        .where(PayoutStatement.id == statement_id)
        .options(
            joinedload(PayoutStatement.partner),
            selectinload(PayoutStatement.entries).joinedload(LedgerEntry.purchase),
        )
    )
    if statement is None:
        abort(404)
    return statement


def _render_detail(
    statement: PayoutStatement, form: MarkPaidForm | None = None, status: int = 200
) -> ResponseReturnValue:
    people = {
        user.id: user
        for user in db.session.scalars(
            select(User).where(User.id.in_([i for i in (statement.created_by_id, statement.paid_by_id) if i]))
        )
    }
    return render_template(
        "admin/payouts/detail.html",
        statement=statement,
        lines=statement_lines(statement),
        created_by=people.get(statement.created_by_id),
        paid_by=people.get(statement.paid_by_id),
        month=month_label(statement.period_start),
        form=form or MarkPaidForm(formdata=None),
        # What the payee's details still lack: while anything does, the statement cannot be marked paid.
        payout_missing=[] if statement.paid_at else missing_payout_items(statement.partner_id),
    ), status


@blueprint.get("/payouts/<int:statement_id>")
@admin_only
def payout_detail(statement_id: int) -> ResponseReturnValue:
    return _render_detail(_statement_or_404(statement_id))


@blueprint.post("/payouts/<int:statement_id>/paid")
@admin_only
def payout_mark_paid(statement_id: int) -> ResponseReturnValue:
    statement = _statement_or_404(statement_id)
    form = MarkPaidForm()

    def perform() -> str:
        mark_paid(statement, reference=form.reference.data, by=current_staff())
        partner = statement.partner
        return (
            f"The statement of {partner.name} for {month_label(statement.period_start)} is marked as paid "
            f"(reference {statement.payment_reference}). {partner.name}'s balance is now "
            f"{formatting.money(balance(partner.id))}."
        )

    return submit(
        form,
        perform,
        back=url_for("admin.payout_detail", statement_id=statement_id),
        show=lambda status: _render_detail(_statement_or_404(statement_id), form, status),
        refusal="field",
    )
