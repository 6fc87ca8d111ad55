"""The request models on their own: what a valid body reads into, and how strictly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from pydantic import ValidationError

from cloudcodes.api.schemas import AmountInCurrency, PurchaseRequest, RefundRequest
from cloudcodes.money import Money

PURCHASE = {
    "order_id": "ORD-1",
    "customer_domain": "acme.com",
    "referral_code": "CC-\x00\ud800",
    "product": "CC-ACCESS",
    "seats": 25,
    "amount": "1234.50",
    "currency": "USD",
    "channel": "reseller",
    "purchased_at": "2026-11-20t11:00:00.1234567+01:00",
}


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(datetime(2026, 12, 10, 12, 0, tzinfo=UTC), tick=False):
        yield


def test_a_purchase_reads_into_the_values_the_service_takes():
    purchase = PurchaseRequest.model_validate(PURCHASE)
    assert purchase.amount == Money(123450, "USD")
    assert purchase.purchased_at == datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    assert purchase.referral_code == "CC-\ufffd\ufffd"  # what no database can store, replaced
    assert purchase.seats == 25 and purchase.channel == "reseller"


def test_an_amount_is_written_back_as_the_text_it_was_read_from():
    assert PurchaseRequest.model_validate(PURCHASE).model_dump(mode="json")["amount"] == "1234.50"


@pytest.mark.parametrize(
    "change", [{"seats": "25"}, {"seats": 25.0}, {"seats": True}, {"amount": 1234.5}, {"channel": "Direct"}]
)
def test_nothing_is_coerced(change):
    with pytest.raises(ValidationError):
        PurchaseRequest.model_validate({**PURCHASE, **change})


def test_a_refund_keeps_its_amount_as_sent_until_its_currency_is_known():
    refund = RefundRequest.model_validate({"refund_id": "RF-1", "amount": 5, "refunded_at": "2026-11-25T09:00:00Z"})
    assert refund.amount == 5 and refund.currency is None
    assert AmountInCurrency.model_validate({"currency": "JPY", "amount": "1234"}).amount == Money(1234, "JPY")
    with pytest.raises(ValidationError, match="JPY amounts have at most 0 decimals"):
        AmountInCurrency.model_validate({"currency": "JPY", "amount": "1234.50"})
