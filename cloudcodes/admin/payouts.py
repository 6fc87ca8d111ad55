"""Admins close a month into payout statements and mark each statement paid (``/admin/payouts``).

Thin views: the form, then ``cloudcodes.billing.payouts`` (which owns the transaction and the
rules), then a flash and a 303. Channel managers have no access (``admin_only``): payouts are money.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from cloudcodes import clock
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.auth.models import User
from cloudcodes.billing.models import LedgerEntry, PayoutStatement
from cloudcodes.billing.payout_forms import ALL, PAID, UNPAID, CloseMonthForm, MarkPaidForm, StatementFilterForm
from cloudcodes.billing.payouts import (
    PayoutError,
    close_month,
    ended_months,
    mark_paid,
    month_label,
    statement_lines,
)
from cloudcodes.billing.services import balance
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms

PER_PAGE = 25


def _user() -> User:
    return cast(User, current_user._get_current_object())  # type: ignore[attr-defined]


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
        note = f" (closed: {count} statement{'s' if count != 1 else ''})" if count else ""
        choices.append(SelectChoice(month.isoformat(), month_label(month) + note))
    return choices


def _render_list(close_form: CloseMonthForm | None = None, status: int = 200) -> ResponseReturnValue:
    filter_form = StatementFilterForm(formdata=request.args)
    if not filter_form.validate():
        filter_form.status.data = UNPAID
    shown = filter_form.status.data or UNPAID
    query = (
        select(PayoutStatement)
        .join(Partner, PayoutStatement.partner_id == Partner.id)
        .options(joinedload(PayoutStatement.partner))
        .order_by(PayoutStatement.period_start.desc(), Partner.name, PayoutStatement.id)
    )
    if shown == UNPAID:
        query = query.where(PayoutStatement.paid_at.is_(None))
    elif shown == PAID:
        query = query.where(PayoutStatement.paid_at.is_not(None))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
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
        page=page,
        filter_form=filter_form,
        shown=shown,
        filtered=shown != UNPAID,
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


@blueprint.post("/payouts/close")
@admin_only
def payouts_close() -> ResponseReturnValue:
    form = CloseMonthForm()
    form.month.choices = _month_choices()
    if not form.validate_on_submit():
        return _render_list(form, 400)
    period = date.fromisoformat(form.month.data)
    try:
        statements = close_month(period, by=_user())
    except PayoutError as error:
        if error.field == "month":
            form.month.errors = [*form.month.errors, str(error)]
        else:
            form.form_errors.append(str(error))
        return _render_list(form, 400)
    label = month_label(period)
    if statements:
        total = Money(sum(s.total.minor for s in statements), statements[0].total.currency)
        flash(
            f"{label} is closed: {len(statements)} statement{'s' if len(statements) != 1 else ''} "
            f"for {total.format()} in all. Mark each one paid once the money is sent.",
            "success",
        )
    else:
        flash(
            f"{label} is closed with nothing new to pay: no partner has commissions payable by its end that are "
            "not on a statement yet (amounts that net to zero or less carry over to a later month).",
            "info",
        )
    return redirect(url_for("admin.payouts"), 303)


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
    if not form.validate_on_submit():
        return _render_detail(statement, form, 400)
    try:
        mark_paid(statement, reference=form.reference.data, by=_user())
    except PayoutError as error:
        if error.field == "reference":
            form.reference.errors = [*form.reference.errors, str(error)]
            return _render_detail(_statement_or_404(statement_id), form, 400)
        flash(str(error), "warning")
        return redirect(url_for("admin.payout_detail", statement_id=statement_id), 303)
    partner = statement.partner
    flash(
        f"The statement of {partner.name} for {month_label(statement.period_start)} is marked as paid "
        f"(reference {statement.payment_reference}). {partner.name}'s balance is now "
        f"{balance(partner.id).format()}.",
        "success",
    )
    return redirect(url_for("admin.payout_detail", statement_id=statement_id), 303)
