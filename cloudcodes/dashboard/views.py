from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from cloudcodes import clock
from cloudcodes.partners.services import level_record_on, membership_of
from cloudcodes.program.services import program_terms

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blueprint.get("/")
@login_required
def index() -> ResponseReturnValue:
    if current_user.is_staff:
        return redirect(url_for("admin.index"))
    membership = membership_of(current_user)
    level = level_record_on(membership.partner_id, clock.today()) if membership else None
    return render_template("dashboard/index.html", terms=program_terms(), membership=membership, level=level)


from cloudcodes.dashboard import referrals  # noqa: E402, F401 - the partner's domains and codes register on the blueprint
