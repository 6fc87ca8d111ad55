"""The API's description of itself, served at ``GET /api/v1/openapi.json`` (OpenAPI 3.1).

Built by ``document()`` from one function per area, so each new endpoint adds its paths and
schemas next to the others and the document keeps matching what the API does.
"""

from __future__ import annotations

from typing import Any

from cloudcodes.api.purchases import (
    AMOUNT_PATTERN,
    CURRENCIES,
    CURRENCY_PATTERN,
    ID_PATTERN,
    MAX_DOMAIN_INPUT,
    MAX_ID_LENGTH,
    MAX_SEATS,
    MAX_SKU_LENGTH,
    WRITE_LIMIT,
)
from cloudcodes.api.referral_codes import REFERRAL_CODE_LIMIT
from cloudcodes.api.signatures import HEADER, TOLERANCE
from cloudcodes.referrals.codes import EXAMPLE_CODE

REASONS = [
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
]
SIGNATURE_ERRORS = ["missing_signature", "malformed_signature", "stale_signature", "bad_signature"]

SIGNATURE_DESCRIPTION = f"""Every request except this document is signed with the webhook secret CloudCodes gave you:

    {HEADER}: t=<unix seconds>,v1=<hex>

where `<hex>` is the lower-case hexadecimal HMAC-SHA256, keyed by the secret, of `<t>.<raw body>`:
the timestamp as written in the header, a dot, and the request body exactly as sent. A GET has an
empty body, so its signed text is `<t>.` (for example `1767225600.`). A `t` more than {TOLERANCE} seconds
from the server's clock is refused, so sign each request as you send it. During a rotation of the
secret you may send several `v1=` values (`t=...,v1=<with new>,v1=<with old>`); the request holds if
any of them matches. A missing, malformed, stale or wrong signature is answered 401 and changes nothing.
"""


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "What went wrong, for programs."},
                    "message": {"type": "string", "description": "What went wrong and what to do, for people."},
                    "field": {"type": "string", "description": "The request field at fault, when there is one."},
                },
            }
        },
    }


def _error(description: str, codes: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    if codes:
        description = f"{description} Codes: {', '.join(f'`{code}`' for code in codes)}."
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def common_components() -> dict[str, Any]:
    return {
        "securitySchemes": {
            "signature": {
                "type": "apiKey",
                "in": "header",
                "name": HEADER,
                "description": SIGNATURE_DESCRIPTION,
            }
        },
        "schemas": {"Error": _error_schema()},
        "responses": {
            "BadSignature": _error("The request is not signed as it should be; nothing changed.", SIGNATURE_ERRORS),
            "NotConfigured": _error("No webhook secret is configured on the server: the API refuses every request."),
            "TooLarge": _error("The body is larger than the server accepts (1 MiB); nothing changed."),
            "RateLimited": {
                **_error("Too many requests from this client; the Retry-After header says how long to wait."),
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
            },
        },
    }


def referral_code_paths() -> dict[str, Any]:
    return {
        "/api/v1/referral-codes/{code}": {
            "get": {
                "operationId": "checkReferralCode",
                "summary": "Whether a referral code holds for a customer domain",
                "description": (
                    "For the checkout: whether the code holds for the domain and, when it does, the partner "
                    "that issued it and the partner's level today. A code that does not hold is still a 200, "
                    "with `valid: false`, the `reason` and a message for the customer. The code is read "
                    "forgivingly (case, spaces, dashes and the CC prefix do not matter); the domain may be "
                    "a URL or a subdomain. Signed like every request: the body of a GET is empty, so the "
                    f"signed text is `<t>.`. Rate limited to {REFERRAL_CODE_LIMIT.replace('/', ' a ')} per client."
                ),
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": EXAMPLE_CODE,
                    },
                    {
                        "name": "domain",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                        "description": "The customer's domain (or a URL or address on it).",
                        "example": "acme.com",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The answer for that code and domain.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeCheck"}}},
                    },
                    "400": _error("The domain parameter is missing (`field` is `domain`).", ["missing_parameter"]),
                    "401": {"$ref": "#/components/responses/BadSignature"},
                    "429": {"$ref": "#/components/responses/RateLimited"},
                    "503": {"$ref": "#/components/responses/NotConfigured"},
                },
            }
        }
    }


