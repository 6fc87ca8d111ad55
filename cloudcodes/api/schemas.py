"""The billing API's bodies as pydantic models: what a request may hold, and what an answer holds.

The models are the one statement of the bodies: the views read requests through them, and
``/api/v1/openapi.json`` describes them from them (``cloudcodes.api.openapi``).

Requests are read strictly: a JSON string is not a number, ``3.0`` is not a whole number, and a
field the API does not know is refused (a misspelt ``referal_code`` must not silently record a
purchase without its code). A refusal is answered in the API's own words, the ones this module
states, never pydantic's: each field type either maps what pydantic finds (``answered_as``) or
checks the value itself and says what is wrong with it. ``cloudcodes.api.bodies`` turns the first
problem into the error answer. Fields are declared in the order they are checked, so the field
answered is the first at fault in that order (the currency comes before the amount: an amount is
read in its currency's decimals).

Answers are built from what is stored and are not validated again (``model_construct``): an answer
about a purchase already recorded must never turn into an error. The document and the tests hold
them to their schemas instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from cloudcodes import clock
from cloudcodes.billing.models import AttributionRule, Channel
from cloudcodes.money import MINOR_UNIT_DIGITS, Money, MoneyError, minor_digits
from cloudcodes.program.terms import Level
from cloudcodes.referrals.codes import EXAMPLE_CODE

MAX_ID_LENGTH = 100
# Printable ASCII, spaces only inside: ids travel in URLs and logs, and are compared byte for byte.
ID_PATTERN = r"^[!-~](?:[ -~]{0,98}[!-~])?$"
MAX_DOMAIN_INPUT = 2048  # a URL or an address on the domain is accepted; the service reads the domain from it
MAX_SKU_LENGTH = 40
MAX_SEATS = 1_000_000
MAX_INTEGER_DIGITS = 12
# The documented form: more than zero, up to two decimals (checked per currency when read).
AMOUNT_PATTERN = r"^(?:[1-9][0-9]{0,11}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?))$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
CURRENCIES = sorted(MINOR_UNIT_DIGITS)
# RFC 3339: date, "T", time with seconds (a fraction optional), then "Z" or an offset. No zone, no answer.
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_LEEWAY = timedelta(days=1)
DECIMAL_TEXT = r"^[0-9]+(?:\.[0-9]+)?$"  # how the API writes an amount or a percentage

# Why a code does or does not hold (cloudcodes.referrals: the code's form, then the check).
CODE_CHECK_REASONS = (
    "ok",
    "typo",
    "unknown",
    "revoked",
    "expired",
    "domain_mismatch",
    "partner_suspended",
    "invalid_domain",
    "wrong_length",
    "bad_characters",
    "empty",
)
# Literal types built from the enumerations, so each schema lists its values in place: a request
# schema must stand alone (the document's examples are checked against it without the components).
ChannelName = Literal[tuple(channel.value for channel in Channel)]  # type: ignore[valid-type]
LevelName = Literal[tuple(level.value for level in Level)]  # type: ignore[valid-type]
AttributionRuleName = Literal[tuple(rule.value for rule in AttributionRule)]  # type: ignore[valid-type]
CodeCheckReason = Literal[CODE_CHECK_REASONS]  # type: ignore[valid-type]

_FRACTION = re.compile(r"\.([0-9]+)")


# --- Refusals in the API's words ------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """How the API refuses a value: ``code`` for programs, ``message`` for people.

    Both may name the field (``{field}``); the message may quote the value (``{value!r}``, cut to
    60 characters).
    """

    code: str
    message: str

    def error(self, field: str | None, value: Any) -> PydanticCustomError:
        shown = value[:60] if isinstance(value, str) else value
        return PydanticCustomError(self.code.format(field=field), self.message.format(field=field, value=shown))


def answered_as(refusal: Refusal, **by_error_type: Refusal) -> WrapValidator:
    """What pydantic finds wrong with a value (its type, length, pattern...), refused in the API's words.

    ``by_error_type`` words some of pydantic's error types apart (``string_type="..."``); every
    other problem is answered with ``refusal``. Put it right after the type and its constraints: it
    answers for those, and validators after it speak for themselves.
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            found = error.errors(include_url=False)[0]["type"]
            raise by_error_type.get(found, refusal).error(info.field_name, value) from None

    return WrapValidator(validate)


