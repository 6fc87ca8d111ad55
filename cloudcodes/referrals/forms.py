"""The partner's forms for customer domains and referral codes (``/dashboard/referrals``).

Whether a domain can be registered, a registration renewed or a code issued is the service's call
(``ReferralError`` names the field it refuses); the forms only make sure something was typed and
that a destructive action was confirmed.
"""

from __future__ import annotations

from wtforms import BooleanField, EmailField, RadioField, SearchField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cloudcodes.forms import PortalForm

ACTIVE = "active"
ENDED = "ended"
ALL = "all"
STATE_FILTERS = (ALL, ACTIVE, ENDED)
MAX_DOMAIN_INPUT = 2000  # a pasted URL may be long; the service refuses an over-long domain with its reason


class RegistrationFilterForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=200)],
        description="A domain or a referral code, or part of one.",
    )
    state = SelectField(
        "Show",
        choices=[
            SelectChoice(ALL, "All registrations"),
            SelectChoice(ACTIVE, "Active registrations"),
            SelectChoice(ENDED, "Ended registrations (released, expired or moved)"),
        ],
        default=ALL,
    )


class RegisterDomainForm(PortalForm):
    domain = StringField(
        "Customer domain",
        validators=[
            DataRequired("Enter the customer's domain, such as example.com."),
            Length(
                max=MAX_DOMAIN_INPUT, message="That is too long for a domain: enter the domain, such as example.com."
            ),
        ],
        description="Your customer's domain, e.g. example.com; a web address works too.",
    )


class RenewRegistrationForm(PortalForm):
    """Nothing to fill in: renewing restarts the lifetime, in the registration's last 30 days."""


class GenerateCodeForm(PortalForm):
    """Nothing to fill in: a new code is bound to the registration in the URL."""


class ReleaseRegistrationForm(PortalForm):
    confirm = BooleanField(
        "I understand that the domain and its codes end now",
        validators=[DataRequired("Tick the box to confirm that you give up this domain and end its codes.")],
    )


class RevokeCodeForm(PortalForm):
    confirm = BooleanField(
        "I understand that the customer can no longer use this code",
        validators=[DataRequired("Tick the box to confirm that you withdraw this code.")],
    )


class CheckProofForm(PortalForm):
    """Nothing to fill in: look for the registration's (or claim's) TXT record now."""


class SendConfirmationForm(PortalForm):
    confirmation_email = EmailField(
        "The customer's e-mail address",
        validators=[
            DataRequired("Enter an address at the customer's domain, such as it@example.com."),
            Length(max=254),
        ],
        description="Someone at the customer's domain who can confirm that you work together.",
    )


class FileClaimForm(PortalForm):
    domain = StringField(
        "Customer domain",
        validators=[DataRequired("Enter the domain you claim, such as example.com."), Length(max=MAX_DOMAIN_INPUT)],
    )
    note = TextAreaField(
        "Your evidence",
        validators=[
            DataRequired("Say why the customer works with you: the manager decides on what you write here."),
            Length(max=2000, message="Keep it under 2,000 characters."),
        ],
        description="Who at the customer you work with, since when, what you are selling. The other partner does not "
        "see it. Prove it too: after filing, add a DNS record or have the customer confirm.",
    )


class AppealForm(PortalForm):
    note = TextAreaField(
        "Why the decision is wrong",
        validators=[
            DataRequired("Say why you appeal: the admin decides on what you write here."),
            Length(max=2000, message="Keep it under 2,000 characters."),
        ],
        description="You may appeal once; an admin's decision is final.",
    )


class DecideClaimForm(PortalForm):
    outcome = RadioField(
        "Decision",
        choices=[
            SelectChoice("grant", "Grant: the domain moves to the claimant"),
            SelectChoice("refuse", "Refuse: the holder keeps it"),
        ],
        validators=[DataRequired("Choose to grant or to refuse the claim.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Write the reason: both partners are told it."), Length(max=2000)],
        description="Both partners read it; do not name either of them.",
    )
    override = BooleanField("I decide against the only side that has proven the customer stands behind it")


class DecideAppealForm(PortalForm):
    outcome = RadioField(
        "Decision on the appeal",
        choices=[
            SelectChoice("uphold", "Uphold: the first decision stands"),
            SelectChoice("overturn", "Overturn: the other side gets the domain"),
        ],
        validators=[DataRequired("Choose to uphold or to overturn the decision.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Write the reason: both partners are told it."), Length(max=2000)],
        description="Final: both partners read it; do not name either of them.",
    )
