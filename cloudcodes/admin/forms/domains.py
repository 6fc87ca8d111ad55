"""Forms of the staff console's domain pages."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cloudcodes.forms import PortalForm

STATUS_FILTERS = [
    SelectChoice("active", "Active"),
    SelectChoice("ended", "Ended"),
    SelectChoice("all", "All"),
]


class DomainFilterForm(PortalForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField("Search", validators=[Optional(), Length(max=253)], description="Domain or partner name.")
    status = SelectField("Registrations", choices=STATUS_FILTERS, default="active", validators=[Optional()])


class ReleaseForm(PortalForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired("Give the reason; it is kept in the audit log."), Length(max=1000)]
    )
    confirm = BooleanField("Yes, release this domain", validators=[DataRequired("Tick the box to confirm.")])


class ReassignForm(PortalForm):
    partner = SelectField("Move to partner", validators=[DataRequired("Choose the partner.")])
    reason = TextAreaField(
        "Reason", validators=[DataRequired("Give the reason; it is kept in the audit log."), Length(max=1000)]
    )
    confirm = BooleanField("Yes, move this domain", validators=[DataRequired("Tick the box to confirm.")])
