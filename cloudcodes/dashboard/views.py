from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from cloudcodes import clock
from cloudcodes.dashboard import figures
from cloudcodes.formatting import date as format_date
from cloudcodes.partners.access import Area, areas_of
from cloudcodes.partners.levels import ChecklistItem, upgrade_effective_date
from cloudcodes.partners.services import membership_of
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import RESELLER
from cloudcodes.qualification.services import checklist
from cloudcodes.web import viewed_membership

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def chart_data(series: list[figures.MonthFigures]) -> dict[str, object]:
    """The chart's data block: month labels and decimal amounts (the table shows the same figures, formatted)."""
    return {
        "labels": [format_date(item.month, "MMM y") for item in series],
        "currency": series[0].earnings.currency if series else None,
        "earnings": [str(item.earnings.to_decimal()) for item in series],
        "revenue": [str(item.revenue.to_decimal()) for item in series],
    }


@blueprint.get("/")
@login_required
def index() -> ResponseReturnValue:
    if current_user.is_staff:
        # Staff see a partner's dashboard only while viewing it from the console (read-only, as an owner).
        membership = viewed_membership()
        if membership is None:
            return redirect(url_for("admin.index"))
    else:
        membership = membership_of(current_user)
    today = clock.today()
    levels = figures.levels_around(membership.partner_id, today) if membership else None
    level = levels.current if levels else None
    upcoming = levels.upcoming if levels else None
    facts = None
    items: list[ChecklistItem] = []
    money = None
    # What the member's role may open: the links shown, and whether money figures are.
    areas = areas_of(membership.role) if membership else frozenset()
    activity: list[figures.Activity] = []
    if membership:
        partner_id = membership.partner_id
        # ``upcoming``, the next level record already written (an upgrade from the first of next month, or
        # the annual run's change from 1 January), is the notice the partner was e-mailed, shown here too.
        sees_money = Area.MONEY in areas
        if sees_money:
            months = figures.partner_months(partner_id)
            series = figures.monthly_series(partner_id, today, months)
            sums = figures.ledger_figures(partner_id, today, months)
            money = {
                "balance": sums,
                "earnings": {"this_month": sums.earned_this_month, "this_year": sums.earned_this_year},
                "next": {
                    "hold_days": program_terms().commission_hold_days,
                    "month": sums.statement_month,
                    "closes_after": sums.statement_closes_after,
                    "amount": sums.next_statement,
                    "later": sums.in_hold,
                    "next_release": sums.hold_ends_on,
                    "awaiting_payment": sums.awaiting_payment,
                },
                "series": series,
                "chart": chart_data(series),
            }
        activity = figures.latest_activity(
            partner_id,
            today,
            money=sees_money,
            codes=Area.CODES in areas,
            user_id=None if current_user.is_staff else current_user.id,
            levels=levels.latest,
        )
        # The progress to Premier is about revenue (its figures and what is still missing): money, so
        # only for the roles that see money.
        if sees_money and level is not None and level.level == RESELLER and membership.partner.is_active:
            facts, items = checklist(membership.partner, today)
    return render_template(
        "dashboard/index.html",
        terms=program_terms(),
        membership=membership,
        level=level,
        upcoming=upcoming,
        facts=facts,
        checklist=items,
        upgrade_from=upgrade_effective_date(today),
        money=money,
        activity=activity,
        today=today,
        areas=areas,
        Area=Area,
    )


from cloudcodes.dashboard import company, earnings, performance, referrals, team  # noqa: E402, F401 - the partner's pages register on the blueprint
