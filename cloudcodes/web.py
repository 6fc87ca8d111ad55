"""What the views share: who is asking, the dashboard's guard, and one way to run a form through a service.

A view is thin: it builds its form, hands the form's data to a service through ``submit``, and
answers. ``submit`` validates the form, runs the service, flashes its success message and answers
303 to where the user goes next; a ``ServiceError`` is shown on the field it names (the page again,
with the error's status) or, for a refusal that no field of the form can fix (someone else acted
first, the record changed under the user), as a warning on the page the user goes back to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal, cast

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from cloudcodes.auth.models import Role
from cloudcodes.extensions import db
from cloudcodes.partners.access import Area, may_open
from cloudcodes.partners.models import Partner
from cloudcodes.partners.services import may_manage, membership_of
from cloudcodes.services import ChangedMeanwhile, ServiceError

if TYPE_CHECKING:
    from cloudcodes.auth.models import User

# The session key set once the second factor was checked at this login: the console requires it.
TWO_FACTOR_VERIFIED = "two_factor_verified"
# The session key holding the id of the partner a staff member views the dashboard of, read-only.
VIEWING_AS = "viewing_as_partner"


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


def viewed_partner() -> Partner | None:
    """The partner whose dashboard the staff member is viewing read-only ("view as"), or None.

    Set by the console (``admin.partner_view_as``) under ``VIEWING_AS``; it counts only for staff who
    passed the second factor and may still manage that partner (its manager or an admin), and is
    cleared otherwise. "Stop viewing" and logging out clear it too.
    """
    partner_id = session.get(VIEWING_AS)
    if partner_id is None or not current_user.is_authenticated:
        return None
    user = signed_in_user()
    partner = db.session.get(Partner, partner_id) if isinstance(partner_id, int) else None
    if partner is None or not user.is_staff or not two_factor_verified() or not may_manage(user, partner):
        session.pop(VIEWING_AS, None)
        return None
    return partner


@dataclass(frozen=True)
class ViewedMembership:
    """Stands for a membership while staff view a partner's dashboard: the partner, as its owner sees it."""

    partner: Partner
    role: str = "owner"

    @property
    def partner_id(self) -> int:
        return self.partner.id


def viewed_membership() -> ViewedMembership | None:
    partner = viewed_partner()
    return ViewedMembership(partner) if partner is not None else None


def partner_required(
    landing: str | None = None,
    *,
    area: Area,
    viewed_by_admins_only: bool = False,
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Logged-in members of a partner only; the view receives the partner as its first argument.

    Staff have the console instead: a GET is sent there, unless they are viewing a partner's dashboard
    from the console (``viewed_partner``): then a GET or HEAD gets that partner as an owner sees it and
    every other method is 403 (``viewed_by_admins_only``: 404 for a viewing manager, for what only owners
    and admins may open, such as the tax form). A user without a partner sees the
    ``landing`` template (rendered with ``partner=None``) on a GET, when the page has one, and 404
    otherwise: another partner's records are never confirmed to exist. A member whose role may not
    open the page's ``area`` (``partners.access``) gets 404 too, on every method.
    """

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if current_user.is_staff:
                viewed = viewed_partner()
                if viewed is not None:
                    # "View as the partner": what an owner sees (every area), and no action at all.
                    if request.method not in ("GET", "HEAD"):
                        abort(403)
                    if viewed_by_admins_only and current_user.role != Role.ADMIN:
                        abort(404)
                    return view(viewed, *args, **kwargs)
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
    if current_user.is_staff:
        return viewed_partner()
    membership = membership_of(current_user)
    return membership.partner if membership else None


# --- Forms through services ------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What a service call led to: the message(s) to flash and, when not the usual page, where to go."""

    messages: str | Sequence[str]
    to: str | None = None
    category: str = "success"  # "info" for an action that went through but changed nothing


def field_errors(forms: Iterable[FlaskForm], names: Sequence[str]) -> list[tuple[str, str]]:
    """(field id, message) for each error of the named fields of ``forms``: a page's row forms, whose
    refusals are listed at the top of the page too (``error_list`` in _macros/forms.html)."""
    return [(form[name].id, error) for form in forms for name in names if name in form for error in form[name].errors]


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
