"""The billing API under concurrency: ten threads released at once by a barrier, each with its own client.

On PostgreSQL the order_id's unique constraint and the purchase's row lock (``SELECT ... FOR
UPDATE``) keep the answers exact; on SQLite every write transaction begins ``IMMEDIATE`` and
waits its turn (busy timeout). Either way: one purchase and one commission for one order_id, and
refunds that together never exceed the purchase.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from cloudcodes.billing.checkout import CHECKOUT_LIFETIME, new_checkout_id
from cloudcodes.billing.models import Checkout, CheckoutStatus, LedgerEntry, Product, Purchase, Refund
from cloudcodes.extensions import db
from cloudcodes.money import Money
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.services import issue_code, register_domain
from tests.conftest import make_test_app
from tests.factories import StaffFactory
from tests.support.api import signed_post

THREADS = 10
PURCHASES = "/api/v1/purchases"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app on a fresh database of each kind, with a reseller partner holding acme.com and a code for it."""
    app = make_test_app(request.getfixturevalue(f"{request.param}_database"))
    # Registered on 10 January 2026, a few days before the purchases the tests report.
    with app.app_context(), time_machine.travel(datetime(2026, 1, 10, 9, 0, tzinfo=UTC), tick=False):
        manager = StaffFactory()
        partner = create_partner(
            name="Acme Cloud Ltd",
            website="https://acme.example.com",
            country="United Kingdom",
            level="reseller",
            channel_manager=manager,
            effective_from=date(2020, 1, 1),
        )
        db.session.commit()
        app.config["TEST_CODE"] = issue_code(register_domain(partner, "acme.com", by=None), by=None).code
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def purchase_body(app: Flask, **fields: Any) -> dict[str, Any]:
    return {
        "order_id": "ORD-RACE",
        "customer_domain": "acme.com",
        "referral_code": app.config["TEST_CODE"],
        "product": "CC-ACCESS",
        "seats": 10,
        "amount": "100.00",
        "currency": "USD",
        "channel": "direct",
        "purchased_at": "2026-01-15T10:00:00Z",
        **fields,
    }


def at_once(app: Flask, send: Callable[[Any, int], Any]) -> list[tuple[int, Any]]:
    """Run ``send(client, n)`` in THREADS threads released together; their (status, JSON) answers, in order."""
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, Any] | None] = [None] * THREADS
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = send(client, n)
            answers[n] = (response.status_code, response.get_json())
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's own thread
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(n,), name=f"race-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    if failures:
        raise failures[0]
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def stored(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            "purchases": db.session.scalar(select(func.count(Purchase.id))),
            "refunds": db.session.scalar(select(func.count(Refund.id))),
            "accruals": db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == "accrual")),
            "reversals": db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == "reversal")),
        }


def record(app: Flask, **fields: Any) -> dict[str, Any]:
    response = signed_post(app.test_client(), PURCHASES, purchase_body(app, **fields))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def test_the_same_purchase_sent_ten_times_at_once_is_recorded_once(race_app):
    body = purchase_body(race_app)
    answers = at_once(race_app, lambda client, n: signed_post(client, PURCHASES, body))
    assert Counter(status for status, _ in answers) == {201: 1, 200: THREADS - 1}, answers
    first = answers[0][1]
    assert all(answer == first for _, answer in answers)
    assert first["commission"]["amount"] == "15.00"
    assert stored(race_app) == {"purchases": 1, "refunds": 0, "accruals": 1, "reversals": 0}


def test_ten_different_bodies_for_one_order_at_once_record_one_and_conflict_the_rest(race_app):
    answers = at_once(race_app, lambda client, n: signed_post(client, PURCHASES, purchase_body(race_app, seats=n + 1)))
    assert Counter(status for status, _ in answers) == {201: 1, 409: THREADS - 1}, answers
    winner = next(answer for status, answer in answers if status == 201)
    assert all(answer["error"]["code"] == "order_id_conflict" for status, answer in answers if status == 409)
    assert stored(race_app) == {"purchases": 1, "refunds": 0, "accruals": 1, "reversals": 0}
    with race_app.app_context():
        assert db.session.scalar(select(Purchase.seats)) == winner["seats"]


