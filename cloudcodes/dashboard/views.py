from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.extensions import db
from cloudcodes.partners.access import Area, areas_of
from cloudcodes.partners.models import PartnerLevel
from cloudcodes.partners.services import level_record_on, membership_of
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import RESELLER
from cloudcodes.qualification.services import progress
from cloudcodes.web import viewed_membership

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


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
    level = level_record_on(membership.partner_id, today) if membership else None
    upcoming = None
    facts = None
    waiting: list[str] = []
    unmet: list[str] = []
    # What the member's role may open: the links shown, and whether money figures are.
    areas = areas_of(membership.role) if membership else frozenset()
    if membership:
        # The next level record already written (an upgrade from the first of next month, or the
        # annual run's change from 1 January): the notice the partner was e-mailed, shown here too.
        upcoming = db.session.scalar(
            select(PartnerLevel)
            .where(PartnerLevel.partner_id == membership.partner_id, PartnerLevel.effective_from > today)
            .order_by(PartnerLevel.effective_from)
            .limit(1)
        )
        # The progress to Premier is about revenue (its figures and what is still missing): money, so
        # only for the roles that see money.
        if Area.MONEY in areas and level is not None and level.level == RESELLER and membership.partner.is_active:
            facts, waiting, unmet = progress(membership.partner, today)
    return render_template(
        "dashboard/index.html",
        terms=program_terms(),
        membership=membership,
        level=level,
        upcoming=upcoming,
        facts=facts,
        waiting=waiting,
        unmet=unmet,
        today=today,
        areas=areas,
        Area=Area,
    )


from cloudcodes.dashboard import company, earnings, referrals, team  # noqa: E402, F401 - the partner's pages register on the blueprint
