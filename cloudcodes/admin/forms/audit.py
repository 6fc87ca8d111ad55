"""The audit log's filter form (``/admin/audit``): read from the query string, so no CSRF token."""

from __future__ import annotations

from datetime import date

from wtforms import DateField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from cloudcodes.forms import PortalForm

# The records the audit log names (``AuditEvent.target_type``, a table name), as people call them.
TARGET_LABELS = {
    "partners": "Partner",
    "partner_applications": "Application",
    "application_messages": "Application message",
    "domain_registrations": "Domain registration",
    "referral_codes": "Referral code",
    "payout_statements": "Payout statement",
    "ledger_entries": "Ledger entry",
    "partner_requirements": "Partner requirement",
    "partner_memberships": "Partner member",
    "partner_notes": "Partner note",
    "email_changes": "E-mail change",
    "users": "User",
    "faq_entries": "FAQ entry",
    "outbox_messages": "Mail",
    "job_runs": "Job run",
    "program_settings": "Program settings",
}


def target_label(target_type: str | None) -> str:
    if not target_type:
        return ""
    return TARGET_LABELS.get(target_type, target_type.replace("_", " ").capitalize())


class AuditFilterForm(PortalForm):
    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=200)],
        description="Words in the action, the e-mail, the record's number or the details.",
    )
    action = StringField(
        "Action starts with",
        validators=[Optional(), Length(max=60)],
        render_kw={"placeholder": "auth.login"},
    )
    who = StringField("Who (e-mail contains)", validators=[Optional(), Length(max=254)])
    target = SelectField(
        "Record",
        choices=[
            SelectChoice("", "Any record"),
            *(SelectChoice(name, label) for name, label in sorted(TARGET_LABELS.items(), key=lambda item: item[1])),
        ],
        default="",
    )
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("To (UTC)", validators=[Optional()])

    def validate_until(self, field: DateField) -> None:
        since: date | None = self.since.data
        if field.data and since and field.data < since:
            raise ValidationError("The end of the range is before its start: choose a later day.")
