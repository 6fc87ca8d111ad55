"""Staff accounts in the console, for administrators only: the list, inviting, and one person's page.

Each action is a thin view: its form, then ``cloudcodes.admin.services.staff`` (which checks the rules,
audits and commits), then a flash and a 303 back to the person's page. A refusal the service
names a field for is shown next to that field (400); any other refusal is a warning flash.
Partner users are not staff: their ids answer 404 here.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.staff import (
    ChangeRoleForm,
    DisableStaffForm,
    EnableStaffForm,
    InviteStaffForm,
    ResendInvitationForm,
    ResetTwoFactorForm,
    StaffSearchForm,
)
from cloudcodes.admin.lifecycle_page import move_partners_form
from cloudcodes.admin.services.staff import (
    INVITATION_DAYS,
    change_role,
    disable,
    enable,
    handover,
    invite_staff,
    role_with_article,
)
from cloudcodes.admin.services.staff import resend_invitation as resend_invitation_service
from cloudcodes.admin.services.staff import reset_two_factor as reset_two_factor_service
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.states import OPEN_STATES
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import STAFF_ROLES, PasswordResetToken, Role, User
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner
from cloudcodes.search import fold
from cloudcodes.web import Done, current_staff, submit

PER_PAGE = 25
HANDOVER_SHOWN = 20  # partners / applications listed on a person's page; the rest are counted
HISTORY_SHOWN = 15
STAFF_ROLE_VALUES = sorted(role.value for role in STAFF_ROLES)


def _staff_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


# --- The list and the invitation --------------------------------------------------------------


def _render_list(invite_form: InviteStaffForm, status: int = 200) -> ResponseReturnValue:
    search = StaffSearchForm(formdata=request.args)
    if not search.validate():
        search.q.data = ""
    text = (search.q.data or "").strip()
    query = (
        select(User).where(User.role.in_(STAFF_ROLE_VALUES)).order_by(func.lower(User.full_name), User.email, User.id)
    )
    if text:
        query = query.where(User.search_text.contains(fold(text), autoescape=True))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template(
        "admin/staff/list.html",
        search=search,
        q=text,
        page=page,
        invite_form=invite_form,
        invitation_days=INVITATION_DAYS,
    ), status


@blueprint.get("/staff")
@admin_only
def staff() -> ResponseReturnValue:
    return _render_list(InviteStaffForm())


@blueprint.post("/staff/invite")
@admin_only
def staff_invite() -> ResponseReturnValue:
    form = InviteStaffForm()

    def perform() -> Done:
        user = invite_staff(form.email.data or "", form.full_name.data or "", form.role.data, by=current_staff())
        return Done(
            f"Invitation sent to {user.email}. They choose a password through the link in it "
            f"(valid for {INVITATION_DAYS} days), then set up two-factor authentication at their first login.",
            to=url_for("admin.staff_detail", user_id=user.id),
        )

    return submit(form, perform, back=url_for("admin.staff"), show=lambda status: _render_list(form, status))


# --- One person -------------------------------------------------------------------------------


def _other_role(user: User) -> str:
    return Role.MANAGER.value if user.role == Role.ADMIN else Role.ADMIN.value


def _render_detail(user: User, status: int = 200, **forms: FlaskForm) -> ResponseReturnValue:
    partners_query = select(Partner).where(Partner.channel_manager_id == user.id)
    open_applications_query = select(PartnerApplication).where(
        PartnerApplication.assigned_manager_id == user.id,
        PartnerApplication.state.in_([state.value for state in OPEN_STATES]),
    )
    counts = handover(user)
    partners = db.session.scalars(partners_query.order_by(Partner.name, Partner.id).limit(HANDOVER_SHOWN)).all()
    applications = db.session.scalars(
        open_applications_query.order_by(PartnerApplication.submitted_at, PartnerApplication.id).limit(HANDOVER_SHOWN)
    ).all()
    invitation = None
    if user.password_hash is None:
        invitation = db.session.scalar(
            select(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id, PasswordResetToken.purpose == "invitation")
            .order_by(PasswordResetToken.created_at.desc(), PasswordResetToken.id.desc())
            .limit(1)
        )
    history = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == User.__tablename__, AuditEvent.target_id == str(user.id))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(HISTORY_SHOWN)
    ).all()
    return render_template(
        "admin/staff/detail.html",
        person=user,
        is_me=user.id == current_user.id,
        partners=partners,
        partner_count=counts.partners,
        applications=applications,
        application_count=counts.open_applications,
        invitation=invitation,
        history=history,
        invitation_days=INVITATION_DAYS,
        role_form=forms.get("role_form") or ChangeRoleForm(prefix="role", formdata=None, role=_other_role(user)),
        disable_form=forms.get("disable_form") or DisableStaffForm(prefix="disable", formdata=None),
        enable_form=forms.get("enable_form") or EnableStaffForm(prefix="enable", formdata=None),
        reset_form=forms.get("reset_form") or ResetTwoFactorForm(prefix="reset", formdata=None),
        resend_form=forms.get("resend_form") or ResendInvitationForm(prefix="resend", formdata=None),
        move_form=forms.get("move_form") or move_partners_form(user),
    ), status


@blueprint.get("/staff/<int:user_id>")
@admin_only
def staff_detail(user_id: int) -> ResponseReturnValue:
    return _render_detail(_staff_or_404(user_id))


def _act(user: User, form: FlaskForm, form_name: str, action: Callable[[], str]) -> ResponseReturnValue:
    """Validate ``form``, run ``action`` (which returns the success message), then flash and go back.

    A refusal on one of the form's fields is shown there; any other is a warning on the person's page.
    """
    user_id = user.id
    return submit(
        form,
        action,
        back=url_for("admin.staff_detail", user_id=user_id),
        show=lambda status: _render_detail(_staff_or_404(user_id), status, **{form_name: form}),
        refusal="field",
    )


@blueprint.post("/staff/<int:user_id>/role")
@admin_only
def staff_role(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = ChangeRoleForm(prefix="role")

    def action() -> str:
        new_role = change_role(user, form.role.data, by=current_staff())
        return f"{user.display_name} is now {role_with_article(new_role)}."

    return _act(user, form, "role_form", action)


@blueprint.post("/staff/<int:user_id>/disable")
@admin_only
def staff_disable(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = DisableStaffForm(prefix="disable")

    def action() -> str:
        left = disable(user, by=current_staff())
        message = f"{user.display_name}'s account is disabled and all their sessions have ended."
        if left.needed:
            message += (
                f" {left.describe()} still name them as channel sales manager and now need a new one"
                " (listed on this page)."
            )
        return message

    return _act(user, form, "disable_form", action)


@blueprint.post("/staff/<int:user_id>/enable")
@admin_only
def staff_enable(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = EnableStaffForm(prefix="enable")

    def action() -> str:
        enable(user, by=current_staff())
        return f"{user.display_name}'s account is enabled again; they can log in."

    return _act(user, form, "enable_form", action)


@blueprint.post("/staff/<int:user_id>/two-factor/reset")
@admin_only
def staff_reset_two_factor(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = ResetTwoFactorForm(prefix="reset")

    def action() -> str:
        reset_two_factor_service(user, by=current_staff())
        return (
            f"Two-factor authentication of {user.display_name} is reset and all their sessions have ended. "
            "They set it up again right after their next login with their password."
        )

    return _act(user, form, "reset_form", action)


@blueprint.post("/staff/<int:user_id>/invitation")
@admin_only
def staff_resend_invitation(user_id: int) -> ResponseReturnValue:
    user = _staff_or_404(user_id)
    form = ResendInvitationForm(prefix="resend")

    def action() -> str:
        resend_invitation_service(user, by=current_staff())
        return (
            f"A new invitation is on its way to {user.email}, valid for {INVITATION_DAYS} days; "
            "the earlier links no longer work."
        )

    return _act(user, form, "resend_form", action)
