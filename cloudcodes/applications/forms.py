from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from cloudcodes.applications.rules import HEARD_FROM_OPTIONS, ApplicationInput
from cloudcodes.money import Money
from cloudcodes.program.terms import PREMIER, RESELLER

HEARD_FROM = [SelectChoice("", "Choose one")] + [
    SelectChoice(value, label) for value, label in HEARD_FROM_OPTIONS.items()
]


@cache
def countries() -> list[SelectChoice]:
    text = resources.files("cloudcodes.applications").joinpath("data/countries.txt").read_text("utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [SelectChoice("", "Choose your country")] + [SelectChoice(name, name) for name in names]


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


class ResellerApplicationForm(FlaskForm):
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
        return ApplicationInput(
            level=self.level,
            company_name=self.company_name.data.strip(),
            website=self.website.data.strip(),
            country=self.country.data,
            contact_name=self.contact_name.data.strip(),
            contact_email=self.contact_email.data.strip(),
            contact_phone=self.contact_phone.data.strip(),
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


class PremierApplicationForm(ResellerApplicationForm):
    level = PREMIER

    committed_revenue = DecimalField(
        "Annual revenue you commit to (USD)",
        places=2,
        validators=[
            InputRequired("Enter the annual revenue you commit to."),
            NumberRange(0, 1_000_000_000, "Enter an amount up to 1,000,000,000."),
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
        revenue = self.committed_revenue.data
        return {
            "committed_revenue": Money.parse(revenue, currency) if revenue is not None else None,
            "trained_sales_staff": self.trained_sales_staff.data,
            "agrees_to_business_plan": bool(self.agrees_to_business_plan.data),
            "product_page_url": (self.product_page_url.data or "").strip(),
            "marketing_campaign": (self.marketing_campaign.data or "").strip(),
        }


FORMS = {RESELLER: ResellerApplicationForm, PREMIER: PremierApplicationForm}


class AnswerForm(FlaskForm):
    answer = TextAreaField("Your answer", validators=[DataRequired("Write your answer."), Length(max=4000)])


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        "Yes, withdraw this application", validators=[DataRequired("Tick the box to confirm you want to withdraw.")]
    )
