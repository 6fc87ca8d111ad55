"""The partner's team: ``/dashboard/team``.

Every member reads the list (who is on the team, their role, their invitation, their sales
training); only owners invite, resend or withdraw invitations, change roles and remove members
(``partners.access``: a non-owner's POST is 404, as another partner's member is). The rules live
in ``partners.team``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from cloudcodes import formatting
from cloudcodes.auth.services import normalise_email
from cloudcodes.dashboard.views import blueprint
from cloudcodes.forms import PortalForm
from cloudcodes.partners.access import Area, may_manage_team
from cloudcodes.partners.models import MemberRole, Partner, PartnerMembership
from cloudcodes.partners.services import membership_of
from cloudcodes.partners.team import (
    INVITATION_DAYS,
    NAME_MAX_LENGTH,
    ROLE_DESCRIPTIONS,
    ROLE_LABELS,
    ROLE_WITH_ARTICLE,
    MemberStatus,
    change_role,
    invite_member,
    membership_in,
    remove_member,
    resend_invitation,
    statuses_of,
    team_of,
    withdraw_invitation,
)
from cloudcodes.services import ServiceError
from cloudcodes.web import Done, field_errors, partner_required, signed_in_user, submit

ROLE_CHOICES = [SelectChoice(role.value, ROLE_LABELS[role]) for role in MemberRole]


# --- Forms ------------------------------------------------------------------------------------


class InviteMemberForm(PortalForm):
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter their work e-mail address."), Length(max=254)],
        description="Their login; the invitation goes to this address.",
    )
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter their full name."), Length(max=NAME_MAX_LENGTH)]
    )

    def validate_email(self, field: EmailField) -> None:
        # The address's syntax in the same round as the other fields, with the service's own words.
        try:
            normalise_email(field.data or "")
        except ServiceError as error:
            raise ValidationError(error.message) from None

    role = SelectField(
        "Role",
        choices=ROLE_CHOICES,
        default=MemberRole.SALES.value,
        validate_choice=False,  # the service answers an unknown role with its own message
        description="Owner: everything. Sales: domains, codes, purchases and earnings. Technical: domains and codes.",
    )


class ChangeMemberRoleForm(PortalForm):
    role = SelectField("New role", choices=ROLE_CHOICES, validate_choice=False)


class ResendInvitationForm(PortalForm):
    pass


class WithdrawInvitationForm(PortalForm):
    confirm = BooleanField(
        "Yes, withdraw this invitation (its link stops working)",
        validators=[DataRequired("Tick the box to confirm that you withdraw the invitation.")],
    )


class RemoveMemberForm(PortalForm):
    confirm = BooleanField(
        "Yes, remove this member: they are logged out and can no longer log in",
        validators=[DataRequired("Tick the box to confirm that you remove this member.")],
    )


# --- What the page shows -----------------------------------------------------------------------


@dataclass
class MemberRow:
    membership: PartnerMembership
    status: MemberStatus
    is_you: bool
    role_form: FlaskForm | None = None
    resend_form: FlaskForm | None = None
    withdraw_form: FlaskForm | None = None
    remove_form: FlaskForm | None = None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.membership.role]


def _rows(partner: Partner, owner: bool, given: dict[str, FlaskForm]) -> list[MemberRow]:
    def form(kind: type[FlaskForm], prefix: str, **data: object) -> FlaskForm:
        return given.get(prefix) or kind(prefix=prefix, formdata=None, **data)

    rows = []
    memberships = team_of(partner)
    statuses = statuses_of(memberships)
    for membership in memberships:
        row = MemberRow(membership, statuses[membership.id], membership.user_id == current_user.id)
        if owner:
            key = membership.id
            row.role_form = form(ChangeMemberRoleForm, f"role-{key}", role=membership.role.value)
            if row.status.pending:
                row.resend_form = form(ResendInvitationForm, f"resend-{key}")
                row.withdraw_form = form(WithdrawInvitationForm, f"withdraw-{key}")
            else:
                row.remove_form = form(RemoveMemberForm, f"remove-{key}")
        rows.append(row)
    return rows


def _render(
    partner: Partner,
    status: int = 200,
    *,
    invite_form: InviteMemberForm | None = None,
    given: dict[str, FlaskForm] | None = None,
) -> ResponseReturnValue:
    membership = membership_of(current_user)
    owner = membership is not None and may_manage_team(membership.role)
    given = given or {}
    error_summary = field_errors(given.values(), ("confirm", "role"))
    return render_template(
        "dashboard/team.html",
        partner=partner,
        owner=owner,
        rows=_rows(partner, owner, given),
        invite_form=invite_form or (InviteMemberForm(prefix="invite", formdata=None) if owner else None),
        error_summary=error_summary,
        role_labels=ROLE_LABELS,
        role_descriptions=ROLE_DESCRIPTIONS,
        invitation_days=INVITATION_DAYS,
    ), status


def _back(anchor: str | None = None) -> str:
    return url_for("dashboard.team", _anchor=anchor)


def _member_or_404(partner: Partner, membership_id: int) -> PartnerMembership:
    membership = membership_in(partner, membership_id)
    if membership is None:
        abort(404)
    return membership


def _act(partner: Partner, prefix: str, form: FlaskForm, perform: Callable[[], Done]) -> ResponseReturnValue:
    """A row's action: a refusal a field can fix is shown on it; any other one is a warning on the list."""
    return submit(
        form,
        perform,
        back=_back(),
        show=lambda status: _render(partner, status, given={prefix: form}),
        refusal="field",
    )


