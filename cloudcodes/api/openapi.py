"""The API's description of itself, served at ``GET /api/v1/openapi.json`` (OpenAPI 3.1).

The bodies' schemas are generated from the models in ``cloudcodes.api.schemas``, so they cannot
drift from what the API reads and answers. What no model knows is written here: the info, the
signature scheme, and each path with its parameters, examples, status codes and error codes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import CoreSchema

from cloudcodes.api import schemas
from cloudcodes.api.purchases import WRITE_LIMIT
from cloudcodes.api.referral_codes import REFERRAL_CODE_LIMIT
from cloudcodes.api.signatures import HEADER, TOLERANCE
from cloudcodes.referrals.codes import EXAMPLE_CODE

# Each model and how it is used: a request is read (validation), an answer written (serialization).
BODIES: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (schemas.PurchaseRequest, "validation"),
    (schemas.RefundRequest, "validation"),
    (schemas.Purchase, "serialization"),
    (schemas.Refund, "serialization"),
    (schemas.CodeCheck, "serialization"),
    (schemas.Checkout, "serialization"),
    (schemas.Error, "serialization"),
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


class DocumentSchemas(GenerateJsonSchema):
    """The models' JSON Schemas without a title per field: the field's name says as much."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def body_schemas() -> dict[str, Any]:
    """The components' schemas, generated from the models, named as the models are."""
    _, generated = models_json_schema(
        BODIES, ref_template="#/components/schemas/{model}", schema_generator=DocumentSchemas
    )
    return generated["$defs"]


def _error(description: str, codes: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    if codes:
        description = f"{description} Codes: {', '.join(f'`{code}`' for code in codes)}."
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


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
                    "200": _json("CodeCheck", "The answer for that code and domain."),
                    "400": _error("The domain parameter is missing (`field` is `domain`).", ["missing_parameter"]),
                    "401": {"$ref": "#/components/responses/BadSignature"},
                    "429": {"$ref": "#/components/responses/RateLimited"},
                    "503": {"$ref": "#/components/responses/NotConfigured"},
                },
            }
        }
    }


def checkout_paths() -> dict[str, Any]:
    return {
        "/api/v1/checkouts/{checkout_id}": {
            "get": {
                "operationId": "getCheckout",
                "summary": "What the customer chose on the portal's checkout",
                "description": (
                    "For the billing system's payment page: the portal sends the customer there with "
                    "`checkout_id`, `return_url` and `signature` query parameters (the signature is this API's "
                    "scheme over `<checkout_id>.<return_url>`). Take the payment for what this answer says, "
                    "report it with `POST /api/v1/purchases` and `checkout_id`, then send the customer to "
                    "`return_url`. A checkout is open for 24 hours; an expired one answers 410."
                ),
                "parameters": [
                    {
                        "name": "checkout_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": schemas.CHECKOUT_ID_PATTERN},
                        "example": "CHK-7K3Q9M2PXW437K3Q9M2PXW437K",
                    }
                ],
                "responses": {
                    "200": _json("Checkout", "The checkout, open or paid."),
                    "401": {"$ref": "#/components/responses/BadSignature"},
                    "404": _error("There is no checkout with this id.", ["unknown_checkout"]),
                    "410": _error("The checkout expired unpaid: the customer must start again.", ["checkout_expired"]),
                    "429": {"$ref": "#/components/responses/RateLimited"},
                    "503": {"$ref": "#/components/responses/NotConfigured"},
                },
            }
        }
    }


# --- Purchases and refunds ----------------------------------------------------------------------

PURCHASE_400 = [
    "invalid_json",
    "duplicate_field",
    "unknown_field",
    "missing_field",
    "invalid_order_id",
    "invalid_checkout_id",
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


def _request_body(schema_name: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}, "example": example}
        },
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
                "requestBody": _request_body("PurchaseRequest", EXAMPLE_PURCHASE),
                "responses": {
                    "201": _json("Purchase", "Recorded now."),
                    "200": _json("Purchase", "Recorded before with this very body: the same purchase, nothing new."),
                    **_write_errors(PURCHASE_400, "order_id"),
                    "404": _error("`checkout_id` names no checkout; nothing was recorded.", ["unknown_checkout"]),
                    "410": _error("The checkout expired unpaid; nothing was recorded.", ["checkout_expired"]),
                    "422": _error(
                        "The checkout is already paid by another order, or the report's domain, product, seats, "
                        "code or channel differ from the checkout's (`field` names it); nothing was recorded.",
                        ["checkout_already_paid", "checkout_mismatch"],
                    ),
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
                        "schema": {"type": "string", "minLength": 1, "maxLength": schemas.MAX_ID_LENGTH},
                        "description": "The `order_id` the purchase was reported with (percent-encoded in the URL).",
                        "example": "ORD-2026-0001",
                    }
                ],
                "requestBody": _request_body("RefundRequest", EXAMPLE_REFUND),
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


def document() -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document for the API as it stands."""
    components = common_components()
    components["schemas"] = body_schemas()
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
            **checkout_paths(),
            **purchase_paths(),
        },
        "components": components,
        "security": [{"signature": []}],
    }
