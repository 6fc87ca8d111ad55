"""The partner's forms for customer domains and referral codes (``/dashboard/referrals``).

Whether a domain can be registered, a registration renewed or a code issued is the service's call
(``ReferralError`` names the field it refuses); the forms only make sure something was typed and
that a destructive action was confirmed.
"""

from __future__ import annotations

from wtforms import BooleanField, SearchField, SelectField, StringField
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
        description="Your customer's domain, e.g. example.com; a web address or e-mail address works too.",
    )


class RenewRegistrationForm(PortalForm):
    """Nothing to fill in: renewing restarts the lifetime and can be done again at any time."""


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