def _string_such_as(example: str) -> Refusal:
    return Refusal("invalid_{field}", f"{{field}} is a string, such as {example}.")


# --- Request fields ---------------------------------------------------------------------------------

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    answered_as(
        Refusal(
            "invalid_{field}",
            f"{{field}} is 1 to {MAX_ID_LENGTH} printable ASCII characters (letters, digits, punctuation; spaces "
            "only between them).",
        ),
        string_type=_string_such_as('"ORD-2026-0001"'),
    ),
]

CHECKOUT_ID_PATTERN = r"^CHK-[0-9A-HJKMNP-TV-Z]{26}$"
CheckoutIdText = Annotated[
    str | None,
    Field(pattern=CHECKOUT_ID_PATTERN),
    answered_as(
        Refusal(
            "invalid_checkout_id",
            "checkout_id is the id of the portal's checkout the customer paid, such as "
            '"CHK-7K3Q9M2PXW437K3Q9M2PXW437K", or null (or absent) for a purchase made elsewhere.',
        )
    ),
]

NOT_A_DOMAIN = Refusal("invalid_domain", "customer_domain is the customer's domain, such as acme.com.")


def _domain_input(text: str, info: ValidationInfo) -> str:
    if not text.strip() or len(text) > MAX_DOMAIN_INPUT:
        raise NOT_A_DOMAIN.error(info.field_name, text)
    return text


# The length is checked here rather than by pydantic's constraints, which refuse any text holding
# a lone surrogate: such a name goes on to the service, which reads the registrable domain from
# what was given and says what is wrong with it.
CustomerDomain = Annotated[
    str,
    answered_as(NOT_A_DOMAIN, string_type=_string_such_as('"acme.com"')),
    AfterValidator(_domain_input),
    Field(json_schema_extra={"minLength": 1, "maxLength": MAX_DOMAIN_INPUT}),
]


def _storable(text: str | None) -> str | None:
    """The code as given, but for what no database can store (NUL, lone surrogates): those become U+FFFD.

    A purchase is recorded whatever its code; such a code simply does not hold.
    """
    if text is None:
        return None
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


ReferralCodeText = Annotated[
    str | None,
    answered_as(
        Refusal(
            "invalid_referral_code",
            "referral_code is a string (the code the customer gave) or null when there was none.",
        )
    ),
    AfterValidator(_storable),
]

UNKNOWN_PRODUCT = Refusal("unknown_product", "There is no product {value!r}; give its SKU.")


def _printable(sku: str, info: ValidationInfo) -> str:
    if not sku.isprintable():
        raise UNKNOWN_PRODUCT.error(info.field_name, sku)
    return sku


Sku = Annotated[
    str,
    Field(min_length=1, max_length=MAX_SKU_LENGTH),
    answered_as(UNKNOWN_PRODUCT, string_type=_string_such_as('"CC-ACCESS"')),
    AfterValidator(_printable),  # which SKUs exist is the service's to say
]

Seats = Annotated[
    int,
    Field(ge=1, le=MAX_SEATS),
    answered_as(
        Refusal("invalid_seats", f"seats is a whole number from 1 to {MAX_SEATS:,}."),
        int_type=Refusal("invalid_seats", "seats is a whole number (a JSON integer, not a string), such as 25."),
    ),
]


def _supported(currency: str) -> str:
    if currency not in MINOR_UNIT_DIGITS:
        raise PydanticCustomError(
            "unsupported_currency",
            f"{currency} is not a currency the program runs in ({', '.join(CURRENCIES)}).",
        )
    return currency


Currency = Annotated[
    str,
    Field(pattern=CURRENCY_PATTERN, json_schema_extra={"enum": CURRENCIES}),
    answered_as(Refusal("invalid_currency", 'currency is a three-letter ISO 4217 code in capitals, such as "USD".')),
    AfterValidator(_supported),
]

PurchaseChannel = Annotated[
    ChannelName,
    answered_as(
        Refusal(
            "invalid_channel",
            'channel is "direct" (the customer bought from CloudCodes) or "reseller" (bought through the partner).',
        )
    ),
]


