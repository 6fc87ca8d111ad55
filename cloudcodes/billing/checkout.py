"""The customer's checkout (/redeem): a quote for a domain, an optional referral code, a product and seats;
then a confirmation that records a ``direct`` purchase exactly once, however often it is sent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import select

from cloudcodes import clock, formatting
from cloudcodes.billing.commission import commission_for
from cloudcodes.billing.models import Channel, Product, Purchase, PurchaseSource
from cloudcodes.billing.services import PurchaseInput, Recorded, fingerprint, record_purchase
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner
from cloudcodes.program.services import program_terms
from cloudcodes.program.terms import Level
from cloudcodes.referrals.domains import DomainError, normalise_domain
from cloudcodes.referrals.services import check_code
from cloudcodes.services import ServiceError

QUOTE_SALT = "checkout-quote"
RECEIPT_SALT = "checkout-receipt"
QUOTE_LIFETIME_SECONDS = 30 * 60
MAX_SEATS = 100_000


class CheckoutError(ServiceError):
    """Something the customer entered cannot be used; ``field`` names it, ``code`` says why (for codes)."""


@dataclass(frozen=True)
class Quote:
    domain: str
    product: Product
    seats: int
    price: Money
    code: str | None = None
    partner: Partner | None = None
    level: Level | None = None
    partner_rate: Decimal | None = None
    partner_share: Money | None = None

    @property
    def level_name(self) -> str | None:
        return None if self.level is None else self.level.label

    def token(self, nonce: str | None = None) -> str:
        """A signed token of what the customer asked for; its nonce makes the order id, so it records once."""
        payload = {
            "d": self.domain,
            "c": self.code,
            "p": self.product.sku,
            "s": self.seats,
            "m": self.price.minor,  # the price the customer saw
            "n": nonce or secrets.token_hex(12),
        }
        return _serializer(QUOTE_SALT).dumps(payload)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def active_products() -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)))


def make_quote(raw_domain: str, raw_code: str | None, sku: str, seats: int) -> Quote:
    try:
        domain = normalise_domain(raw_domain)
    except DomainError as error:
        raise CheckoutError(str(error), "domain") from None
    product = db.session.scalar(select(Product).where(Product.sku == sku, Product.active.is_(True)))
    if product is None:
        raise CheckoutError("Choose one of the products listed.", "product")
    if not 1 <= seats <= MAX_SEATS:
        raise CheckoutError(f"Enter between 1 and {formatting.number(MAX_SEATS)} seats.", "seats")
    price = Money(product.price_per_seat.minor * seats, product.price_per_seat.currency)
    if not (raw_code or "").strip():
        return Quote(domain, product, seats, price)
    check = check_code(raw_code or "", domain)
    if not check.ok or check.partner is None or check.level is None:
        raise CheckoutError(check.message, "code", code=check.reason)
    terms = program_terms()
    rate = terms.margin_pct(check.level) + terms.volume_points(check.level, seats)
    return Quote(
        domain,
        product,
        seats,
        price,
        check.code,
        check.partner,
        check.level,
        rate,
        commission_for(price, rate, Decimal(0)),
    )


def _order_id(nonce: str) -> str:
    return f"WEB-{nonce}"


def quote_from_token(token: str) -> tuple[Quote, str]:
    """The quote a confirmation token stands for (re-checked now), and its nonce."""
    try:
        payload = _serializer(QUOTE_SALT).loads(token, max_age=QUOTE_LIFETIME_SECONDS)
    except SignatureExpired:
        raise CheckoutError(
            "This quote is more than 30 minutes old. Start again to see the current price.", "token"
        ) from None
    except BadSignature:
        raise CheckoutError("This confirmation is not valid. Start again.", "token") from None
    quote = make_quote(payload["d"], payload["c"], payload["p"], int(payload["s"]))
    if quote.price.minor != payload.get("m"):
        raise CheckoutError("The price has changed since you saw it. Check the new price and confirm again.", "token")
    return quote, payload["n"]


def _already_confirmed(token: str) -> Purchase | None:
    """The purchase a token already made, whatever its age: a resent confirmation finds its receipt."""
    try:
        payload = _serializer(QUOTE_SALT).loads(token)
    except BadSignature:
        return None
    return db.session.scalar(select(Purchase).where(Purchase.order_id == _order_id(str(payload.get("n")))))


def confirm(token: str) -> Recorded:
    """Record the purchase the token stands for; sending it again answers with the same purchase."""
    existing = _already_confirmed(token)
    if existing is not None:
        return Recorded(existing, created=False)
    quote, nonce = quote_from_token(token)
    data = PurchaseInput(
        order_id=_order_id(nonce),
        customer_domain=quote.domain,
        product_sku=quote.product.sku,
        seats=quote.seats,
        amount=quote.price,
        channel=Channel.DIRECT,
        purchased_at=clock.now(),
        referral_code=quote.code,
        source=PurchaseSource.CHECKOUT,
    )
    request = {
        "domain": quote.domain,
        "code": quote.code,
        "product": quote.product.sku,
        "seats": quote.seats,
        "nonce": nonce,
    }
    return record_purchase(data, fingerprint(request))


def _receipts() -> URLSafeSerializer:
    # Not timed: a purchase always has the same receipt address, however often it is confirmed.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=RECEIPT_SALT)


def receipt_token(purchase: Purchase) -> str:
    return _receipts().dumps(purchase.id)


def purchase_for_receipt(token: str) -> Purchase | None:
    try:
        purchase_id = _receipts().loads(token)
    except BadSignature:
        return None
    return db.session.get(Purchase, purchase_id)
