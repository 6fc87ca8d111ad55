"""Forms of the staff console's partner pages (``/admin/partners``).

The forms check that something was entered in the right shape; whether it is acceptable (a year the
plan may be for, a campaign that has started, a date that is not in the future) is the service's call,
and its error (``RequirementError.field``) is shown on the field it names.
"""

from __future__ import annotations

from wtforms import BooleanField, IntegerField, SearchField, SelectField, StringField, TextAreaField
from wtforms.fields import DateField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from cloudcodes import clock
from cloudcodes.forms import PortalForm
from cloudcodes.money import Money, MoneyError
from cloudcodes.program.terms import Level

ANY_LEVEL = ""


class PartnerFilterForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=200)], description="Part of the partner's name.")
    level = SelectField(
        "Level now",
        choices=[SelectChoice(ANY_LEVEL, "Any level"), *(SelectChoice(level.value, level.label) for level in Level)],
        default=ANY_LEVEL,
    )
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any status"),
            SelectChoice("active", "Active"),
            SelectChoice("suspended", "Suspended"),
        ],
        default="",
    )
    mine = BooleanField("Only the partners I manage")


# --- Suspension -------------------------------------------------------------------------------


class SuspendForm(PortalForm):
    reason = TextAreaField(
        "Why the partner is suspended",
        validators=[
            DataRequired("Say why the partner is suspended; its users see the reason."),
            Length(max=2000, message="Keep the reason under 2,000 characters."),
        ],
        description="Shown to the partner's users on their dashboard, and kept in the audit log.",
    )
    confirm = BooleanField(
        "I understand: its codes and registrations stop earning commission until it is reactivated",
        validators=[DataRequired("Tick the box to confirm the suspension.")],
    )


class ReactivateForm(PortalForm):
    """Only the CSRF token: the partner is in the address."""


# --- Requirements -----------------------------------------------------------------------------


class VerifyForm(PortalForm):
    """Only the CSRF token: the requirement is in the address."""


class UnverifyForm(PortalForm):
    reason = TextAreaField(
        "Why the verification is taken back",
        validators=[Length(max=2000, message="Keep the reason under 2,000 characters.")],
        description="Required. Kept with the requirement and in the audit log.",
    )


class BusinessPlanForm(PortalForm):
    currency = "USD"  # the program's currency; the view sets it (and the label) from the terms

    year = IntegerField(
        "Year",
        validators=[InputRequired("Enter the year the plan is for.")],
        default=lambda: clock.today().year,
    )
    commitment = StringField(
        "Revenue commitment (USD)",
        validators=[DataRequired("Enter the plan's revenue commitment.")],
        description="The net revenue the partner commits to for the year, e.g. 25000.00.",
    )
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=5000)])

    def use_currency(self, currency: str) -> None:
        self.currency = currency
        self.commitment.label.text = f"Revenue commitment ({currency})"

    def commitment_money(self) -> Money:
        return Money.parse(self.commitment.data or "", self.currency)

    def validate_commitment(self, field: StringField) -> None:
        try:
            self.commitment_money()
        except MoneyError as error:
            raise ValidationError(str(error)) from None


class ProductPageForm(PortalForm):
    url = URLField(
        "Address of the page",
        validators=[DataRequired("Enter the page's full address, starting with https://."), Length(max=300)],
        description="The page of the partner's web site that carries the CloudCodes product, checked today.",
    )


class CampaignForm(PortalForm):
    name = StringField("Campaign name", validators=[DataRequired("Name the campaign."), Length(max=200)])
    starts_on = DateField("Starts on", validators=[InputRequired("Enter the day the campaign started.")])
    ends_on = DateField("Ends on", validators=[InputRequired("Enter the day the campaign ends (or ended).")])


class TrainingForm(PortalForm):
    completed_on = DateField(
        "Sales training completed on",
        validators=[Optional()],
        description="Leave empty and save to clear the date.",
    )