def test_concurrent_refunds_never_exceed_the_purchase(race_app):
    assert record(race_app)["commission"]["amount"] == "15.00"
    answers = at_once(
        race_app,
        lambda client, n: signed_post(
            client,
            f"{PURCHASES}/ORD-RACE/refunds",
            {"refund_id": f"RF-{n}", "amount": "15.00", "refunded_at": "2026-02-01T10:00:00Z"},
        ),
    )
    assert Counter(status for status, _ in answers) == {201: 6, 422: 4}, answers
    accepted = [answer for status, answer in answers if status == 201]
    # Taken one at a time: each saw what the ones before it had refunded.
    assert sorted(answer["remaining"] for answer in accepted) == ["10.00", "25.00", "40.00", "55.00", "70.00", "85.00"]
    assert all(answer["commission_reversal"] == "2.25" for answer in accepted)  # 15.00 x 15 / 100
    for status, answer in answers:
        if status == 422:
            assert answer["error"]["code"] == "refund_exceeds_purchase"
            assert "10.00" in answer["error"]["message"]
    assert stored(race_app) == {"purchases": 1, "refunds": 6, "accruals": 1, "reversals": 6}
    with race_app.app_context():
        refunded = db.session.scalar(select(func.sum(Refund.amount_minor)))
        reversed_ = db.session.scalar(select(func.sum(Refund.commission_reversal_minor)))
        commission = db.session.scalar(select(Purchase.commission_minor))
        balance = db.session.scalar(select(func.sum(LedgerEntry.amount_minor)))
    assert refunded == 90_00
    assert reversed_ == 13_50 <= commission == 15_00
    assert balance == commission - reversed_


def test_the_same_refund_sent_ten_times_at_once_is_recorded_once(race_app):
    record(race_app)
    refund = {"refund_id": "RF-ONCE", "amount": "40.00", "refunded_at": "2026-02-01T10:00:00Z"}
    answers = at_once(race_app, lambda client, n: signed_post(client, f"{PURCHASES}/ORD-RACE/refunds", refund))
    assert Counter(status for status, _ in answers) == {201: 1, 200: THREADS - 1}, answers
    assert all(answer == answers[0][1] for _, answer in answers)
    assert answers[0][1]["remaining"] == "60.00"
    assert stored(race_app) == {"purchases": 1, "refunds": 1, "accruals": 1, "reversals": 1}


def test_a_retry_of_a_refund_larger_than_half_the_purchase_is_a_replay_not_a_refusal(race_app):
    """The review's case: after the first was taken, a retry of it is not "more than is left" but the same refund."""
    record(race_app)
    refund = {"refund_id": "RF-BIG", "amount": "60.00", "refunded_at": "2026-02-01T10:00:00Z"}
    answers = at_once(race_app, lambda client, n: signed_post(client, f"{PURCHASES}/ORD-RACE/refunds", refund))
    assert Counter(status for status, _ in answers) == {201: 1, 200: THREADS - 1}, answers
    assert all(answer == answers[0][1] for _, answer in answers)
    assert stored(race_app) == {"purchases": 1, "refunds": 1, "accruals": 1, "reversals": 1}


def test_ten_reports_of_one_checkout_at_once_give_one_purchase_and_one_accrual(race_app):
    with race_app.app_context(), time_machine.travel(datetime(2026, 1, 15, 9, 0, tzinfo=UTC), tick=False):
        product = db.session.scalar(select(Product).where(Product.sku == "CC-ACCESS"))
        checkout = Checkout(
            public_id=new_checkout_id(),
            customer_domain="acme.com",
            referral_code=race_app.config["TEST_CODE"],
            product_id=product.id,
            seats=10,
            price=Money(240_00, "USD"),
            customer_email="buyer@acme.com",
            created_at=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
            expires_at=datetime(2026, 1, 15, 9, 0, tzinfo=UTC) + CHECKOUT_LIFETIME,
        )
        db.session.add(checkout)
        db.session.commit()
        checkout_id = checkout.public_id

    answers = at_once(
        race_app,
        lambda client, n: signed_post(
            client,
            PURCHASES,
            purchase_body(race_app, order_id=f"ORD-PAY-{n}", checkout_id=checkout_id, amount="240.00"),
        ),
    )
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 422: 9}, answers
    assert {body["error"]["code"] for status, body in answers if status == 422} == {"checkout_already_paid"}
    assert stored(race_app) == {"purchases": 1, "refunds": 0, "accruals": 1, "reversals": 0}
    with race_app.app_context():
        paid = db.session.scalar(select(Checkout).where(Checkout.public_id == checkout_id))
        assert paid.status == CheckoutStatus.PAID and paid.purchase.attribution == "code"