def referral_code_schemas() -> dict[str, Any]:
    return {
        "CodeCheck": {
            "type": "object",
            "required": ["code", "domain", "valid", "reason", "message", "partner"],
            "properties": {
                "code": {
                    "type": ["string", "null"],
                    "description": "The code in canonical form, or null when it could not be read.",
                    "example": EXAMPLE_CODE,
                },
                "domain": {
                    "type": ["string", "null"],
                    "description": "The registrable domain (ASCII), or null when it is not a valid domain.",
                    "example": "acme.com",
                },
                "valid": {"type": "boolean"},
                "reason": {"type": "string", "enum": REASONS, "description": "`ok`, or why the code does not hold."},
                "message": {"type": "string", "description": "What it means, or what to do, for the customer."},
                "partner": {
                    "oneOf": [{"$ref": "#/components/schemas/CodePartner"}, {"type": "null"}],
                    "description": "The partner of a code that holds; null otherwise.",
                },
            },
        },
        "CodePartner": {
            "type": "object",
            "required": ["name", "level"],
            "properties": {
                "name": {"type": "string"},
                "level": {"type": ["string", "null"], "enum": ["reseller", "premier", None]},
            },
        },
    }


# --- Purchases and refunds ----------------------------------------------------------------------

ATTRIBUTION_RULES = ["code", "registration", "renewal", "none"]
LEVELS = ["reseller", "premier"]
CHANNELS = ["direct", "reseller"]
DECIMAL_TEXT = r"^[0-9]+(?:\.[0-9]+)?$"
PURCHASE_400 = [
    "invalid_json",
    "duplicate_field",
    "unknown_field",
    "missing_field",
    "invalid_order_id",
    "invalid_domain",
    "invalid_referral_code",
    "unknown_product",
    "invalid_seats",
    "invalid_currency",
    "unsupported_currency",
    "currency_mismatch",
    "invalid_amount",
    "invalid_channel",
    "invalid_purchased_at",
]
REFUND_400 = [
    "invalid_json",
    "duplicate_field",
    "unknown_field",
    "missing_field",
    "invalid_refund_id",
    "invalid_currency",
    "unsupported_currency",
    "currency_mismatch",
    "invalid_amount",
    "invalid_refunded_at",
]
EXAMPLE_PURCHASE = {
    "order_id": "ORD-2026-0001",
    "customer_domain": "acme.com",
    "referral_code": EXAMPLE_CODE,
    "product": "CC-ACCESS",
    "seats": 25,
    "amount": "1234.50",
    "currency": "USD",
    "channel": "direct",
    "purchased_at": "2026-11-20T10:00:00Z",
}
EXAMPLE_REFUND = {"refund_id": "RF-2026-0001", "amount": "234.50", "refunded_at": "2026-11-25T09:30:00Z"}
WRITE_LIMIT_TEXT = WRITE_LIMIT.replace("/", " a ")


def _id_schema(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        "pattern": ID_PATTERN,
        "description": description + f" 1 to {MAX_ID_LENGTH} printable ASCII characters, spaces only between them.",
    }


def _amount_request_schema(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "description": description
        + " A JSON string, never a number, with at most the currency's decimals (two for USD) and more than zero.",
        "examples": ["1234.50"],
    }


def _date_time_schema(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "date-time",
        "description": description
        + " RFC 3339 (ISO 8601 with seconds and a time zone, `Z` or `+01:00`): a time without a zone is refused,"
        " and so is one more than a day ahead of the server's clock.",
        "examples": ["2026-11-20T10:00:00Z"],
    }


