"""The customer's checkout (/redeem): a quote for a domain, an optional referral code, a product and seats;
then a checkout the billing system's payment page takes over. The portal never records a purchase here:
only the billing system, which takes the money, reports one (``record_purchase`` with ``checkout_id``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cloudcodes import clock, formatting
from cloudcodes.billing.models import Checkout, CheckoutStatus, Product
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.codes import ALPHABET
from cloudcodes.referrals.domains import DomainError, normalise_domain
from cloudcodes.referrals.services import check_code
from cloudcodes.services import ServiceError, transactional

QUOTE_SALT = "checkout-quote"
QUOTE_LIFETIME_SECONDS = 30 * 60
CHECKOUT_LIFETIME = timedelta(hours=24)
CHECKOUT_PREFIX = "CHK-"
CHECKOUT_ID_LENGTH = 26  # Crockford base32 symbols: 130 random bits, never guessed
MAX_SEATS = 100_000


class CheckoutError(ServiceError):
    """Something the customer entered cannot be used; ``field`` names it, ``code`` says why (for codes)."""


@dataclass(frozen=True)
class Quote:
    """What the customer would pay, and who referred it: never the partner's margin or commission."""

    domain: str
    product: Product
    seats: int
    price: Money
    code: str | None = None
    partner: Partner | None = None

    def token(self, email: str, nonce: str | None = None) -> str:
        """A signed token of what the customer asked for; its nonce becomes the checkout's id, so it opens once."""
        payload = {
            "d": self.domain,
            "c": self.code,
            "p": self.product.sku,
            "s": self.seats,
            "e": email,
            "m": self.price.minor,  # the price the customer saw
            "n": nonce or new_checkout_id(),
        }
        return _serializer().dumps(payload)


def new_checkout_id() -> str:
    return CHECKOUT_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(CHECKOUT_ID_LENGTH))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=QUOTE_SALT)


def active_products() -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)))


def receipt_address(raw: str) -> str:
    """The address the receipt goes to, as the customer typed it (checked, domain in IDNA form)."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise CheckoutError(f"Enter the e-mail address for your receipt: {error}", "email") from None


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
    if not check.ok or check.partner is None:
        raise CheckoutError(check.message, "code", code=check.reason)
    return Quote(domain, product, seats, price, check.code, check.partner)


def quote_from_token(token: str) -> tuple[Quote, str, str]:
    """The quote a confirmation token stands for (re-checked now), its receipt address and its checkout id."""
    try:
        payload = _serializer().loads(token, max_age=QUOTE_LIFETIME_SECONDS)
    except SignatureExpired:
        raise CheckoutError(
            "This quote is more than 30 minutes old. Start again to see the current price.", "token"
        ) from None
    except BadSignature:
        raise CheckoutError("This confirmation is not valid. Start again.", "token") from None
    quote = make_quote(payload["d"], payload["c"], payload["p"], int(payload["s"]))
    if quote.price.minor != payload.get("m"):
        raise CheckoutError("The price has changed since you saw it. Check the new price and confirm again.", "token")
    return quote, receipt_address(str(payload.get("e", ""))), str(payload["n"])


def _opened_by(token: str) -> Checkout | None:
    """The checkout a token already opened, whatever its age: "Continue" sent twice goes to the same one."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    return checkout_by_id(str(payload.get("n")))


def checkout_by_id(public_id: str) -> Checkout | None:
    if not (public_id.startswith(CHECKOUT_PREFIX) and len(public_id) == len(CHECKOUT_PREFIX) + CHECKOUT_ID_LENGTH):
        return None  # never sent to the database as it came
    return db.session.scalar(select(Checkout).where(Checkout.public_id == public_id))


@transactional
def open_checkout(token: str) -> Checkout:
    """Store what the customer chose (open for 24 hours) for the billing system's payment page.

    No purchase, ledger entry or level change comes from here: the billing system reports the
    purchase once it is paid, and only then does it count.
    """
    existing = _opened_by(token)
    if existing is not None:
        return existing
    quote, email, public_id = quote_from_token(token)
    now = clock.now()
    checkout = Checkout(
        public_id=public_id,
        customer_domain=quote.domain,
        referral_code=quote.code,
        product_id=quote.product.id,
        seats=quote.seats,
        price=quote.price,
        customer_email=email,
        created_at=now,
        expires_at=now + CHECKOUT_LIFETIME,
    )
    try:
        with db.session.begin_nested():
            db.session.add(checkout)
    except IntegrityError:  # the same "Continue" sent twice at the same moment: the first one stands
        opened = checkout_by_id(public_id)
        if opened is None:
            raise
        return opened
    return checkout


@transactional
def expire_checkouts(at: datetime | None = None) -> int:
    """End the open checkouts past their 24 hours; returns how many. They earn nothing."""
    return db.session.execute(
        update(Checkout)
        .where(Checkout.status == CheckoutStatus.OPEN, Checkout.expires_at <= (at or clock.now()))
        .values(status=CheckoutStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    ).rowcount
