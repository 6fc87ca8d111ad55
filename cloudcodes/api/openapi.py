"""The API's description of itself, served at ``GET /api/v1/openapi.json`` (OpenAPI 3.1).

Built by ``document()`` from one function per area, so each new endpoint adds its paths and
schemas next to the others and the document keeps matching what the API does.
"""

from __future__ import annotations

from typing import Any

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


def document() -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document for the API as it stands."""
    components = common_components()
    components["schemas"].update(referral_code_schemas())
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
        },
        "components": components,
        "security": [{"signature": []}],
    }