def _money_text(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": DECIMAL_TEXT, "description": description, "examples": ["185.18"]}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


def _write_errors(bad_request: list[str], conflict: str) -> dict[str, Any]:
    return {
        "400": _error("A field is missing or wrong; `field` names it and nothing was recorded.", bad_request),
        "401": {"$ref": "#/components/responses/BadSignature"},
        "409": _error(
            f"The same `{conflict}` was already recorded with another body; nothing changed.", [f"{conflict}_conflict"]
        ),
        "413": {"$ref": "#/components/responses/TooLarge"},
        "429": {"$ref": "#/components/responses/RateLimited"},
        "503": {"$ref": "#/components/responses/NotConfigured"},
    }


def purchase_paths() -> dict[str, Any]:
    return {
        "/api/v1/purchases": {
            "post": {
                "operationId": "recordPurchase",
                "summary": "Report a purchase",
                "description": (
                    "Records a purchase once per `order_id`, attributes it (first match wins: a referral code "
                    "that holds for the customer's domain, the domain's active registration, an earlier "
                    "attributed purchase of the domain) and fixes the partner's commission at the level in force "
                    "on `purchased_at`. A purchase is recorded whatever its code: a code that does not hold is "
                    "kept with the reason in `attribution.code_check`. Sending the same `order_id` with the same "
                    "body again answers 200 with the same purchase and records nothing; another body for it is a "
                    "409. Fields the API does not know are refused (400, `unknown_field`), so a misspelt field "
                    f"never goes unnoticed. Rate limited to {WRITE_LIMIT_TEXT} per client."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/PurchaseRequest"},
                            "example": EXAMPLE_PURCHASE,
                        }
                    },
                },
                "responses": {
                    "201": _json("Purchase", "Recorded now."),
                    "200": _json("Purchase", "Recorded before with this very body: the same purchase, nothing new."),
                    **_write_errors(PURCHASE_400, "order_id"),
                },
            }
        },
        "/api/v1/purchases/{order_id}/refunds": {
            "post": {
                "operationId": "recordRefund",
                "summary": "Report a refund of a purchase",
                "description": (
                    "Records a refund once per `refund_id` and reverses the commission in proportion; the refund "
                    "that brings the total to the full amount reverses exactly what is left, so the reversals "
                    "add up to the commission. The currency is the purchase's: `currency` may be sent, and must "
                    "then match. The same `refund_id` with the same body answers 200 and records nothing; with "
                    "another body (or for another order) it is a 409. More than is left to refund is a 422 whose "
                    f"message says how much is left. Rate limited to {WRITE_LIMIT_TEXT} per client."
                ),
                "parameters": [
                    {
                        "name": "order_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                        "description": "The `order_id` the purchase was reported with (percent-encoded in the URL).",
                        "example": "ORD-2026-0001",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/RefundRequest"},
                            "example": EXAMPLE_REFUND,
                        }
                    },
                },
                "responses": {
                    "201": _json("Refund", "Recorded now, with the commission it reversed."),
                    "200": _json("Refund", "Recorded before with this very body: the same refund, nothing new."),
                    **_write_errors(REFUND_400, "refund_id"),
                    "404": _error("There is no purchase with this `order_id`.", ["unknown_order"]),
                    "422": _error(
                        "The refund is more than what is left to refund; the message says how much is left.",
                        ["refund_exceeds_purchase"],
                    ),
                },
            }
        },
    }


