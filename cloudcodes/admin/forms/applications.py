"""The staff console's forms for reviewing applications: the queue's filters and the four actions.

The choices of the select fields depend on the application and on who the managers are, so the
views fill them in. Whether a level or a manager may be chosen is the service's call (it names
the field it refuses), so the selects do not refuse values that are not among their options.
"""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, SearchField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from cloudcodes import formatting
from cloudcodes.applications.states import OPEN_STATES, State
from cloudcodes.forms import PortalForm
from cloudcodes.program.terms import Level

MAX_TEXT = 5000
AGE_CHOICES = (1, 3, 7, 14, 30)
OPEN = ""  # the queue's default state filter: every open application
ALL_STATES = "all"
CHECKED = "I have checked the application"


def optional_id(value: Any) -> int | None:
    """A select's value as a record id; "" (nothing chosen) is None."""
    if value in (None, ""):
        return None
    return int(value)


class QueueFilterForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=200)],
        description="Company name, contact name or contact e-mail.",
    )
    level = SelectField(
        "Level requested",
        choices=[SelectChoice("", "Any level"), *(SelectChoice(level.value, level.label) for level in Level)],
        default="",
    )
    state = SelectField(
        "State",
        choices=[
            SelectChoice(OPEN, "Open (" + ", ".join(s.label.lower() for s in State if s in OPEN_STATES) + ")"),
            SelectChoice(ALL_STATES, "All states"),
            *(SelectChoice(state.value, state.label) for state in State),
        ],
        default=OPEN,
    )
    age = SelectField(
        "Submitted",
        choices=[
            SelectChoice("", "Any time"),
            *(SelectChoice(str(days), f"More than {formatting.plural(days, 'day')} ago") for days in AGE_CHOICES),
        ],
        default="",
    )
    mine = BooleanField("Only applications assigned to me")


class AssignForm(PortalForm):
    manager = SelectField("Channel sales manager", coerce=optional_id, validate_choice=False)

    def validate_manager(self, field: SelectField) -> None:
        if field.data is None:
            raise ValidationError("Choose the channel sales manager who reviews this application.")


class QuestionForm(PortalForm):
    question = TextAreaField(
        "Question for the applicant",
        validators=[DataRequired("Write the question for the applicant."), Length(max=MAX_TEXT)],
        description="E-mailed to the applicant with a link to answer; the application then waits on the applicant.",
    )


class ApproveForm(PortalForm):
    level = SelectField("Level to approve", validate_choice=False)
    manager = SelectField("Channel sales manager", coerce=optional_id, validate_choice=False)
    note = TextAreaField(
        "Note",
        validators=[Length(max=MAX_TEXT)],
        description="Required when a Premier application is approved as Reseller. Kept with the level record.",
    )
    confirm = BooleanField(
        CHECKED, validators=[DataRequired("Tick the box to confirm that you have checked the application.")]
    )


class RejectForm(PortalForm):
    reason = TextAreaField(
        "Reason for the rejection",
        validators=[DataRequired("Give the reason: the applicant receives it by e-mail."), Length(max=MAX_TEXT)],
        description="The applicant receives this reason by e-mail.",
    )
    confirm = BooleanField(
        CHECKED, validators=[DataRequired("Tick the box to confirm that you have checked the application.")]
    )
