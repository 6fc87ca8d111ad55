"""Forms of the console's staff pages."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cloudcodes.admin.services.staff import NAME_MAX_LENGTH
from cloudcodes.auth.models import Role
from cloudcodes.forms import PortalForm

ROLE_CHOICES = [
    SelectChoice(Role.MANAGER.value, Role.MANAGER.label),
    SelectChoice(Role.ADMIN.value, Role.ADMIN.label),
]


class StaffSearchForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=254)], description="Part of the name or e-mail.")


class InviteStaffForm(PortalForm):
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter their work e-mail address."), Length(max=254)],
        description="Their login; the invitation goes to this address.",
    )
    full_name = StringField(
        "Full name",
        validators=[DataRequired("Enter their full name."), Length(max=NAME_MAX_LENGTH)],
        description="Partners see it as the sender of their channel sales manager's e-mails.",
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MANAGER.value)


class ChangeRoleForm(PortalForm):
    role = SelectField("New role", choices=ROLE_CHOICES)


class DisableStaffForm(PortalForm):
    confirm = BooleanField(
        "Yes, disable this account and end all its sessions",
        validators=[DataRequired("Tick the box to confirm.")],
    )


class EnableStaffForm(PortalForm):
    pass


class ResetTwoFactorForm(PortalForm):
    confirm = BooleanField(
        "Yes, I have checked that the request comes from this person",
        validators=[DataRequired("Tick the box to confirm.")],
    )


class ResendInvitationForm(PortalForm):
    pass