AMOUNT_SCHEMA = {"type": "string", "pattern": AMOUNT_PATTERN}
AMOUNT_TEXT = " A JSON string, never a number, with at most the currency's decimals (two for USD) and more than zero."


def _invalid_amount(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_amount", message)


def _read_amount(value: Any, info: ValidationInfo) -> Money | Any:
    """The amount in the currency beside it, which is checked first: the decimals allowed are the currency's."""
    currency = info.data.get("currency")
    if currency is None:  # the currency was refused, and that is the answer
        return value
    digits = minor_digits(currency)
    example = "1234.50" if digits else "1234"
    if not isinstance(value, str):
        raise _invalid_amount(
            f'amount is a string such as "{example}", not a JSON number, so that no cent is lost on the way.'
        )
    fraction = rf"\.[0-9]{{1,{digits}}}" if digits else ""
    if not re.fullmatch(rf"(?:0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}})(?:{fraction})?", value):
        if re.fullmatch(r"[0-9]+\.[0-9]+", value) and len(value.partition(".")[2]) > digits:
            message = f"{currency} amounts have at most {digits} decimals; {value!r} has more."
        else:
            message = f'amount is a positive decimal written like "{example}" (digits, a point, no sign or spaces).'
        raise _invalid_amount(message[:300])
    try:
        amount = Money.parse(value, currency)
    except MoneyError as error:
        raise _invalid_amount(str(error)) from None
    if amount.minor <= 0:
        raise _invalid_amount(f'amount must be more than zero, such as "{example}".')
    return amount


def amount_text(money: Money) -> str:
    """An amount as the API writes it: its decimal text with the currency's decimals ("1234.50")."""
    return format(money.to_decimal(), f".{minor_digits(money.currency)}f")


# Written back as the text it is read from (which also keeps Money's own fields out of the document).
Amount = Annotated[
    Money, PlainValidator(_read_amount), PlainSerializer(amount_text, return_type=str), WithJsonSchema(AMOUNT_SCHEMA)
]


def _sent(value: Any) -> Any:
    if value is None:  # answered as missing (cloudcodes.api.bodies)
        raise PydanticCustomError("missing_field", "a value is required")
    return value


# A refund's amount is read in its purchase's currency, once the purchase is found (AmountInCurrency).
AmountAsSent = Annotated[Any, PlainValidator(_sent), WithJsonSchema(AMOUNT_SCHEMA)]


def _read_time(value: Any, info: ValidationInfo) -> datetime:
    field = info.field_name
    if not isinstance(value, str):
        raise _string_such_as('"2026-11-20T10:00:00Z"').error(field, value)
    problem = (
        f"{field} is an ISO 8601 (RFC 3339) date and time with seconds and a time zone, such as "
        '"2026-11-20T10:00:00Z" or "2026-11-20T11:00:00+01:00".'
    )
    invalid = f"invalid_{field}"
    if not re.fullmatch(DATE_TIME_PATTERN, value):
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9:.]+)?", value):
            problem = f"{field} has no time zone, so the instant is unknown. " + problem
        raise PydanticCustomError(invalid, problem)
    # Python reads at most six decimals of a second; a finer fraction says nothing a purchase needs.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), value.upper(), count=1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError(invalid, f"{field} is not a real date and time. " + problem) from None
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2999:
        raise PydanticCustomError(invalid, problem)
    moment = parsed.astimezone(UTC)  # the program's calendar (levels, holds) runs on UTC dates
    if moment < EARLIEST:
        raise PydanticCustomError(invalid, f"{field} is before 2000; check the date.")
    if moment > clock.now() + FUTURE_LEEWAY:
        raise PydanticCustomError(invalid, f"{field} is in the future; report it once it has happened.")
    return moment


