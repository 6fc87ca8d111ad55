from __future__ import annotations

import unicodedata
from decimal import Decimal
from functools import cache
from urllib.parse import urlsplit

from babel import Locale
from babel.core import get_global
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from cloudcodes.applications.rules import HEARD_FROM_OPTIONS, ApplicationInput, unmet_requirements
from cloudcodes.forms import PortalForm
from cloudcodes.money import Money, MoneyError
from cloudcodes.program.terms import PREMIER, RESELLER, ProgramTerms

HEARD_FROM = [SelectChoice("", "Choose one")] + [
    SelectChoice(value, label) for value, label in HEARD_FROM_OPTIONS.items()
]


# Codes that CLDR names but that are no country of ISO 3166-1: the codes ISO reserves for other uses
# (Ascension, Clipperton, Sark, Diego Garcia, Ceuta and Melilla, the EU, the Eurozone, the Canary
# Islands, Tristan da Cunha, the UN). The codes for private use (AA, QM to QZ, XA to XZ, ZZ) are left
# out too, but for Kosovo's XK: Kosovo has no ISO code yet, and XK is the one the EU and CLDR give it.
_RESERVED_CODES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "TA", "UN"})


def _is_country(code: str) -> bool:
    if len(code) != 2 or not code.isalpha() or code in _RESERVED_CODES:
        return False
    if code == "XK":
        return True
    private = code in ("AA", "ZZ") or code.startswith("X") or "QM" <= code <= "QZ"
    return not private and code not in get_global("territory_aliases")  # no former countries either


def _sort_key(name: str) -> str:
    """Accents aside: "Åland Islands" sorts with the A's, "Côte d'Ivoire" with the C's."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


@cache
def country_names() -> list[str]:
    """The countries' English names, as CLDR (through Babel) keeps them up to date; the name is what is stored."""
    territories = Locale("en").territories
    return sorted((name for code, name in territories.items() if _is_country(code)), key=_sort_key)


def countries() -> list[SelectChoice]:
    return [SelectChoice("", "Choose your country")] + [SelectChoice(name, name) for name in country_names()]


def web_address(form: FlaskForm, field: StringField) -> None:
    """An http(s) address with a real host; ``acme.com`` alone is read as ``https://acme.com``."""
    value = (field.data or "").strip()
    if not value:
        return
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or " " in value:
        raise ValidationError("Enter a web address such as https://www.example.com.")
    field.data = value


AMOUNT_MESSAGE = "Enter an amount in dollars and cents, such as 25000 or 25000.50."


