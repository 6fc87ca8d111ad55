from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.admin import blueprint
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.states import OPEN_STATES
from cloudcodes.auth.models import Role
from cloudcodes.billing.models import PayoutStatement, Purchase
from cloudcodes.extensions import db
from cloudcodes.mail.outbox import failed_count
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner, PartnerStatus
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.claims import waiting_claims


@dataclass(frozen=True)
class Overview:
    open_applications: int
    my_open_applications: int
    active_partners: int
    my_partners: int
    purchases_this_month: int
    revenue_this_month: Money
    unpaid_statements: int
    failed_mail: int | None  # for admins only, who see the failed mail


def overview() -> Overview:
    """The console's front page figures: a few aggregate queries, whatever the size of the program."""
    month_start = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    open_values = [state.value for state in OPEN_STATES]
    applications = db.session.execute(
        select(
            func.count(),
            func.count().filter(PartnerApplication.assigned_manager_id == current_user.id),
        ).where(PartnerApplication.state.in_(open_values))
    ).one()
    partners = db.session.execute(
        select(func.count(), func.count().filter(Partner.channel_manager_id == current_user.id)).where(
            Partner.status == PartnerStatus.ACTIVE
        )
    ).one()
    purchases = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Purchase.amount_minor), 0)).where(
            Purchase.purchased_at >= month_start, Purchase.partner_id.is_not(None)
        )
    ).one()
    unpaid = db.session.scalar(select(func.count()).where(PayoutStatement.paid_at.is_(None))) or 0
    return Overview(
        open_applications=applications[0],
        my_open_applications=applications[1],
        active_partners=partners[0],
        my_partners=partners[1],
        purchases_this_month=purchases[0],
        revenue_this_month=Money(int(purchases[1]), program_terms().currency),
        unpaid_statements=unpaid,
        failed_mail=failed_count() if current_user.role == Role.ADMIN else None,
    )


@blueprint.get("/")
def index() -> ResponseReturnValue:
    from cloudcodes.admin.claims import days_left_text

    return render_template(
        "admin/index.html",
        terms=program_terms(),
        figures=overview(),
        claims=waiting_claims(current_user, limit=10),
        days_left=days_left_text,
    )
