"""The billing system's side of the checkout: reading a checkout, and paying it once with a purchase report."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.billing.models import Checkout, CheckoutStatus, LedgerEntry, Purchase
from cloudcodes.extensions import db as _db
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.services import issue_code, register_domain
from tests.support.api import signed_get, signed_post
from tests.support.checkout import checkout_id_of, continue_to_payment

PURCHASES = "/api/v1/purchases"


@pytest.fixture
def opened(app, client) -> SimpleNamespace:
    """A partner's code for acme.com, and a checkout a customer opened with it (10 seats of CC-ACCESS)."""
    with app.app_context():
        partner = create_partner(
            name="Acme Cloud Ltd", website="https://acme.example", country="GB", level="reseller", channel_manager=None
        )
        _db.session.commit()
        partner_id = partner.id
        code = issue_code(register_domain(partner, "acme.com", by=None), by=None).code
    checkout_id = checkout_id_of(continue_to_payment(client, code=code))
    return SimpleNamespace(code=code, checkout_id=checkout_id, partner_id=partner_id)


def report(checkout_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "order_id": "ORD-PAY-1",
        "checkout_id": checkout_id,
        "customer_domain": "acme.com",
        "product": "CC-ACCESS",
        "seats": 10,
        "amount": "240.00",
        "currency": "USD",
        "channel": "direct",
        "purchased_at": clock.now().isoformat(),
        **fields,
    }


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            _db.session.scalar(select(func.count(Purchase.id))),
            _db.session.scalar(select(func.count(LedgerEntry.id))),
        )


def error_of(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json["error"]


def test_the_billing_system_reads_the_checkout(client, opened):
    response = signed_get(client, f"/api/v1/checkouts/{opened.checkout_id}")
    assert response.status_code == 200
    body = response.json
    assert body["checkout_id"] == opened.checkout_id and body["status"] == "open"
    assert body["customer_domain"] == "acme.com" and body["referral_code"] == opened.code
    assert body["product"] == "CC-ACCESS" and body["seats"] == 10
    assert body["amount"] == "240.00" and body["currency"] == "USD"
    assert body["customer_email"] == "buyer@acme.com" and body["order_id"] is None
    assert body["expires_at"].endswith("Z")
    assert "margin" not in response.get_data(as_text=True) and "commission" not in response.get_data(as_text=True)


def test_reading_a_checkout_needs_a_signature_and_a_checkout(client, opened):
    assert client.get(f"/api/v1/checkouts/{opened.checkout_id}").status_code == 401
    assert error_of(signed_get(client, "/api/v1/checkouts/CHK-" + "0" * 26), 404)["code"] == "unknown_checkout"
    assert error_of(signed_get(client, "/api/v1/checkouts/nonsense"), 404)["code"] == "unknown_checkout"
    with time_machine.travel(clock.now() + timedelta(hours=25), tick=False):
        assert error_of(signed_get(client, f"/api/v1/checkouts/{opened.checkout_id}"), 410)["code"] == (
            "checkout_expired"
        )


def test_a_report_with_the_checkout_pays_it_once_attributed_by_its_code(app, client, opened):
    body = report(opened.checkout_id)
    first = signed_post(client, PURCHASES, body)
    assert first.status_code == 201, first.json
    assert first.json["attribution"]["rule"] == "code"
    assert first.json["attribution"]["partner"]["id"] == opened.partner_id
    assert first.json["commission"]["amount"] == "36.00"
    # The same report again is a replay: the same answer, nothing new.
    again = signed_post(client, PURCHASES, body)
    assert again.status_code == 200 and again.json == first.json
    assert counts(app) == (1, 1)
    with app.app_context():
        checkout = _db.session.scalar(select(Checkout).where(Checkout.public_id == opened.checkout_id))
        assert checkout.status == CheckoutStatus.PAID and checkout.paid_at is not None
        assert checkout.purchase.source == "checkout" and checkout.purchase.referral_code_text == opened.code
    read = signed_get(client, f"/api/v1/checkouts/{opened.checkout_id}")
    assert read.json["status"] == "paid" and read.json["order_id"] == "ORD-PAY-1"

    # Another order for the paid checkout is refused, and records nothing.
    other = signed_post(client, PURCHASES, report(opened.checkout_id, order_id="ORD-PAY-2"))
    error = error_of(other, 422)
    assert error["code"] == "checkout_already_paid" and error["field"] == "checkout_id"
    assert "ORD-PAY-1" in error["message"]
    assert counts(app) == (1, 1)


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"customer_domain": "globex.com"}, "customer_domain"),
        ({"product": "CC-DLP", "amount": "360.00"}, "product"),
        ({"seats": 100000}, "seats"),
        ({"channel": "reseller"}, "channel"),
        ({"amount": "24.00"}, "amount"),
        ({"referral_code": "CC-7K3Q-9M2P-XW43"}, "referral_code"),
    ],
)
def test_a_report_that_differs_from_its_checkout_is_refused(app, client, opened, changed, field):
    error = error_of(signed_post(client, PURCHASES, report(opened.checkout_id, **changed)), 422)
    assert error["code"] == "checkout_mismatch" and error["field"] == field
    assert "differs from the checkout's" in error["message"]
    assert counts(app) == (0, 0)
    # The checkout is still open: the right report pays it.
    assert signed_post(client, PURCHASES, report(opened.checkout_id)).status_code == 201


def test_an_unknown_an_expired_and_a_malformed_checkout_are_refused(app, client, opened):
    unknown = error_of(signed_post(client, PURCHASES, report("CHK-" + "1" * 26)), 404)
    assert unknown["code"] == "unknown_checkout" and unknown["field"] == "checkout_id"
    malformed = error_of(signed_post(client, PURCHASES, report("CHK-1")), 400)
    assert malformed["code"] == "invalid_checkout_id" and malformed["field"] == "checkout_id"
    with time_machine.travel(clock.now() + timedelta(hours=25), tick=False):
        expired = error_of(signed_post(client, PURCHASES, report(opened.checkout_id)), 410)
    assert expired["code"] == "checkout_expired"
    assert counts(app) == (0, 0)


def test_the_openapi_document_describes_the_checkout(client):
    document = client.get("/api/v1/openapi.json").json
    assert "/api/v1/checkouts/{checkout_id}" in document["paths"]
    assert set(document["paths"]["/api/v1/checkouts/{checkout_id}"]["get"]["responses"]) >= {"200", "404", "410"}
    assert "checkout_id" in document["components"]["schemas"]["PurchaseRequest"]["properties"]
    responses = document["paths"]["/api/v1/purchases"]["post"]["responses"]
    assert {"404", "410", "422"} <= set(responses)
    assert "Checkout" in document["components"]["schemas"]
