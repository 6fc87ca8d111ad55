"""What the views share: who is asking, the dashboard's guard, and one way to run a form through a service.

A view is thin: it builds its form, hands the form's data to a service through ``submit``, and
answers. ``submit`` validates the form, runs the service, flashes its success message and answers
303 to where the user goes next; a ``ServiceError`` is shown on the field it names (the page again,
with the error's status) or, for a refusal that no field of the form can fix (someone else acted
first, the record changed under the user), as a warning on the page the user goes back to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal, cast

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from cloudcodes.partners.access import Area, may_open
from cloudcodes.partners.services import membership_of
from cloudcodes.services import ChangedMeanwhile, ServiceError

if TYPE_CHECKING:
    from cloudcodes.auth.models import User
    from cloudcodes.partners.models import Partner

# The session key set once the second factor was checked at this login: the console requires it.
TWO_FACTOR_VERIFIED = "two_factor_verified"


def signed_in_user() -> User:
    """The logged-in user as the model object (``current_user`` is a proxy), for services to record."""
    return cast("User", current_user._get_current_object())  # type: ignore[attr-defined]


def current_staff() -> User:
    """The staff member using the console (its guard has made sure there is one)."""
    user = signed_in_user()
    if not user.is_authenticated or not user.is_staff:
        abort(404)
    return user


def two_factor_verified() -> bool:
    return bool(session.get(TWO_FACTOR_VERIFIED))


def partner_required(
    landing: str | None = None,
    *,
    area: Area,
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Logged-in members of a partner only; the view receives the partner as its first argument.

    Staff have the console instead: a GET is sent there. A user without a partner sees the
    ``landing`` template (rendered with ``partner=None``) on a GET, when the page has one, and 404
    otherwise: another partner's records are never confirmed to exist. A member whose role may not
    open the page's ``area`` (``partners.access``) gets 404 too, on every method.
    """

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if current_user.is_staff:
                if request.method == "GET":
                    return redirect(url_for("admin.index"))
                abort(404)
            membership = membership_of(current_user)
            if membership is None:
                if landing is not None and request.method == "GET":
                    return render_template(landing, partner=None)
                abort(404)
            if not may_open(membership.role, area):
                abort(404)
            return view(membership.partner, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def current_partner() -> Partner | None:
    membership = membership_of(current_user)
    return membership.partner if membership else None


# --- Forms through services ------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What a service call led to: the message(s) to flash and, when not the usual page, where to go."""

    messages: str | Sequence[str]
    to: str | None = None
    category: str = "success"  # "info" for an action that went through but changed nothing


def show_error(form: FlaskForm, error: ServiceError) -> bool:
    """Put the refusal on the form field it names (True), or above the form when it names none (False).

    A form whose errors do not all belong to one field (rows of a table) may place them itself with a
    ``show_service_error(error) -> bool`` method.
    """
    own_placement = getattr(form, "show_service_error", None)
    if own_placement is not None and own_placement(error):
        return True
    field = form._fields.get(error.field or "") if error.field else None  # type: ignore[attr-defined]
    if field is not None:
        field.errors = [*field.errors, error.message]
        return True
    form.form_errors.append(error.message)
    return False


Refusal = Literal["form", "field", "flash"]


def submit(
    form: FlaskForm,
    perform: Callable[[], str | Sequence[str] | Done | None],
    *,
    back: str,
    show: Callable[[int], ResponseReturnValue],
    refusal: Refusal = "form",
) -> ResponseReturnValue:
    """Validate ``form``, run ``perform`` (the service call), and answer.

    ``show(status)`` renders the page again with the form and its errors; ``back`` is where the user
    goes after a success (303). A ``ServiceError`` is shown according to ``refusal``: ``"form"`` on
    the form (on its field, or above the form), ``"flash"`` as a warning on ``back``, ``"field"`` on
    its field when it names one of the form's and as a warning otherwise. ``ChangedMeanwhile`` is always
    a warning on ``back``; a ``PermissionError`` is 403.
    """
    if not form.validate_on_submit():
        return show(400)
    try:
        outcome = perform()
    except PermissionError:
        abort(403)
    except ServiceError as error:
        on_form = refusal == "form" or (refusal == "field" and error.field and error.field in form)
        if on_form and not isinstance(error, ChangedMeanwhile):
            show_error(form, error)
            return show(error.status)
        flash(error.message, "warning")
        return redirect(back, 303)
    done = outcome if isinstance(outcome, Done) else Done(outcome or [])
    for message in [done.messages] if isinstance(done.messages, str) else done.messages:
        flash(message, done.category)
    return redirect(done.to or back, 303)
