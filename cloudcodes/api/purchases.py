"""``POST /api/v1/purchases`` and ``POST /api/v1/purchases/{order_id}/refunds``: what the billing system reports.

The views read and check the JSON strictly (every field, its type and its form), then hand a
small value to the billing service, which owns attribution, the commission, the ledger and the
transaction. Every answer is built from what is stored, so a replay answers as the first time did.

Decisions, also stated in the OpenAPI document:

- A field the API does not know is refused (400, ``unknown_field``, naming it): a misspelt
  ``referal_code`` must not silently record a purchase without its code.
- Amounts are JSON strings ("1234.50"), never numbers, with at most the currency's decimals.
- Times are RFC 3339 date-times (ISO 8601 with seconds and a zone: ``Z`` or ``+01:00``); a time
  without a zone is refused, and so is one more than a day ahead of the server's clock.
- The request fingerprint of a purchase is that of the parsed body (key order and spacing do not
  matter); a refund's adds the order it is for.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.api import blueprint
from cloudcodes.api.errors import ApiError
from cloudcodes.billing.models import Purchase, Refund
from cloudcodes.billing.services import (
    CHANNELS,
    BillingError,
    PurchaseInput,
    fingerprint,
    percent_text,
    record_purchase,
    record_refund,
    refund_totals,
)
from cloudcodes.extensions import db, limiter
from cloudcodes.money import MINOR_UNIT_DIGITS, Money, MoneyError, minor_digits

# Per client address, for each of the two endpoints. A billing system reports purchases as they
# happen; this only stops a runaway client. Tests and deployments may set API_WRITE_LIMIT.
WRITE_LIMIT = "600/minute"

MAX_ID_LENGTH = 100
# Printable ASCII, spaces only inside: ids travel in URLs and logs, and are compared byte for byte.
ID_PATTERN = r"^[!-~](?:[ -~]{0,98}[!-~])?$"
MAX_DOMAIN_INPUT = 2048  # a URL or an address on the domain is accepted; the service reads the domain from it
MAX_SKU_LENGTH = 40
MAX_SEATS = 1_000_000
MAX_INTEGER_DIGITS = 12
# The schema's form: more than zero, up to two decimals (checked per currency here).
AMOUNT_PATTERN = r"^(?:[1-9][0-9]{0,11}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?))$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
CURRENCIES = sorted(MINOR_UNIT_DIGITS)
# RFC 3339: date, "T", time with seconds (a fraction optional), then "Z" or an offset. No zone, no answer.
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_LEEWAY = timedelta(days=1)

PURCHASE_FIELDS = (
    "order_id",
    "customer_domain",
    "referral_code",
    "product",
    "seats",
    "amount",
    "currency",
    "channel",
    "purchased_at",
)
REFUND_FIELDS = ("refund_id", "amount", "currency", "refunded_at")

_ID = re.compile(ID_PATTERN)
_CURRENCY = re.compile(CURRENCY_PATTERN)
_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_FRACTION = re.compile(r"\.([0-9]+)")


def write_limit() -> str:
    return str(current_app.config.get("API_WRITE_LIMIT") or WRITE_LIMIT)


# --- Reading the request ------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ApiError(400, "duplicate_field", f"The field {key} appears more than once in the body.", key)
        seen[key] = value
    return seen


def json_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The body as a JSON object of known fields (UTF-8, no duplicate keys, no NaN), or a 400."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(
            400, "invalid_json", "The body is not valid JSON (UTF-8). Send one JSON object with the fields."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be one JSON object with the fields, not a list or a value.")
    for key in body:
        if key not in allowed:
            raise ApiError(
                400,
                "unknown_field",
                f"There is no field {key[:60]!r} here; the fields are {', '.join(allowed)}. Check its spelling.",
                key[:100],
            )
    return body


def _required(body: dict[str, Any], field: str) -> Any:
    if field not in body:
        raise ApiError(400, "missing_field", f"{field} is required.", field)
    value = body[field]
    if value is None:
        raise ApiError(400, "missing_field", f"{field} is required; it cannot be null.", field)
    return value


def _string(body: dict[str, Any], field: str, example: str) -> str:
    value = _required(body, field)
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{field}", f"{field} is a string, such as {example}.", field)
    return value


def read_id(body: dict[str, Any], field: str) -> str:
    value = _string(body, field, '"ORD-2026-0001"')
    if not _ID.fullmatch(value):
        raise ApiError(
            400,
            f"invalid_{field}",
            f"{field} is 1 to {MAX_ID_LENGTH} printable ASCII characters (letters, digits, punctuation; spaces "
            "only between them).",
            field,
        )
    return value


def read_currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise ApiError(
            400, "invalid_currency", 'currency is a three-letter ISO 4217 code in capitals, such as "USD".', "currency"
        )
    if value not in MINOR_UNIT_DIGITS:
        raise ApiError(
            400,
            "unsupported_currency",
            f"{value} is not a currency the program runs in ({', '.join(sorted(MINOR_UNIT_DIGITS))}).",
            "currency",
        )
    return value


def read_amount(body: dict[str, Any], currency: str) -> Money:
    value = _required(body, "amount")
    example = "1234.50" if minor_digits(currency) else "1234"
    if isinstance(value, bool) or not isinstance(value, str):
        raise ApiError(
            400,
            "invalid_amount",
            f'amount is a string such as "{example}", not a JSON number, so that no cent is lost on the way.',
            "amount",
        )
    digits = minor_digits(currency)
    fraction = rf"\.[0-9]{{1,{digits}}}" if digits else ""
    if not re.fullmatch(rf"(?:0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}})(?:{fraction})?", value):
        if re.fullmatch(r"[0-9]+\.[0-9]+", value) and len(value.partition(".")[2]) > digits:
            message = f"{currency} amounts have at most {digits} decimals; {value!r} has more."
        else:
            message = f'amount is a positive decimal written like "{example}" (digits, a point, no sign or spaces).'
        raise ApiError(400, "invalid_amount", message[:300], "amount")
    try:
        amount = Money.parse(value, currency)
    except MoneyError as error:
        raise ApiError(400, "invalid_amount", str(error), "amount") from None
    if amount.minor <= 0:
        raise ApiError(400, "invalid_amount", f'amount must be more than zero, such as "{example}".', "amount")
    return amount


def read_time(body: dict[str, Any], field: str) -> datetime:
    value = _string(body, field, '"2026-11-20T10:00:00Z"')
    problem = (
        f"{field} is an ISO 8601 (RFC 3339) date and time with seconds and a time zone, such as "
        '"2026-11-20T10:00:00Z" or "2026-11-20T11:00:00+01:00".'
    )
    if not _DATE_TIME.fullmatch(value):
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9:.]+)?", value):
            problem = f"{field} has no time zone, so the instant is unknown. " + problem
        raise ApiError(400, f"invalid_{field}", problem, field)
    # Python reads at most six decimals of a second; a finer fraction says nothing a purchase needs.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), value.upper(), count=1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"invalid_{field}", f"{field} is not a real date and time. " + problem, field) from None
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2999:
        raise ApiError(400, f"invalid_{field}", problem, field)
    moment = parsed.astimezone(UTC)  # the program's calendar (levels, holds) runs on UTC dates
    if moment < EARLIEST:
        raise ApiError(400, f"invalid_{field}", f"{field} is before 2000; check the date.", field)
    if moment > clock.now() + FUTURE_LEEWAY:
        raise ApiError(400, f"invalid_{field}", f"{field} is in the future; report it once it has happened.", field)
    return moment


def read_purchase(body: dict[str, Any]) -> PurchaseInput:
    order_id = read_id(body, "order_id")
    domain = _string(body, "customer_domain", '"acme.com"')
    if not domain.strip() or len(domain) > MAX_DOMAIN_INPUT:
        raise ApiError(
            400, "invalid_domain", "customer_domain is the customer's domain, such as acme.com.", "customer_domain"
        )
    code = body.get("referral_code")
    if code is not None and not isinstance(code, str):
        raise ApiError(
            400,
            "invalid_referral_code",
            "referral_code is a string (the code the customer gave) or null when there was none.",
            "referral_code",
        )
    product = _string(body, "product", '"CC-ACCESS"')
    if not product or len(product) > MAX_SKU_LENGTH or not product.isprintable():
        raise ApiError(400, "unknown_product", f"There is no product {product[:60]!r}; give its SKU.", "product")
    seats = _required(body, "seats")
    if isinstance(seats, bool) or not isinstance(seats, int):
        raise ApiError(
            400, "invalid_seats", "seats is a whole number (a JSON integer, not a string), such as 25.", "seats"
        )
    if not 1 <= seats <= MAX_SEATS:
        raise ApiError(400, "invalid_seats", f"seats is a whole number from 1 to {MAX_SEATS:,}.", "seats")
    currency = read_currency(_required(body, "currency"))
    amount = read_amount(body, currency)
    channel = _required(body, "channel")
    if channel not in CHANNELS:
        raise ApiError(
            400,
            "invalid_channel",
            'channel is "direct" (the customer bought from CloudCodes) or "reseller" (bought through the partner).',
            "channel",
        )
    return PurchaseInput(
        order_id=order_id,
        customer_domain=domain,
        product_sku=product,
        seats=seats,
        amount=amount,
        channel=channel,
        purchased_at=read_time(body, "purchased_at"),
        referral_code=_storable(code),
        source="api",
    )


def _storable(text: str | None) -> str | None:
    """The code as given, but for what no database can store (NUL, lone surrogates): those become U+FFFD.

    A purchase is recorded whatever its code; such a code simply does not hold.
    """
    if text is None:
        return None
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


# --- The answers --------------------------------------------------------------------------------


def amount_text(money: Money) -> str:
    return format(money.to_decimal(), f".{minor_digits(money.currency)}f")


def time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def purchase_body(purchase: Purchase) -> dict[str, Any]:
    """The purchase as stored. Only ``refunded`` moves later: it is what has been refunded so far."""
    refunded, _ = refund_totals(purchase)
    partner = purchase.partner
    commission = None
    if purchase.commission is not None:
        commission = {
            "amount": amount_text(purchase.commission),
            "currency": purchase.commission.currency,
            "level": purchase.level,
            "margin_pct": percent_text(purchase.margin_pct),
            "volume_points": percent_text(purchase.volume_points),
            "payable": purchase.channel == "direct",
        }
    return {
        "order_id": purchase.order_id,
        "customer_domain": purchase.customer_domain,
        "product": purchase.product.sku,
        "seats": purchase.seats,
        "amount": amount_text(purchase.amount),
        "currency": purchase.amount.currency,
        "channel": purchase.channel,
        "purchased_at": time_text(purchase.purchased_at),
        "attribution": {
            "partner": None if partner is None else {"id": partner.id, "name": partner.name},
            "rule": purchase.attribution,
            "reason": purchase.attribution_note,
            "code_check": purchase.code_check,
        },
        "commission": commission,
        "refunded": amount_text(refunded),
    }


def refund_body(refund: Refund) -> dict[str, Any]:
    """The refund as stored, with the totals as they stood once it was taken, so a replay answers the same."""
    purchase = refund.purchase
    currency = purchase.amount.currency
    refunded_minor = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.purchase_id == purchase.id, Refund.id <= refund.id
        )
    )
    refunded = Money(int(refunded_minor or 0), currency)
    return {
        "refund_id": refund.refund_id,
        "order_id": purchase.order_id,
        "amount": amount_text(refund.amount),
        "currency": refund.amount.currency,
        "refunded_at": time_text(refund.refunded_at),
        "commission_reversal": None if refund.commission_reversal is None else amount_text(refund.commission_reversal),
        "refunded_total": amount_text(refunded),
        "remaining": amount_text(purchase.amount - refunded),
    }


def _answer(body: dict[str, Any], created: bool) -> ResponseReturnValue:
    response = jsonify(body)
    response.status_code = 201 if created else 200
    return response


def _billing_error(error: BillingError) -> ApiError:
    return ApiError(error.status, error.code, str(error), error.field)


# --- The endpoints ------------------------------------------------------------------------------


@blueprint.post("/purchases")
@limiter.limit(write_limit)
def create_purchase() -> ResponseReturnValue:
    body = json_body(PURCHASE_FIELDS)
    data = read_purchase(body)
    try:
        recorded = record_purchase(data, fingerprint(body))
    except BillingError as error:
        raise _billing_error(error) from None
    return _answer(purchase_body(recorded.purchase), recorded.created)


@blueprint.post("/purchases/<path:order_id>/refunds")
@limiter.limit(write_limit)
def create_refund(order_id: str) -> ResponseReturnValue:
    body = json_body(REFUND_FIELDS)
    refund_id = read_id(body, "refund_id")
    given_currency = read_currency(body["currency"]) if body.get("currency") is not None else None
    _required(body, "amount")
    refunded_at = read_time(body, "refunded_at")
    # An order_id that could never have been recorded is not looked up (nor sent to the database as is).
    purchase = (
        db.session.scalar(select(Purchase).where(Purchase.order_id == order_id)) if _ID.fullmatch(order_id) else None
    )
    if purchase is None:
        raise ApiError(404, "unknown_order", f"There is no purchase with order_id {order_id[:100]!r}.", "order_id")
    currency = purchase.amount.currency
    if given_currency is not None and given_currency != currency:
        raise ApiError(
            400,
            "currency_mismatch",
            f"Order {purchase.order_id} was paid in {currency}; refund it in {currency}.",
            "currency",
        )
    amount = read_amount(body, currency)
    try:
        recorded = record_refund(order_id, refund_id, amount, refunded_at, fingerprint({"order_id": order_id, **body}))
    except BillingError as error:
        raise _billing_error(error) from None
    return _answer(refund_body(recorded.refund), recorded.created)
