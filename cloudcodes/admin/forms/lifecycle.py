"""The forms of a partner's lifecycle in the console: its manager, notes, e-mail corrections, adjustments."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields import EmailField
from wtforms.validators import DataRequired, Length, ValidationError

from cloudcodes.auth.models import User
from cloudcodes.billing.adjustments import parse_amount
from cloudcodes.forms import PortalForm
from cloudcodes.services import ServiceError


class _ManagerChoice(PortalForm):
    manager = SelectField(
        "New channel sales manager",
        coerce=int,
        validate_choice=False,  # the service says what is wrong with the choice
        invalid_value_message="Choose an active channel sales manager.",
    )

    def use_managers(self, managers: list[User], *, leave_out: int | None = None) -> None:
        """The active managers to choose from (without the current one); the service checks the choice."""
        self.manager.choices = [(0, "Choose a manager")] + [
            (m.id, f"{m.display_name} ({m.email})") for m in managers if m.id != leave_out
        ]


class ChangeManagerForm(_ManagerChoice):
    """The partner is in the address; its owners are told who their new manager is."""


class MoveAllPartnersForm(_ManagerChoice):
    confirm = BooleanField(
        "I understand: every partner of this manager moves, and their owners are e-mailed",
        validators=[DataRequired("Tick the box to confirm moving every partner.")],
    )


class NoteForm(PortalForm):
    body = TextAreaField(
        "New note",
        validators=[
            DataRequired("Write the note first."),
            Length(max=5000, message="Keep a note under 5,000 characters."),
        ],
        description="Staff only: never shown to the partner. Notes cannot be edited or deleted.",
    )


class EmailChangeForm(PortalForm):
    email = EmailField(
        "Corrected e-mail address",
        validators=[DataRequired("Enter the corrected address."), Length(max=254)],
        description="A confirmation link goes to this address; the login changes when it is opened (within 7 days).",
    )


class CancelEmailChangeForm(PortalForm):
    """Only the CSRF token: the change is in the address."""


class ViewAsForm(PortalForm):
    """Only the CSRF token: the partner is in the address."""


class StopViewingForm(PortalForm):
    """Only the CSRF token."""


class AdjustmentForm(PortalForm):
    amount = StringField(
        "Amount",
        validators=[DataRequired("Enter the amount, e.g. 120.50 (or -120.50 to take money back).")],
        description="Positive adds to what the partner is owed, negative takes it back; at most two decimals.",
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired("Say why: the reason is shown to the partner on its statement."), Length(max=188)],
        description="Shown to the partner as “Adjustment: <reason>” on its earnings page and statement.",
    )
    confirm = BooleanField(
        "I understand: the adjustment is final (a mistake is corrected by another adjustment)",
        validators=[DataRequired("Tick the box to confirm the adjustment.")],
    )

    currency: str | None = None

    def use_currency(self, currency: str) -> None:
        self.currency = currency
        self.amount.label.text = f"Amount ({currency})"

    def validate_amount(self, field: StringField) -> None:
        # The amount's rules in the same round as the other fields, with the service's own words.
        if self.currency is not None:
            try:
                parse_amount(field.data or "", self.currency)
            except ServiceError as error:
                raise ValidationError(error.message) from None