def time_text(moment: datetime) -> str:
    """A time as the API writes it: RFC 3339 in UTC, with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


ReportedTime = Annotated[
    datetime,
    PlainValidator(_read_time),
    PlainSerializer(time_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
TIME_TEXT = (
    " RFC 3339 (ISO 8601 with seconds and a time zone, `Z` or `+01:00`): a time without a zone is refused,"
    " and so is one more than a day ahead of the server's clock."
)
ID_TEXT = f" 1 to {MAX_ID_LENGTH} printable ASCII characters, spaces only between them."


# --- Requests -------------------------------------------------------------------------------------


class RequestBody(BaseModel):
    """A request body: every field checked strictly, none unknown."""

    model_config = ConfigDict(strict=True, extra="forbid")

    # The fields in the order a refusal of an unknown field names them (as documented); the fields
    # themselves are declared in the order they are checked.
    listed_fields: ClassVar[tuple[str, ...]] = ()


class PurchaseRequest(RequestBody):
    """A purchase, as the billing system reports it."""

    listed_fields = (
        "order_id",
        "checkout_id",
        "customer_domain",
        "referral_code",
        "product",
        "seats",
        "amount",
        "currency",
        "channel",
        "purchased_at",
    )

    order_id: Identifier = Field(description="The billing system's id of the order, unique per purchase." + ID_TEXT)
    checkout_id: CheckoutIdText = Field(
        None,
        description="The portal's checkout the customer paid (from the payment page's link), or null (or "
        "absent) for a purchase made elsewhere. With it, the purchase is attributed by the checkout's referral "
        "code; a checkout is paid once, and its domain, product and seats must be those reported (422 "
        "otherwise; 404 for an unknown checkout, 410 for an expired one).",
        examples=["CHK-7K3Q9M2PXW437K3Q9M2PXW437K"],
    )
    customer_domain: CustomerDomain = Field(
        description="The customer's domain (or a URL or address on it); recorded as its registrable domain in "
        "ASCII. IP addresses, bare public suffixes and bad names are refused.",
        examples=["acme.com"],
    )
    referral_code: ReferralCodeText = Field(
        None,
        description="The code the customer gave, as typed, or null (or absent) when there was none. Never "
        "refused: a code that does not hold is recorded with the reason.",
        examples=[EXAMPLE_CODE],
    )
    product: Sku = Field(description="The product's SKU, such as CC-ACCESS.", examples=["CC-ACCESS"])
    seats: Seats = Field(description="Users bought.")
    currency: Currency = Field(description="ISO 4217 code in capitals; the product's currency (USD).", examples=["USD"])
    amount: Amount = Field(description="What the customer paid, net of tax." + AMOUNT_TEXT, examples=["1234.50"])
    channel: PurchaseChannel = Field(
        description="`direct`: bought from CloudCodes, the commission is paid to the partner. `reseller`: bought "
        "through the partner, the same figure is the discount it received."
    )
    purchased_at: ReportedTime = Field(
        description="When the purchase was made." + TIME_TEXT, examples=["2026-11-20T10:00:00Z"]
    )


class RefundRequest(RequestBody):
    """A refund of a purchase, as the billing system reports it."""

    listed_fields = ("refund_id", "amount", "currency", "refunded_at")

    refund_id: Identifier = Field(description="The billing system's id of the refund, unique per refund." + ID_TEXT)
    currency: Currency | None = Field(None, description="Optional; when sent, the purchase's currency.")
    # Only required here: it is read in the purchase's currency once the purchase is found, so an
    # unknown order is answered 404 whatever the amount.
    amount: AmountAsSent = Field(description="What is refunded." + AMOUNT_TEXT, examples=["234.50"])
    refunded_at: ReportedTime = Field(
        description="When the refund was made; not before the purchase." + TIME_TEXT,
        examples=["2026-11-25T09:30:00Z"],
    )


class AmountInCurrency(RequestBody):
    """An amount read in a currency the request does not carry itself (a refund's: its purchase's)."""

    currency: str
    amount: Amount


# --- Answers --------------------------------------------------------------------------------------


class ResponseBody(BaseModel):
    """An answer, built with ``model_construct`` from what is stored (see the module's docstring)."""


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ErrorDetail(ResponseBody):
    code: str = Field(description="What went wrong, for programs.")
    message: str = Field(description="What went wrong and what to do, for people.")
    # Left out of the answer, never null, when no one field is at fault.
    field: str | SkipJsonSchema[None] = Field(
        None, description="The request field at fault, when there is one.", json_schema_extra=_no_default
    )


class Error(ResponseBody):
    """Every refusal: `{"error": {"code", "message", "field"}}`."""

    error: ErrorDetail


MoneyText = Annotated[str, Field(pattern=DECIMAL_TEXT)]
CurrencyCode = Annotated[str, Field(pattern=CURRENCY_PATTERN)]
UtcTime = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="In UTC.")]


