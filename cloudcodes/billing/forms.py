"""The customer's checkout forms (/redeem): what to buy, then "Continue to payment"."""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from cloudcodes import formatting
from cloudcodes.billing.models import Product
from cloudcodes.forms import PortalForm
from cloudcodes.referrals.codes import EXAMPLE_CODE

SEATS_MESSAGE = "Enter the number of seats (users) as a whole number, such as 25."


class SeatsField(IntegerField):
    """An integer field whose refusal of non-numbers says what to type."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(SEATS_MESSAGE) from None


def product_choices(products: list[Product]) -> list[SelectChoice]:
    return [SelectChoice("", "Choose a product")] + [
        SelectChoice(product.sku, f"{product.name}: {formatting.money(product.price_per_seat)} per user per year")
        for product in products
    ]


class CheckoutForm(PortalForm):
    domain = StringField(
        "Your domain",
        validators=[DataRequired("Enter your Google Workspace domain, such as example.com."), Length(max=300)],
        description="Your Google Workspace domain, e.g. example.com",
    )
    code = StringField(
        "Referral code (optional)",
        validators=[Optional(), Length(max=60, message="A referral code is much shorter; check it and try again.")],
        description=f"From your CloudCodes partner, like {EXAMPLE_CODE}. Leave empty to buy without one.",
    )
    # Any value is accepted here: the checkout service says whether it is a product on sale now.
    product = SelectField("Product", validators=[DataRequired("Choose a product.")], validate_choice=False)
    seats = SeatsField(
        "Seats (users)", validators=[InputRequired(SEATS_MESSAGE)], render_kw={"min": 1, "inputmode": "numeric"}
    )
    email = StringField(
        "E-mail for your receipt",
        validators=[DataRequired("Enter the e-mail address your receipt should go to."), Length(max=254)],
        description="We send the receipt here once your payment is confirmed.",
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )

    def __init__(self, products: list[Product], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.product.choices = product_choices(products)


class ConfirmForm(PortalForm):
    """The signed quote is what counts; the other fields only refill the first form if it must be changed."""

    token = HiddenField(validators=[DataRequired()])
    domain = HiddenField()
    code = HiddenField()
    product = HiddenField()
    seats = HiddenField()
    email = HiddenField()