# --- The pages -----------------------------------------------------------------------------------


@blueprint.get("/team")
@partner_required("dashboard/team.html", area=Area.MEMBERS)
def team(partner: Partner) -> ResponseReturnValue:
    return _render(partner)


@blueprint.post("/team/invitations")
@partner_required(area=Area.TEAM)
def team_invite(partner: Partner) -> ResponseReturnValue:
    form = InviteMemberForm(prefix="invite")

    def perform() -> Done:
        membership = invite_member(
            partner, form.email.data or "", form.full_name.data or "", form.role.data or "", by=signed_in_user()
        )
        user = membership.user
        message = (
            f"{user.display_name} is invited as {ROLE_WITH_ARTICLE[membership.role]}. "
            f"We have e-mailed {formatting.email_address(user.email)} a link to choose a password; "
            f"it works for {formatting.plural(INVITATION_DAYS, 'day')}."
        )
        return Done(message, to=_back(f"member-{membership.id}"))

    return submit(form, perform, back=_back(), show=lambda status: _render(partner, status, invite_form=form))


@blueprint.post("/team/<int:membership_id>/resend")
@partner_required(area=Area.TEAM)
def team_resend(partner: Partner, membership_id: int) -> ResponseReturnValue:
    membership = _member_or_404(partner, membership_id)
    prefix = f"resend-{membership.id}"

    def perform() -> Done:
        resend_invitation(partner, membership, by=signed_in_user())
        message = (
            f"A new invitation is on its way to {formatting.email_address(membership.user.email)}; "
            "the link sent before no longer works."
        )
        return Done(message, to=_back(f"member-{membership.id}"))

    return _act(partner, prefix, ResendInvitationForm(prefix=prefix), perform)


@blueprint.post("/team/<int:membership_id>/withdraw")
@partner_required(area=Area.TEAM)
def team_withdraw(partner: Partner, membership_id: int) -> ResponseReturnValue:
    membership = _member_or_404(partner, membership_id)
    prefix = f"withdraw-{membership.id}"

    def perform() -> Done:
        name = withdraw_invitation(partner, membership, by=signed_in_user())
        return Done(f"The invitation of {name} is withdrawn: its link no longer works.")

    return _act(partner, prefix, WithdrawInvitationForm(prefix=prefix), perform)


@blueprint.post("/team/<int:membership_id>/role")
@partner_required(area=Area.TEAM)
def team_role(partner: Partner, membership_id: int) -> ResponseReturnValue:
    membership = _member_or_404(partner, membership_id)
    prefix = f"role-{membership.id}"
    form = ChangeMemberRoleForm(prefix=prefix)

    def perform() -> Done:
        role = change_role(partner, membership, form.role.data or "", by=signed_in_user())
        message = (
            f"{membership.user.display_name} is now {ROLE_WITH_ARTICLE[role]}: they see {ROLE_DESCRIPTIONS[role]}."
        )
        return Done(message, to=_back(f"member-{membership.id}"))

    return _act(partner, prefix, form, perform)


@blueprint.post("/team/<int:membership_id>/remove")
@partner_required(area=Area.TEAM)
def team_remove(partner: Partner, membership_id: int) -> ResponseReturnValue:
    membership = _member_or_404(partner, membership_id)
    prefix = f"remove-{membership.id}"
    removing_yourself = membership.user_id == current_user.id

    def perform() -> Done:
        name = remove_member(partner, membership, by=signed_in_user())
        if removing_yourself:
            return Done("You have left the team: your account is closed.", to=url_for("auth.login"))
        return Done(f"{name} is removed from the team: they are logged out and can no longer log in.")

    return _act(partner, prefix, RemoveMemberForm(prefix=prefix), perform)
