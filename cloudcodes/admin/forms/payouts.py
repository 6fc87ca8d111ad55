"""Forms of the staff console's payout pages (``/admin/payouts``).

Whether a month can be closed or a statement paid is the service's call (``PayoutError`` names the
field it refuses); the forms make sure a choice was made, a reference typed, and the action confirmed.
"""

from __future__ import annotations

from wtforms import BooleanField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cloudcodes.forms import PortalForm

UNPAID = "unpaid"
PAID = "paid"
ALL = "all"

STATUS_FILTERS = [
    SelectChoice(UNPAID, "Unpaid"),
    SelectChoice(PAID, "Paid"),
    SelectChoice(ALL, "All"),
]


class StatementFilterForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=200)], description="Part of the partner's name.")
    status = SelectField("Statements", choices=STATUS_FILTERS, default=UNPAID)


class CloseMonthForm(PortalForm):
    """The month choices (the last twelve that have ended) are set by the view, from today's date."""

    month = SelectField(
        "Month to close",
        validators=[DataRequired("Choose the month to close.")],
        description="Commissions whose hold had ended by the month's last day go into one statement per partner.",
    )
    confirm = BooleanField(
        "I have checked the month: create the statements",
        validators=[DataRequired("Tick the box to confirm that you close this month.")],
    )


class MarkPaidForm(PortalForm):
    reference = StringField(
        "Payment reference",
        validators=[
            DataRequired("Enter the payment reference (the bank transfer's reference)."),
            Length(max=120, message="The payment reference is at most 120 characters."),
        ],
        description="The bank transfer's reference, so the payment can be traced.",
    )
    confirm = BooleanField(
        "The money has been sent to the partner",
        validators=[DataRequired("Tick the box to confirm that this statement has been paid.")],
    )
