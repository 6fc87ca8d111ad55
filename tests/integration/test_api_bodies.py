"""The request models through HTTP: each refusal word for word, which fault is answered first, and the
document the models generate.

The words are the API's own (``cloudcodes.api.schemas``), never pydantic's: billing systems show
them to people and match on the codes. Nothing here needs a partner: every request is refused before
attribution, or is a purchase nobody referred.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from openapi_spec_validator import validate as validate_openapi

from cloudcodes.api import openapi, schemas
from tests.support.api import DROP, schema_refs, signed_post
from tests.support.api import purchase_body as _purchase_body

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
PURCHASES = "/api/v1/purchases"
FIELDS_LISTED = (
    "order_id, checkout_id, customer_domain, referral_code, product, seats, amount, currency, channel, purchased_at"
)
ID_FORM = "is 1 to 100 printable ASCII characters (letters, digits, punctuation; spaces only between them)."
TIME_FORM = (
    'is an ISO 8601 (RFC 3339) date and time with seconds and a time zone, such as "2026-11-20T10:00:00Z" or '
    '"2026-11-20T11:00:00+01:00".'
)


@pytest.fixture(autouse=True)
def december() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def body(**fields: Any) -> dict[str, Any]:
    return _purchase_body(**{"customer_domain": "umbrella.com", **fields})


def refused(response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json["error"]


def refund_path(order_id: str) -> str:
    return f"{PURCHASES}/{order_id}/refunds"


def refund_body(**fields: Any) -> dict[str, Any]:
    data = {"refund_id": "RF-1", "amount": "10.00", "refunded_at": "2026-11-25T09:00:00Z", **fields}
    return {key: value for key, value in data.items() if value is not DROP}


# --- Word for word --------------------------------------------------------------------------------


def _error(code: str, field: str, message: str) -> dict[str, str]:
    return {"code": code, "field": field, "message": message}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"order_id": 1234}, _error("invalid_order_id", "order_id", 'order_id is a string, such as "ORD-2026-0001".')),
        ({"order_id": " ORD-1"}, _error("invalid_order_id", "order_id", f"order_id {ID_FORM}")),
        ({"order_id": "x" * 101}, _error("invalid_order_id", "order_id", f"order_id {ID_FORM}")),
        (
            {"customer_domain": 5},
            _error("invalid_customer_domain", "customer_domain", 'customer_domain is a string, such as "acme.com".'),
        ),
        (
            {"customer_domain": "  "},
            _error("invalid_domain", "customer_domain", "customer_domain is the customer's domain, such as acme.com."),
        ),
        (
            {"referral_code": 123},
            _error(
                "invalid_referral_code",
                "referral_code",
                "referral_code is a string (the code the customer gave) or null when there was none.",
            ),
        ),
        ({"product": 1}, _error("invalid_product", "product", 'product is a string, such as "CC-ACCESS".')),
        ({"product": ""}, _error("unknown_product", "product", "There is no product ''; give its SKU.")),
        (
            {"product": "x" * 41},
            _error("unknown_product", "product", f"There is no product {'x' * 41!r}; give its SKU."),
        ),
        (
            {"product": "CC\nACCESS"},
            _error("unknown_product", "product", "There is no product 'CC\\nACCESS'; give its SKU."),
        ),
        (
            {"seats": "3"},
            _error("invalid_seats", "seats", "seats is a whole number (a JSON integer, not a string), such as 25."),
        ),
        (
            {"seats": 3.0},
            _error("invalid_seats", "seats", "seats is a whole number (a JSON integer, not a string), such as 25."),
        ),
        (
            {"seats": True},
            _error("invalid_seats", "seats", "seats is a whole number (a JSON integer, not a string), such as 25."),
        ),
        ({"seats": 0}, _error("invalid_seats", "seats", "seats is a whole number from 1 to 1,000,000.")),
        ({"seats": 10**20}, _error("invalid_seats", "seats", "seats is a whole number from 1 to 1,000,000.")),
        (
            {"currency": "usd"},
            _error(
                "invalid_currency", "currency", 'currency is a three-letter ISO 4217 code in capitals, such as "USD".'
            ),
        ),
        (
            {"currency": "XYZ"},
            _error(
                "unsupported_currency",
                "currency",
                "XYZ is not a currency the program runs in (AUD, CAD, EUR, GBP, INR, JPY, USD).",
            ),
        ),
        (
            {"amount": 1},
            _error(
                "invalid_amount",
                "amount",
                'amount is a string such as "1234.50", not a JSON number, so that no cent is lost on the way.',
            ),
        ),
        (
            {"amount": "12.345"},
            _error("invalid_amount", "amount", "USD amounts have at most 2 decimals; '12.345' has more."),
        ),
        (
            {"amount": "-1"},
            _error(
                "invalid_amount",
                "amount",
                'amount is a positive decimal written like "1234.50" (digits, a point, no sign or spaces).',
            ),
        ),
        ({"amount": "0.00"}, _error("invalid_amount", "amount", 'amount must be more than zero, such as "1234.50".')),
        (
            {"currency": "JPY", "amount": "12.5"},
            _error("invalid_amount", "amount", "JPY amounts have at most 0 decimals; '12.5' has more."),
        ),
        (
            {"currency": "JPY", "amount": 12},
            _error(
                "invalid_amount",
                "amount",
                'amount is a string such as "1234", not a JSON number, so that no cent is lost on the way.',
            ),
        ),
        (
            {"channel": ["direct"]},
            _error(
                "invalid_channel",
                "channel",
                'channel is "direct" (the customer bought from CloudCodes) or "reseller" (bought through the partner).',
            ),
        ),
        (
            {"purchased_at": 1763632800},
            _error("invalid_purchased_at", "purchased_at", 'purchased_at is a string, such as "2026-11-20T10:00:00Z".'),
        ),
        (
            {"purchased_at": "2026-11-20T10:00:00"},
            _error(
                "invalid_purchased_at",
                "purchased_at",
                f"purchased_at has no time zone, so the instant is unknown. purchased_at {TIME_FORM}",
            ),
        ),
        (
            {"purchased_at": "2026-02-30T10:00:00Z"},
            _error(
                "invalid_purchased_at",
                "purchased_at",
                f"purchased_at is not a real date and time. purchased_at {TIME_FORM}",
            ),
        ),
        (
            {"purchased_at": "20 November 2026"},
            _error("invalid_purchased_at", "purchased_at", f"purchased_at {TIME_FORM}"),
        ),
        (
            {"purchased_at": "2026-12-12T12:00:00Z"},
            _error(
                "invalid_purchased_at", "purchased_at", "purchased_at is in the future; report it once it has happened."
            ),
        ),
        (
            {"referal_code": "CC-7K3Q-9M2P-XW43"},
            _error(
                "unknown_field",
                "referal_code",
                f"There is no field 'referal_code' here; the fields are {FIELDS_LISTED}. Check its spelling.",
            ),
        ),
    ],
)
def test_a_refusal_is_worded_by_the_api_not_by_pydantic(client, fields, error):
    assert refused(signed_post(client, PURCHASES, body(**fields))) == error


@pytest.mark.parametrize("field", ["order_id", "customer_domain", "product", "seats", "currency", "amount", "channel"])
def test_a_required_field_left_out_or_null_is_missing(client, field):
    assert refused(signed_post(client, PURCHASES, body(**{field: DROP}))) == _error(
        "missing_field", field, f"{field} is required."
    )
    assert refused(signed_post(client, PURCHASES, body(**{field: None}))) == _error(
        "missing_field", field, f"{field} is required; it cannot be null."
    )


def test_a_long_unknown_field_is_named_cut_short(client):
    name = "x" * 200
    error = refused(signed_post(client, PURCHASES, body(**{name: 1})))
    assert error["code"] == "unknown_field"
    assert error["field"] == "x" * 100
    assert error["message"].startswith(f"There is no field {'x' * 60!r} here;")


def test_a_domain_pydantic_could_not_read_still_reaches_the_service_which_says_what_is_wrong(client):
    """A lone surrogate is valid JSON: the service explains the domain, rather than a generic refusal."""
    error = refused(signed_post(client, PURCHASES, body(customer_domain="\ud800")))
    assert error["code"] == "invalid_domain"
    assert "is not a valid domain name" in error["message"]


# --- The first fault ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        # An unknown field first: a misspelt field explains what follows from it.
        ({"order_id": "", "referal_code": "x"}, "unknown_field", "referal_code"),
        ({"zz": 1, "yy": 2}, "unknown_field", "zz"),
        # Then the fields in the order they are checked.
        ({"order_id": "", "seats": 0}, "invalid_order_id", "order_id"),
        ({"product": DROP, "seats": 0}, "missing_field", "product"),
        ({"seats": 0, "currency": "usd"}, "invalid_seats", "seats"),
        # The currency before the amount, which is read in its decimals.
        ({"amount": 5, "currency": "usd"}, "invalid_currency", "currency"),
        ({"amount": DROP, "currency": "XYZ"}, "unsupported_currency", "currency"),
        ({"amount": 5, "channel": "retail"}, "invalid_amount", "amount"),
        ({"channel": "retail", "purchased_at": "x"}, "invalid_channel", "channel"),
    ],
)
def test_the_first_fault_is_answered(client, fields, code, field):
    error = refused(signed_post(client, PURCHASES, body(**fields)))
    assert (error["code"], error["field"]) == (code, field)


def test_a_refund_for_an_unknown_order_is_404_whatever_its_amount_but_its_other_fields_are_checked_first(client):
    """The amount is read in the purchase's currency, so only once the purchase is found."""
    assert refused(signed_post(client, refund_path("ORD-NOWHERE"), refund_body(amount=5)), 404)["code"] == (
        "unknown_order"
    )
    for fields, code, field in (
        ({"refund_id": ""}, "invalid_refund_id", "refund_id"),
        ({"currency": "usd", "amount": DROP}, "invalid_currency", "currency"),
        ({"amount": DROP, "refunded_at": "x"}, "missing_field", "amount"),
        ({"amount": None}, "missing_field", "amount"),
        ({"reason": "asked"}, "unknown_field", "reason"),
    ):
        error = refused(signed_post(client, refund_path("ORD-NOWHERE"), refund_body(**fields)))
        assert (error["code"], error["field"]) == (code, field), fields


