"""Forms of the console's level runs (``/admin/qualification``): choose the year or day, then confirm.

Whether the year or day can be run is the service's call (``QualificationError``), shown on the field.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.fields import DateField
from wtforms.validators import DataRequired, InputRequired

from cloudcodes import clock


class AnnualQualificationForm(FlaskForm):
    year = IntegerField(
        "Year to qualify",
        validators=[InputRequired("Enter the year to qualify levels for.")],
        default=lambda: clock.today().year,
        description="Each partner's level for this year from its results in the year before; "
        "run on or after 1 January.",
    )


class UpgradesForm(FlaskForm):
    as_of = DateField(
        "Check the requirements on",
        validators=[InputRequired("Enter the day to check the requirements on.")],
        default=clock.today,
        description="Resellers that meet every Premier requirement on this day become Premier "
        "on the first of the next month.",
    )


class RunAnnualQualificationForm(FlaskForm):
    year = HiddenField(validators=[DataRequired()])
    confirm = BooleanField(
        "I have checked the preview: write these level records and e-mail the partners",
        validators=[DataRequired("Tick the box to confirm the run.")],
    )


class RunUpgradesForm(FlaskForm):
    as_of = HiddenField(validators=[DataRequired()])
    confirm = BooleanField(
        "I have checked the preview: write these level records and e-mail the partners",
        validators=[DataRequired("Tick the box to confirm the run.")],
    )