class CodePartner(ResponseBody):
    name: str
    level: LevelName | None


class CodeCheck(ResponseBody):
    """Whether a referral code holds for a customer domain."""

    code: str | None = Field(
        description="The code in canonical form, or null when it could not be read.", examples=[EXAMPLE_CODE]
    )
    domain: str | None = Field(
        description="The registrable domain (ASCII), or null when it is not a valid domain.", examples=["acme.com"]
    )
    valid: bool
    reason: CodeCheckReason = Field(description="`ok`, or why the code does not hold.")
    message: str = Field(description="What it means, or what to do, for the customer.")
    partner: CodePartner | None = Field(description="The partner of a code that holds; null otherwise.")


class AttributedPartner(ResponseBody):
    id: int
    name: str


class Attribution(ResponseBody):
    partner: AttributedPartner | None = Field(description="The partner credited, or null.")
    rule: AttributionRuleName = Field(
        description="Which rule attributed it: a referral `code`, the domain's `registration`, a `renewal` of an "
        "earlier attributed purchase, or `none`."
    )
    reason: str = Field(description="Why, for people (also why a code was not used).")
    code_check: CodeCheckReason | None = Field(
        description="`ok`, or why the code given does not hold; null when no code was given."
    )


class Commission(ResponseBody):
    amount: MoneyText = Field(
        description="amount x (margin + volume points) / 100, rounded half up to the cent.", examples=["185.18"]
    )
    currency: CurrencyCode
    level: LevelName = Field(description="The level in force on the purchase date.")
    margin_pct: MoneyText = Field(examples=["15"])
    volume_points: MoneyText = Field(description="Extra points for the seat count (Premier only).", examples=["0"])
    payable: bool = Field(
        description="true for a direct purchase (paid to the partner after the hold); false for a reseller "
        "purchase (the discount the partner already took)."
    )


class Purchase(ResponseBody):
    """A purchase as recorded, with its attribution and commission."""

    order_id: str
    customer_domain: str = Field(description="The registrable domain, ASCII (punycode).")
    product: str
    seats: Annotated[int, Field(ge=1)]
    amount: MoneyText = Field(description="What the customer paid.", examples=["1234.50"])
    currency: CurrencyCode
    channel: ChannelName
    purchased_at: UtcTime
    attribution: Attribution
    commission: Commission | None = Field(
        description="The partner's commission, fixed when recorded; null when unattributed."
    )
    refunded: MoneyText = Field(
        description="What has been refunded of it so far (the one field a replay may change).", examples=["0.00"]
    )


class Checkout(ResponseBody):
    """A checkout: what the customer chose on the portal, for the billing system's payment page."""

    checkout_id: str = Field(examples=["CHK-7K3Q9M2PXW437K3Q9M2PXW437K"])
    status: Annotated[str, Field(pattern="^(open|paid)$")] = Field(
        description="`open` until its purchase is reported, then `paid` (an expired checkout answers 410)."
    )
    customer_domain: str = Field(description="The registrable domain, ASCII (punycode).", examples=["acme.com"])
    referral_code: str | None = Field(
        description="The referral code the customer gave, canonical, or null.", examples=[EXAMPLE_CODE]
    )
    product: str = Field(description="The product's SKU.", examples=["CC-ACCESS"])
    seats: Annotated[int, Field(ge=1)]
    amount: MoneyText = Field(description="The price the customer was shown, for one year.", examples=["240.00"])
    currency: CurrencyCode
    customer_email: str = Field(description="Where the customer wants the receipt.")
    expires_at: UtcTime = Field(description="When it ends unpaid: 24 hours after it was opened.")
    order_id: str | None = Field(description="The order that paid it, or null while it is open.")


class Refund(ResponseBody):
    """A refund as recorded, with the totals as they stood once it was taken."""

    refund_id: str
    order_id: str
    amount: MoneyText = Field(description="What was refunded.", examples=["234.50"])
    currency: CurrencyCode
    refunded_at: UtcTime
    commission_reversal: MoneyText | None = Field(
        description="The commission taken back by this refund; null when the purchase earned none."
    )
    refunded_total: MoneyText = Field(description="All refunded of the purchase, up to and including this refund.")
    remaining: MoneyText = Field(description="What is left to refund after this refund.")