def finite_amount(form: FlaskForm, field: DecimalField) -> None:
    """Stops at "NaN" or "Infinity", which read as numbers but compare with nothing."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(AMOUNT_MESSAGE)


def whole_cents(form: FlaskForm, field: DecimalField) -> None:
    if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
        raise ValidationError(AMOUNT_MESSAGE)


class ResellerApplicationForm(PortalForm):
    level = RESELLER

    company_name = StringField("Company name", validators=[DataRequired("Enter your company's name."), Length(2, 200)])
    website = StringField(
        "Company web site",
        validators=[DataRequired("Enter your company's web site."), Length(max=300), web_address],
        description="For example https://www.example.com",
    )
    country = SelectField("Country", choices=countries, validators=[DataRequired("Choose your country.")])
    contact_name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(2, 120)])
    contact_email = EmailField(
        "Your e-mail address",
        validators=[
            DataRequired("Enter your e-mail address."),
            Email("Enter a valid e-mail address."),
            Length(max=254),
        ],
        description="We send the status link here; it becomes your login when you are approved.",
    )
    contact_phone = StringField(
        "Phone number",
        validators=[DataRequired("Enter a phone number we can reach you on."), Length(6, 40)],
        description="With the country code, for example +44 20 7946 0000.",
    )
    is_workspace_reseller = BooleanField("We are a Google Workspace (Google Apps) reseller")
    workspace_reseller_id = StringField(
        "Google Workspace reseller ID or proof",
        validators=[Length(max=200)],
        description="Your reseller ID, or a link to your listing in Google's partner directory.",
    )
    sales_team_size = IntegerField(
        "People in your sales team",
        validators=[
            InputRequired("Enter the size of your sales team."),
            NumberRange(0, 100_000, "Enter 0 to 100,000."),
        ],
    )
    technical_team_size = IntegerField(
        "People in your technical team",
        validators=[
            InputRequired("Enter the size of your technical team."),
            NumberRange(0, 100_000, "Enter 0 to 100,000."),
        ],
    )
    expected_customers = IntegerField(
        "Customers you expect to bring in the first year (optional)",
        validators=[Optional(), NumberRange(0, 1_000_000, "Enter 0 to 1,000,000.")],
        default=0,
    )
    heard_from = SelectField("How did you hear of CloudCodes? (optional)", choices=HEARD_FROM, validators=[Optional()])
    # The honeypot: hidden from people by CSS, filled in by bots.
    fax_number = StringField("Leave this field empty", validators=[Optional()])

    def is_spam(self) -> bool:
        return bool((self.fax_number.data or "").strip())

    def to_input(self, currency: str) -> ApplicationInput:
        """What was typed; a field that could not be read (it has an error) comes out empty or zero."""
        return ApplicationInput(
            level=self.level,
            company_name=(self.company_name.data or "").strip(),
            website=(self.website.data or "").strip(),
            country=self.country.data or "",
            contact_name=(self.contact_name.data or "").strip(),
            contact_email=(self.contact_email.data or "").strip(),
            contact_phone=(self.contact_phone.data or "").strip(),
            is_workspace_reseller=bool(self.is_workspace_reseller.data),
            workspace_reseller_id=(self.workspace_reseller_id.data or "").strip(),
            sales_team_size=self.sales_team_size.data or 0,
            technical_team_size=self.technical_team_size.data or 0,
            expected_customers=self.expected_customers.data or 0,
            heard_from=self.heard_from.data or "",
            **self.premier_input(currency),
        )

    def premier_input(self, currency: str) -> dict:
        return {}

    def show_unmet_requirements(self, currency: str, terms: ProgramTerms) -> None:
        """Put the program's refusals on their fields, judged on what could be read, beside the format errors.

        So that one round shows everything to fix: a field with an error of its own is not judged again.
        """
        unreadable = frozenset(name for name, field in self._fields.items() if field.errors)
        self.place_unmet(unmet_requirements(self.to_input(currency), terms, unreadable=unreadable))

    def place_unmet(self, unmet: dict[str, str]) -> None:
        for name, message in unmet.items():
            field = self._fields[name]
            field.errors = [*field.errors, message]


class PremierApplicationForm(ResellerApplicationForm):
    level = PREMIER

    committed_revenue = DecimalField(
        "Annual revenue you commit to (USD)",
        places=2,
        validators=[
            InputRequired("Enter the annual revenue you commit to."),
            finite_amount,
            NumberRange(0, 1_000_000_000, "Enter an amount up to 1,000,000,000."),
            whole_cents,
        ],
    )
    trained_sales_staff = IntegerField(
        "Sales staff you will have trained on CloudCodes",
        validators=[InputRequired("Enter how many of your sales staff will be trained."), NumberRange(0, 100_000)],
    )
    agrees_to_business_plan = BooleanField("We agree to a joint business plan with CloudCodes for the year")
    product_page_url = StringField(
        "Page of your web site that will carry the CloudCodes product",
        validators=[DataRequired("Enter the page's address."), Length(max=300), web_address],
    )
    marketing_campaign = TextAreaField(
        "The joint marketing campaign you propose",
        validators=[DataRequired("Describe the campaign you propose."), Length(20, 4000)],
        description="Audience, channels and timing, in a few sentences.",
    )

    def premier_input(self, currency: str) -> dict:
        try:
            revenue = Money.parse(self.committed_revenue.data, currency) if not self.committed_revenue.errors else None
        except MoneyError:  # not an amount: the field says so
            revenue = None
        return {
            "committed_revenue": revenue,
            "trained_sales_staff": self.trained_sales_staff.data,
            "agrees_to_business_plan": bool(self.agrees_to_business_plan.data),
            "product_page_url": (self.product_page_url.data or "").strip(),
            "marketing_campaign": (self.marketing_campaign.data or "").strip(),
        }


FORMS = {RESELLER: ResellerApplicationForm, PREMIER: PremierApplicationForm}


class AnswerForm(PortalForm):
    answer = TextAreaField("Your answer", validators=[DataRequired("Write your answer."), Length(max=4000)])


class WithdrawForm(PortalForm):
    confirm = BooleanField(
        "Yes, withdraw this application", validators=[DataRequired("Tick the box to confirm you want to withdraw.")]
    )
