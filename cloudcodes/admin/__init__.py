"""The staff console: one blueprint, guarded once for every page under /admin."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from cloudcodes.auth.models import Role
from cloudcodes.web import two_factor_verified

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.before_request
def require_staff_with_two_factor() -> ResponseReturnValue | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not current_user.is_staff:
        abort(404)  # the console does not exist for partner users
    if not current_user.two_factor_enabled or not two_factor_verified():
        flash("Set up two-factor authentication before you use the console.", "warning")
        return redirect(url_for("auth.two_factor_setup"))
    return None


def admin_only(view: Any) -> Any:
    """For the pages a channel manager may not use (settings, staff, payouts, audit log, failed mail)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


from cloudcodes.admin import (  # noqa: E402, F401 - the console's pages register on the blueprint
    applications,
    audit,
    claims,
    domains,
    home,
    jobs,
    mail,
    partner_lifecycle,
    partner_payout,
    partners,
    payouts,
    qualification,
    settings,
    staff,
)
