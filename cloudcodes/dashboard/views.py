from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from cloudcodes.program.services import program_terms

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blueprint.get("/")
@login_required
def index() -> ResponseReturnValue:
    if current_user.is_staff:
        return redirect(url_for("admin.index"))
    return render_template("dashboard/index.html", terms=program_terms())