def test_a_refund_amount_is_read_in_its_purchases_currency_after_the_currency_is_matched(client):
    assert signed_post(client, PURCHASES, body()).status_code == 201
    path = refund_path("ORD-2026-0001")
    assert refused(signed_post(client, path, refund_body(currency="EUR", amount=5))) == _error(
        "currency_mismatch", "currency", "Order ORD-2026-0001 was paid in USD; refund it in USD."
    )
    assert refused(signed_post(client, path, refund_body(amount="1.234"))) == _error(
        "invalid_amount", "amount", "USD amounts have at most 2 decimals; '1.234' has more."
    )
    error = refused(signed_post(client, path, refund_body(reason="asked")))
    assert error["message"] == (
        "There is no field 'reason' here; the fields are refund_id, amount, currency, refunded_at. Check its spelling."
    )


def test_a_refund_may_name_its_currency_or_send_it_as_null(client):
    assert signed_post(client, PURCHASES, body()).status_code == 201
    path = refund_path("ORD-2026-0001")
    assert signed_post(client, path, refund_body(refund_id="RF-1", currency="USD")).status_code == 201
    assert signed_post(client, path, refund_body(refund_id="RF-2", currency=None)).status_code == 201


# --- The document ---------------------------------------------------------------------------------


def test_the_served_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    validate_openapi(document)


def test_the_body_schemas_are_the_models_and_every_one_is_used(client):
    document = client.get("/api/v1/openapi.json").json
    components = document["components"]["schemas"]
    for model in (schemas.PurchaseRequest, schemas.RefundRequest, schemas.Purchase, schemas.Refund):
        schema = components[model.__name__]
        assert set(schema["properties"]) == set(model.model_fields)
        assert set(schema["required"]) == {name for name, field in model.model_fields.items() if field.is_required()}
    # Only the models' schemas, each one referred to: nothing internal (Money, say) leaks into the document.
    used = {ref.removeprefix("#/components/schemas/") for ref in schema_refs(document) if "/schemas/" in ref}
    assert used == set(components)


@pytest.mark.parametrize("model", [schemas.PurchaseRequest, schemas.RefundRequest])
def test_a_refusal_of_an_unknown_field_lists_every_field_of_the_request(model):
    assert sorted(model.listed_fields) == sorted(model.model_fields)


def test_the_document_is_generated_afresh_each_time():
    first = openapi.document()
    first["components"]["schemas"]["PurchaseRequest"]["properties"].clear()
    assert openapi.document()["components"]["schemas"]["PurchaseRequest"]["properties"]
