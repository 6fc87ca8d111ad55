"""Forms of the console's level runs (``/admin/qualification``): choose the year or day, then confirm.

Whether the year or day can be run is the service's call (``QualificationError``), shown on the field.
"""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.fields import DateField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from cloudcodes import clock
from cloudcodes.forms import PortalForm


class AnnualQualificationForm(PortalForm):
    year = IntegerField(
        "Year to qualify",
        validators=[InputRequired("Enter the year to qualify levels for.")],
        default=lambda: clock.today().year,
        description="Each partner's level for this year from its results in the year before; "
        "run on or after 1 January.",
    )


class UpgradesForm(PortalForm):
    as_of = DateField(
        "Check the requirements on",
        validators=[InputRequired("Enter the day to check the requirements on.")],
        default=clock.today,
        description="Resellers that meet every Premier requirement on this day become Premier "
        "on the first of the next month.",
    )


class RunAnnualQualificationForm(PortalForm):
    year = HiddenField(validators=[DataRequired()])
    confirm = BooleanField(
        "I have checked the preview: write these level records and e-mail the partners",
        validators=[DataRequired("Tick the box to confirm the run.")],
    )
    late_confirm = BooleanField(
        "I have read the warning: the new levels count from 1 January, months back, and the commissions "
        "already recorded stay as they are"
    )
    # Set by the view before validating when the run is late (after January of its year): the
    # second box must then be ticked too.
    late = False

    def validate_late_confirm(self, field: BooleanField) -> None:
        if self.late and not field.data:
            raise ValidationError("This run is late: tick this box to confirm you have read the warning above.")


class RunUpgradesForm(PortalForm):
    as_of = HiddenField(validators=[DataRequired()])
    confirm = BooleanField(
        "I have checked the preview: write these level records and e-mail the partners",
        validators=[DataRequired("Tick the box to confirm the run.")],
    )