def purchase_schemas() -> dict[str, Any]:
    return {
        "PurchaseRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "order_id",
                "customer_domain",
                "product",
                "seats",
                "amount",
                "currency",
                "channel",
                "purchased_at",
            ],
            "properties": {
                "order_id": _id_schema("The billing system's id of the order, unique per purchase."),
                "customer_domain": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_DOMAIN_INPUT,
                    "description": "The customer's domain (or a URL or address on it); recorded as its registrable "
                    "domain in ASCII. IP addresses, bare public suffixes and bad names are refused.",
                    "examples": ["acme.com"],
                },
                "referral_code": {
                    "type": ["string", "null"],
                    "description": "The code the customer gave, as typed, or null (or absent) when there was none. "
                    "Never refused: a code that does not hold is recorded with the reason.",
                    "examples": [EXAMPLE_CODE],
                },
                "product": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SKU_LENGTH,
                    "description": "The product's SKU, such as CC-ACCESS.",
                    "examples": ["CC-ACCESS"],
                },
                "seats": {"type": "integer", "minimum": 1, "maximum": MAX_SEATS, "description": "Users bought."},
                "amount": _amount_request_schema("What the customer paid, net of tax."),
                "currency": {
                    "type": "string",
                    "enum": CURRENCIES,
                    "description": "ISO 4217 code in capitals; the product's currency (USD).",
                    "examples": ["USD"],
                },
                "channel": {
                    "type": "string",
                    "enum": CHANNELS,
                    "description": "`direct`: bought from CloudCodes, the commission is paid to the partner. "
                    "`reseller`: bought through the partner, the same figure is the discount it received.",
                },
                "purchased_at": _date_time_schema("When the purchase was made."),
            },
        },
        "Purchase": {
            "type": "object",
            "required": [
                "order_id",
                "customer_domain",
                "product",
                "seats",
                "amount",
                "currency",
                "channel",
                "purchased_at",
                "attribution",
                "commission",
                "refunded",
            ],
            "properties": {
                "order_id": {"type": "string"},
                "customer_domain": {"type": "string", "description": "The registrable domain, ASCII (punycode)."},
                "product": {"type": "string"},
                "seats": {"type": "integer", "minimum": 1},
                "amount": _money_text("What the customer paid."),
                "currency": {"type": "string", "pattern": CURRENCY_PATTERN},
                "channel": {"type": "string", "enum": CHANNELS},
                "purchased_at": {"type": "string", "format": "date-time", "description": "In UTC."},
                "attribution": {"$ref": "#/components/schemas/Attribution"},
                "commission": {
                    "oneOf": [{"$ref": "#/components/schemas/Commission"}, {"type": "null"}],
                    "description": "The partner's commission, fixed when recorded; null when unattributed.",
                },
                "refunded": _money_text("What has been refunded of it so far (the one field a replay may change)."),
            },
        },
        "Attribution": {
            "type": "object",
            "required": ["partner", "rule", "reason", "code_check"],
            "properties": {
                "partner": {
                    "oneOf": [{"$ref": "#/components/schemas/AttributedPartner"}, {"type": "null"}],
                    "description": "The partner credited, or null.",
                },
                "rule": {
                    "type": "string",
                    "enum": ATTRIBUTION_RULES,
                    "description": "Which rule attributed it: a referral `code`, the domain's `registration`, a "
                    "`renewal` of an earlier attributed purchase, or `none`.",
                },
                "reason": {"type": "string", "description": "Why, for people (also why a code was not used)."},
                "code_check": {
                    "type": ["string", "null"],
                    "enum": [*REASONS, None],
                    "description": "`ok`, or why the code given does not hold; null when no code was given.",
                },
            },
        },
        "AttributedPartner": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "Commission": {
            "type": "object",
            "required": ["amount", "currency", "level", "margin_pct", "volume_points", "payable"],
            "properties": {
                "amount": _money_text("amount x (margin + volume points) / 100, rounded half up to the cent."),
                "currency": {"type": "string", "pattern": CURRENCY_PATTERN},
                "level": {"type": "string", "enum": LEVELS, "description": "The level in force on the purchase date."},
                "margin_pct": {"type": "string", "pattern": DECIMAL_TEXT, "examples": ["15"]},
                "volume_points": {
                    "type": "string",
                    "pattern": DECIMAL_TEXT,
                    "description": "Extra points for the seat count (Premier only).",
                    "examples": ["0"],
                },
                "payable": {
                    "type": "boolean",
                    "description": "true for a direct purchase (paid to the partner after the hold); false for a "
                    "reseller purchase (the discount the partner already took).",
                },
            },
        },
        "RefundRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["refund_id", "amount", "refunded_at"],
            "properties": {
                "refund_id": _id_schema("The billing system's id of the refund, unique per refund."),
                "amount": _amount_request_schema("What is refunded."),
                "currency": {
                    "type": "string",
                    "enum": CURRENCIES,
                    "description": "Optional; when sent, the purchase's currency.",
                },
                "refunded_at": _date_time_schema("When the refund was made; not before the purchase."),
            },
        },
        "Refund": {
            "type": "object",
            "required": [
                "refund_id",
                "order_id",
                "amount",
                "currency",
                "refunded_at",
                "commission_reversal",
                "refunded_total",
                "remaining",
            ],
            "properties": {
                "refund_id": {"type": "string"},
                "order_id": {"type": "string"},
                "amount": _money_text("What was refunded."),
                "currency": {"type": "string", "pattern": CURRENCY_PATTERN},
                "refunded_at": {"type": "string", "format": "date-time", "description": "In UTC."},
                "commission_reversal": {
                    "type": ["string", "null"],
                    "pattern": DECIMAL_TEXT,
                    "description": "The commission taken back by this refund; null when the purchase earned none.",
                },
                "refunded_total": _money_text("All refunded of the purchase, up to and including this refund."),
                "remaining": _money_text("What is left to refund after this refund."),
            },
        },
    }


def document() -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document for the API as it stands."""
    components = common_components()
    components["schemas"].update(referral_code_schemas())
    components["schemas"].update(purchase_schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CloudCodes Billing API",
            "version": "1.0.0",
            "description": "What the billing system asks the partner portal.\n\n" + SIGNATURE_DESCRIPTION,
        },
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "summary": "This document (public, not signed)",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}},
                }
            },
            **referral_code_paths(),
            **purchase_paths(),
        },
        "components": components,
        "security": [{"signature": []}],
    }
