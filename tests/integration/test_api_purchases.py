"""``POST /api/v1/purchases`` and ``POST /api/v1/purchases/{order_id}/refunds`` through HTTP, as billing calls them.

The clock stands at 10 December 2026 (time-machine, ticking): purchases are dated in the weeks
before, so the level records, the registrations' lifetimes and "not in the future" all hold
whatever day the suite runs on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
import schemathesis
import time_machine
from sqlalchemy import func, select

from cloudcodes.api import openapi
from cloudcodes.api.signatures import HEADER
from cloudcodes.billing.models import LedgerEntry, Purchase, Refund
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import PartnerLevel
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.codes import ALPHABET, generate_code
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain, release, revoke_code
from tests.conftest import make_test_app
from tests.factories import StaffFactory
from tests.support.api import DROP, signature_header, signed_post
from tests.support.api import purchase_body as body

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
PURCHASES = "/api/v1/purchases"
RESELLER = "Acme Cloud Ltd"
PREMIER = "Globex Premier Partners"
UPGRADED = "Initech Partners"


def refunds_path(order_id: str) -> str:
    return f"{PURCHASES}/{quote(order_id, safe='')}/refunds"


@pytest.fixture(autouse=True)
def december() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Three partners, all partners since 1 January 2026, each with a domain registered on 1 November 2026
    (so live for the purchases of November and December) and a code for it.

    - Acme Cloud (reseller) holds acme.com;
    - Globex (premier) holds globex.com;
    - Initech (reseller, premier from 1 December 2026) holds initech.com.
    """
    with app.app_context(), time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=UTC), tick=False):
        manager = StaffFactory(email="max@cloudcodes.example", full_name="Max Manager")
        partners = {}
        for name, level in ((RESELLER, "reseller"), (PREMIER, "premier"), (UPGRADED, "reseller")):
            partners[name] = create_partner(
                name=name,
                website=f"https://{name.split()[0].lower()}.example.com",
                country="United Kingdom",
                level=level,
                channel_manager=manager,
                effective_from=date(2026, 1, 1),
            )
        _db.session.add(
            PartnerLevel(
                partner=partners[UPGRADED], level="premier", effective_from=date(2026, 12, 1), reason="upgrade"
            )
        )
        _db.session.commit()
        codes = {}
        for name, domain in ((RESELLER, "acme.com"), (PREMIER, "globex.com"), (UPGRADED, "initech.com")):
            codes[domain] = issue_code(register_domain(partners[name], domain, by=None), by=None).code
        return SimpleNamespace(
            reseller_id=partners[RESELLER].id,
            premier_id=partners[PREMIER].id,
            upgraded_id=partners[UPGRADED].id,
            codes=codes,
        )


def purchase(client, **fields: Any):
    return signed_post(client, PURCHASES, body(**fields))


def refund(client, order_id: str = "ORD-2026-0001", **fields: Any):
    data = {"refund_id": "RF-1", "amount": "234.50", "refunded_at": "2026-11-25T09:00:00Z", **fields}
    return signed_post(client, refunds_path(order_id), {k: v for k, v in data.items() if v is not DROP})


def created(response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    return response.json


def assert_error(response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"]
    assert error.get("field") == field
    return error


def counts(app) -> tuple[int, int, int]:
    """How many purchases, refunds and ledger entries are stored."""
    with app.app_context():
        return tuple(
            _db.session.scalar(select(func.count()).select_from(model)) for model in (Purchase, Refund, LedgerEntry)
        )


def ledger(app, order_id: str) -> list[tuple[str, int, bool]]:
    with app.app_context():
        entries = _db.session.scalars(
            select(LedgerEntry)
            .join(Purchase, LedgerEntry.purchase_id == Purchase.id)
            .where(Purchase.order_id == order_id)
            .order_by(LedgerEntry.id)
        )
        return [(entry.kind, entry.amount.minor, entry.payable) for entry in entries]


def conforms(schema_name: str, instance: Any) -> None:
    """``instance`` is what the OpenAPI document says the API answers (formats checked too)."""
    document = openapi.document()
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}, validate_formats=True
    )
    validator.validate(instance)


# --- Commission -----------------------------------------------------------------------------------


def test_a_purchase_with_a_code_is_attributed_by_code_at_the_reseller_margin(app, client, world):
    response = purchase(client, referral_code=world.codes["acme.com"])
    answer = created(response)
    assert answer == {
        "order_id": "ORD-2026-0001",
        "customer_domain": "acme.com",
        "product": "CC-ACCESS",
        "seats": 10,
        "amount": "1234.50",
        "currency": "USD",
        "channel": "direct",
        "purchased_at": "2026-11-20T10:00:00Z",
        "attribution": {
            "partner": {"id": world.reseller_id, "name": RESELLER},
            "rule": "code",
            "reason": f"Referral code {world.codes['acme.com']}",
            "code_check": "ok",
        },
        # 1234.50 x 15 % = 185.175, half up to the cent.
        "commission": {
            "amount": "185.18",
            "currency": "USD",
            "level": "reseller",
            "margin_pct": "15",
            "volume_points": "0",
            "payable": True,
        },
        "refunded": "0.00",
    }
    assert response.headers["Cache-Control"] == "no-store"
    conforms("Purchase", answer)
    assert ledger(app, "ORD-2026-0001") == [("accrual", 18518, True)]
    with app.app_context():
        entry = _db.session.scalar(select(LedgerEntry))
        assert entry.partner_id == world.reseller_id
        assert entry.effective_on == date(2026, 11, 20)
        assert entry.payable_on == date(2026, 12, 20)  # after the 30-day hold
        stored = _db.session.scalar(select(Purchase))
        assert stored.source == "api"
        assert stored.referral_code_id is not None
        assert _db.session.get(DomainRegistration, stored.registration_id).converted_at is not None


@pytest.mark.parametrize(
    ("partner", "seats", "amount", "margin", "points", "commission"),
    [
        (PREMIER, 10, "1234.55", "30", "0", "370.37"),  # 370.365
        (PREMIER, 99, "1234.55", "30", "0", "370.37"),
        (PREMIER, 100, "1234.55", "30", "2", "395.06"),  # 32 %: 395.056
        (PREMIER, 499, "1234.55", "30", "2", "395.06"),
        (PREMIER, 500, "1234.55", "30", "5", "432.09"),  # 35 %: 432.0925
        (PREMIER, 5000, "0.01", "30", "5", "0.00"),  # 0.0035 rounds to nothing
        (RESELLER, 500, "1234.55", "15", "0", "185.18"),  # no volume points for a reseller: 185.1825
        (RESELLER, 1, "0.10", "15", "0", "0.02"),  # 0.015: half up
    ],
)
def test_the_commission_is_the_margin_plus_volume_points_rounded_half_up(
    client, world, partner, seats, amount, margin, points, commission
):
    domain = {PREMIER: "globex.com", RESELLER: "acme.com"}[partner]
    answer = created(
        purchase(client, customer_domain=domain, referral_code=world.codes[domain], seats=seats, amount=amount)
    )
    assert answer["attribution"]["partner"]["name"] == partner
    assert answer["commission"] == {
        "amount": commission,
        "currency": "USD",
        "level": "premier" if partner == PREMIER else "reseller",
        "margin_pct": margin,
        "volume_points": points,
        "payable": True,
    }


def test_the_level_in_force_on_the_purchase_date_counts_not_todays(app, client, world):
    """Initech is Premier today (from 1 December) but was a Reseller on 20 November."""
    before = created(
        purchase(
            client,
            order_id="ORD-NOV",
            customer_domain="initech.com",
            referral_code=world.codes["initech.com"],
            purchased_at="2026-11-20T10:00:00Z",
        )
    )
    after = created(
        purchase(
            client,
            order_id="ORD-DEC",
            customer_domain="initech.com",
            referral_code=world.codes["initech.com"],
            purchased_at="2026-12-02T10:00:00Z",
        )
    )
    assert (before["commission"]["level"], before["commission"]["margin_pct"], before["commission"]["amount"]) == (
        "reseller",
        "15",
        "185.18",
    )
    assert (after["commission"]["level"], after["commission"]["margin_pct"], after["commission"]["amount"]) == (
        "premier",
        "30",
        "370.35",
    )
    # The day counts in UTC: 02:00 on 1 December at +05:00 is still 30 November.
    edge = created(
        purchase(
            client,
            order_id="ORD-EDGE",
            customer_domain="initech.com",
            purchased_at="2026-12-01T02:00:00+05:00",
        )
    )
    assert edge["purchased_at"] == "2026-11-30T21:00:00Z"
    assert edge["commission"]["level"] == "reseller"
    # Replaying the November purchase now (Premier today) answers what was fixed then.
    replay = purchase(
        client,
        order_id="ORD-NOV",
        customer_domain="initech.com",
        referral_code=world.codes["initech.com"],
        purchased_at="2026-11-20T10:00:00Z",
    )
    assert created(replay, 200) == before
    assert [amount for _, amount, _ in ledger(app, "ORD-NOV")] == [18518]


# --- Attribution ----------------------------------------------------------------------------------


def test_without_a_code_the_domains_registration_attributes_it(client, world):
    answer = created(purchase(client, referral_code=DROP))
    assert answer["attribution"] == {
        "partner": {"id": world.reseller_id, "name": RESELLER},
        "rule": "registration",
        "reason": "Domain registered by the partner",
        "code_check": None,
    }
    assert answer["commission"]["amount"] == "185.18"


def test_an_empty_code_is_no_code(client, world):
    answer = created(purchase(client, referral_code=""))
    assert answer["attribution"]["rule"] == "registration"
    assert answer["attribution"]["code_check"] is None


def test_a_renewal_is_attributed_without_a_code_or_registration(app, client, world):
    first = created(purchase(client, order_id="ORD-FIRST", purchased_at="2026-11-10T10:00:00Z"))
    assert first["attribution"]["rule"] == "registration"
    with app.app_context():
        registration = _db.session.scalar(select(DomainRegistration).where(DomainRegistration.domain == "acme.com"))
        release(registration, by=None)
    answer = created(purchase(client, order_id="ORD-RENEWAL", referral_code=DROP, purchased_at="2026-11-25T10:00:00Z"))
    assert answer["attribution"] == {
        "partner": {"id": world.reseller_id, "name": RESELLER},
        "rule": "renewal",
        "reason": "Renewal of order ORD-FIRST",
        "code_check": None,
    }
    assert answer["commission"]["amount"] == "185.18"
    assert ledger(app, "ORD-RENEWAL") == [("accrual", 18518, True)]


def test_a_purchase_nobody_referred_is_recorded_unattributed_with_the_reason(app, client, world):
    answer = created(purchase(client, customer_domain="https://www.Umbrella.co.uk/shop", referral_code=DROP))
    assert answer["customer_domain"] == "umbrella.co.uk"
    assert answer["attribution"] == {
        "partner": None,
        "rule": "none",
        "reason": "No referral code, registration or earlier purchase for this domain",
        "code_check": None,
    }
    assert answer["commission"] is None
    conforms("Purchase", answer)
    assert counts(app) == (1, 0, 0)
    with app.app_context():
        assert _db.session.scalar(select(Purchase.attribution_note)) == answer["attribution"]["reason"]


def mistyped(code: str) -> str:
    symbol = code[3]
    return code[:3] + next(other for other in ALPHABET if other != symbol) + code[4:]


@pytest.mark.parametrize("kind", ["revoked", "typo", "domain_mismatch", "unknown", "wrong_length"])
def test_a_code_that_does_not_hold_is_recorded_and_the_registration_still_attributes(app, client, world, kind):
    code = world.codes["acme.com"]
    if kind == "revoked":
        with app.app_context():
            revoke_code(_db.session.scalar(select(ReferralCode).where(ReferralCode.code == code)), by=None)
    given = {
        "revoked": code,
        "typo": mistyped(code),
        "domain_mismatch": world.codes["globex.com"],  # Globex's code, for Acme's customer
        "unknown": generate_code(),  # well formed, never issued
        "wrong_length": "CC-1234",
    }[kind]
    answer = created(purchase(client, referral_code=given))
    assert answer["attribution"]["code_check"] == kind
    assert answer["attribution"]["rule"] == "registration"
    assert answer["attribution"]["partner"]["name"] == RESELLER
    assert answer["attribution"]["reason"] == f"Code not used ({kind}). Domain registered by the partner"
    assert answer["commission"]["margin_pct"] == "15"
    with app.app_context():
        stored = _db.session.scalar(select(Purchase))
        assert stored.code_check == answer["attribution"]["code_check"]
        assert stored.referral_code_text == given
        assert stored.referral_code_id is None


def test_a_code_of_another_domain_for_an_unregistered_domain_is_recorded_unattributed(app, client, world):
    answer = created(purchase(client, customer_domain="umbrella.com", referral_code=world.codes["acme.com"]))
    assert answer["attribution"]["partner"] is None
    assert answer["attribution"]["rule"] == "none"
    assert answer["attribution"]["code_check"] == "domain_mismatch"
    assert answer["attribution"]["reason"].startswith("Code not used (domain_mismatch). ")
    assert answer["commission"] is None
    assert counts(app) == (1, 0, 0)


def test_any_text_is_recorded_as_the_code_even_what_a_database_cannot_store(app, client, world):
    answer = created(purchase(client, referral_code="CC-\x00\ud800 whatever " + "x" * 300))
    assert answer["attribution"]["code_check"] == "bad_characters"
    assert answer["attribution"]["rule"] == "registration"
    with app.app_context():
        assert _db.session.scalar(select(Purchase.referral_code_text)).startswith("CC-\ufffd\ufffd whatever")


# --- Channels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "payable"), [("direct", True), ("reseller", False)])
def test_a_reseller_purchase_records_the_same_figure_as_a_discount_not_payable(app, client, world, channel, payable):
    answer = created(purchase(client, channel=channel, referral_code=world.codes["acme.com"]))
    assert answer["channel"] == channel
    assert answer["commission"]["amount"] == "185.18"
    assert answer["commission"]["payable"] is payable
    assert ledger(app, "ORD-2026-0001") == [("accrual", 18518, payable)]
    with app.app_context():
        entry = _db.session.scalar(select(LedgerEntry))
        assert entry.payable_on == (date(2026, 12, 20) if payable else date(2026, 11, 20))


# --- Idempotency ----------------------------------------------------------------------------------


def test_the_same_order_again_with_the_same_body_answers_200_and_records_nothing(app, client, world):
    first = purchase(client, referral_code=world.codes["acme.com"])
    assert first.status_code == 201
    stored = counts(app)
    assert stored == (1, 0, 1)
    again = purchase(client, referral_code=world.codes["acme.com"])
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    # The same body written with the keys in another order and other spacing is the same request.
    reordered = json.dumps(dict(reversed(list(body(referral_code=world.codes["acme.com"]).items()))), indent=2)
    third = signed_post(client, PURCHASES, reordered)
    assert third.status_code == 200
    assert third.json == first.json
    assert counts(app) == stored


@pytest.mark.parametrize(
    "change",
    [
        {"seats": 11},
        {"amount": "1234.51"},
        {"channel": "reseller"},
        {"referral_code": DROP},
        {"purchased_at": "2026-11-20T10:00:01Z"},
    ],
)
def test_the_same_order_with_another_body_is_a_conflict(app, client, world, change):
    assert purchase(client, referral_code=world.codes["acme.com"]).status_code == 201
    response = purchase(client, **{"referral_code": world.codes["acme.com"], **change})
    error = assert_error(response, 409, "order_id_conflict", "order_id")
    assert "ORD-2026-0001" in error["message"]
    assert counts(app) == (1, 0, 1)


# --- Validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"order_id": DROP}, "missing_field", "order_id"),
        ({"order_id": None}, "missing_field", "order_id"),
        ({"order_id": ""}, "invalid_order_id", "order_id"),
        ({"order_id": "x" * 101}, "invalid_order_id", "order_id"),
        ({"order_id": " ORD-1"}, "invalid_order_id", "order_id"),
        ({"order_id": "ORD\n1"}, "invalid_order_id", "order_id"),
        ({"order_id": 1234}, "invalid_order_id", "order_id"),
        ({"customer_domain": DROP}, "missing_field", "customer_domain"),
        ({"customer_domain": "co.uk"}, "invalid_domain", "customer_domain"),
        ({"customer_domain": "localhost"}, "invalid_domain", "customer_domain"),
        ({"customer_domain": "192.0.2.1"}, "invalid_domain", "customer_domain"),
        ({"customer_domain": "  "}, "invalid_domain", "customer_domain"),
        ({"referral_code": 123}, "invalid_referral_code", "referral_code"),
        ({"product": "CC-NOTHING"}, "unknown_product", "product"),
        ({"product": DROP}, "missing_field", "product"),
        ({"seats": "3"}, "invalid_seats", "seats"),
        ({"seats": 0}, "invalid_seats", "seats"),
        ({"seats": -5}, "invalid_seats", "seats"),
        ({"seats": 2.5}, "invalid_seats", "seats"),
        ({"seats": 3.0}, "invalid_seats", "seats"),
        ({"seats": True}, "invalid_seats", "seats"),
        ({"seats": 10**20}, "invalid_seats", "seats"),
        ({"amount": 12.5}, "invalid_amount", "amount"),
        ({"amount": 12}, "invalid_amount", "amount"),
        ({"amount": "12.345"}, "invalid_amount", "amount"),
        ({"amount": "0.00"}, "invalid_amount", "amount"),
        ({"amount": "-12.50"}, "invalid_amount", "amount"),
        ({"amount": "1e3"}, "invalid_amount", "amount"),
        ({"amount": "1,234.50"}, "invalid_amount", "amount"),
        ({"amount": " 12.50"}, "invalid_amount", "amount"),
        ({"amount": "NaN"}, "invalid_amount", "amount"),
        ({"amount": "1" * 13}, "invalid_amount", "amount"),
        ({"amount": DROP}, "missing_field", "amount"),
        ({"currency": "usd1"}, "invalid_currency", "currency"),
        ({"currency": "usd"}, "invalid_currency", "currency"),
        ({"currency": "XYZ"}, "unsupported_currency", "currency"),
        ({"currency": "EUR"}, "currency_mismatch", "currency"),
        ({"channel": "retail"}, "invalid_channel", "channel"),
        ({"channel": ["direct"]}, "invalid_channel", "channel"),
        ({"purchased_at": "2026-11-20T10:00:00"}, "invalid_purchased_at", "purchased_at"),
        ({"purchased_at": "2026-11-20"}, "invalid_purchased_at", "purchased_at"),
        ({"purchased_at": "20 November 2026"}, "invalid_purchased_at", "purchased_at"),
        ({"purchased_at": "2026-02-30T10:00:00Z"}, "invalid_purchased_at", "purchased_at"),
        ({"purchased_at": "1999-12-31T23:00:00Z"}, "invalid_purchased_at", "purchased_at"),
        ({"purchased_at": "2026-12-12T12:00:00Z"}, "invalid_purchased_at", "purchased_at"),  # two days ahead
        ({"purchased_at": 1763632800}, "invalid_purchased_at", "purchased_at"),
        ({"referal_code": "CC-7K3Q-9M2P-XW43"}, "unknown_field", "referal_code"),
    ],
)
def test_an_invalid_field_is_refused_naming_it_and_nothing_is_recorded(app, client, world, fields, code, field):
    response = purchase(client, **fields)
    error = assert_error(response, 400, code, field)
    assert field in error["message"] or code in ("unknown_product", "currency_mismatch", "invalid_domain")
    conforms("Error", response.json)
    assert counts(app) == (0, 0, 0)


def test_a_naive_time_is_refused_saying_it_has_no_time_zone(client, world):
    error = assert_error(
        purchase(client, purchased_at="2026-11-20T10:00:00"), 400, "invalid_purchased_at", "purchased_at"
    )
    assert "time zone" in error["message"]


def test_an_amount_with_too_many_decimals_says_how_many_are_allowed(client, world):
    error = assert_error(purchase(client, amount="12.345"), 400, "invalid_amount", "amount")
    assert "at most 2 decimals" in error["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"text"',
        b"null",
        b'{"order_id": "A", "order_id": "B"}',
        b'{"seats": NaN}',
        b"\xff\xfe{}",
    ],
)
def test_a_body_that_is_not_one_json_object_is_refused(app, client, world, raw):
    response = signed_post(client, PURCHASES, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["code"] in ("invalid_json", "duplicate_field")
    assert counts(app) == (0, 0, 0)


def test_a_body_over_the_size_limit_is_413_and_records_nothing(app, client, world):
    response = signed_post(client, PURCHASES, json.dumps(body(order_id="x" * (2 * 1024 * 1024))))
    assert_error(response, 413, "request_entity_too_large")
    conforms("Error", response.json)
    assert counts(app) == (0, 0, 0)


def test_time_with_an_offset_and_a_fraction_is_read_and_answered_in_utc(client, world):
    answer = created(purchase(client, purchased_at="2026-11-20t11:00:00.1234567+01:00"))
    assert answer["purchased_at"] == "2026-11-20T10:00:00.123456Z"


# --- Signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "wrong", "stale", "other_body"])
def test_an_unsigned_or_badly_signed_request_is_refused_and_records_nothing(app, client, world, how):
    assert created(purchase(client, order_id="ORD-SIGNED"))["order_id"] == "ORD-SIGNED"
    stored = counts(app)
    payload = json.dumps(body(order_id="ORD-UNSIGNED")).encode()
    refund_payload = json.dumps(
        {"refund_id": "RF-X", "amount": "10.00", "refunded_at": "2026-11-25T09:00:00Z"}
    ).encode()
    for path, data in ((PURCHASES, payload), (refunds_path("ORD-SIGNED"), refund_payload)):
        if how == "missing":
            response = client.post(path, data=data, headers={"Content-Type": "application/json"})
            code = "missing_signature"
        elif how == "wrong":
            response = signed_post(client, path, data, secret="not-the-secret")
            code = "bad_signature"
        elif how == "stale":
            response = signed_post(client, path, data, timestamp=int(time.time()) - 301)
            code = "stale_signature"
        else:  # signed over another body than the one sent
            headers = {"Content-Type": "application/json", **signature_header(b"{}")}
            response = client.post(path, data=data, headers=headers)
            code = "bad_signature"
        assert_error(response, 401, code)
        assert response.headers["WWW-Authenticate"] == HEADER
    assert counts(app) == stored


# --- Refunds --------------------------------------------------------------------------------------


def test_partial_then_full_refunds_reverse_the_commission_in_proportion_to_the_cent(app, client, world):
    assert created(purchase(client, referral_code=world.codes["acme.com"]))["commission"]["amount"] == "185.18"
    first = created(refund(client, refund_id="RF-1", amount="234.50"))
    assert first == {
        "refund_id": "RF-1",
        "order_id": "ORD-2026-0001",
        "amount": "234.50",
        "currency": "USD",
        "refunded_at": "2026-11-25T09:00:00Z",
        "commission_reversal": "35.18",  # 185.18 x 234.50 / 1234.50 = 35.1759...
        "refunded_total": "234.50",
        "remaining": "1000.00",
    }
    conforms("Refund", first)
    second = created(refund(client, refund_id="RF-2", amount="500.00", currency="USD"))
    assert (second["commission_reversal"], second["refunded_total"], second["remaining"]) == (
        "75.00",
        "734.50",
        "500.00",
    )
    last = created(refund(client, refund_id="RF-3", amount="500.00", refunded_at="2026-12-01T09:00:00+02:00"))
    # The last refund takes exactly what remains, so the reversals add up to the commission.
    assert (last["commission_reversal"], last["refunded_total"], last["remaining"]) == ("75.00", "1234.50", "0.00")
    assert last["refunded_at"] == "2026-12-01T07:00:00Z"
    entries = ledger(app, "ORD-2026-0001")
    assert entries == [
        ("accrual", 18518, True),
        ("reversal", -3518, True),
        ("reversal", -7500, True),
        ("reversal", -7500, True),
    ]
    assert sum(amount for _, amount, _ in entries) == 0
    with app.app_context():
        reversed_total = _db.session.scalar(select(func.sum(Refund.commission_reversal_minor)))
        assert reversed_total == 18518
    # The purchase now says what has been refunded; nothing else in its answer moved.
    replay = created(purchase(client, referral_code=world.codes["acme.com"]), 200)
    assert replay["refunded"] == "1234.50"
    assert replay["commission"]["amount"] == "185.18"
    # Nothing is left: even a cent more is too much.
    error = assert_error(refund(client, refund_id="RF-4", amount="0.01"), 422, "refund_exceeds_purchase", "amount")
    assert "0.00" in error["message"]


def test_reversals_with_awkward_fractions_still_add_up_exactly(app, client, world):
    created(purchase(client, order_id="ORD-ODD", amount="100.00", referral_code=world.codes["acme.com"]))  # 15.00
    reversals = [
        created(refund(client, "ORD-ODD", refund_id=f"RF-ODD-{n}", amount=amount))["commission_reversal"]
        for n, amount in enumerate(["33.33", "33.33", "33.33", "0.01"])
    ]
    assert reversals == ["5.00", "5.00", "5.00", "0.00"]
    assert sum(amount for _, amount, _ in ledger(app, "ORD-ODD")) == 0


def test_the_same_refund_again_answers_200_and_records_nothing(app, client, world):
    created(purchase(client))
    first = refund(client, refund_id="RF-1")
    assert first.status_code == 201
    second_refund = created(refund(client, refund_id="RF-2", amount="100.00"))
    stored = counts(app)
    again = refund(client, refund_id="RF-1")
    assert again.status_code == 200
    assert again.get_data() == first.get_data()  # the totals as they stood then, not now
    assert second_refund["refunded_total"] == "334.50"
    assert counts(app) == stored


@pytest.mark.parametrize("change", [{"amount": "234.51"}, {"refunded_at": "2026-11-25T09:00:01Z"}, {"currency": "USD"}])
def test_the_same_refund_id_with_another_body_is_a_conflict(app, client, world, change):
    created(purchase(client))
    created(refund(client))
    stored = counts(app)
    assert_error(refund(client, **change), 409, "refund_id_conflict", "refund_id")
    assert counts(app) == stored


def test_the_same_refund_id_for_another_order_is_a_conflict(app, client, world):
    created(purchase(client, order_id="ORD-A"))
    created(purchase(client, order_id="ORD-B"))
    created(refund(client, "ORD-A", refund_id="RF-1"))
    assert_error(refund(client, "ORD-B", refund_id="RF-1"), 409, "refund_id_conflict", "refund_id")


def test_a_refund_of_more_than_is_left_is_422_and_says_what_is_left(app, client, world):
    created(purchase(client))
    created(refund(client, refund_id="RF-1", amount="1000.00"))
    stored = counts(app)
    response = refund(client, refund_id="RF-2", amount="234.51")
    error = assert_error(response, 422, "refund_exceeds_purchase", "amount")
    assert "234.50" in error["message"]
    conforms("Error", response.json)
    assert counts(app) == stored
    assert created(refund(client, refund_id="RF-2", amount="234.50"))["remaining"] == "0.00"


def test_a_refund_of_an_unknown_order_is_404(app, client, world):
    error = assert_error(refund(client, "ORD-NOWHERE"), 404, "unknown_order", "order_id")
    assert "ORD-NOWHERE" in error["message"]
    assert_error(refund(client, "ORD\x00NUL"), 404, "unknown_order", "order_id")
    assert counts(app) == (0, 0, 0)


def test_an_order_id_with_slashes_and_spaces_is_refunded_at_its_encoded_path(client, world):
    created(purchase(client, order_id="2026/11 #42?"))
    answer = created(refund(client, "2026/11 #42?"))
    assert answer["order_id"] == "2026/11 #42?"


def test_a_refund_of_an_unattributed_purchase_reverses_nothing(app, client, world):
    created(purchase(client, customer_domain="umbrella.com"))
    answer = created(refund(client))
    assert answer["commission_reversal"] is None
    assert counts(app) == (1, 1, 0)


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"refund_id": DROP}, 400, "missing_field", "refund_id"),
        ({"refund_id": ""}, 400, "invalid_refund_id", "refund_id"),
        ({"amount": DROP}, 400, "missing_field", "amount"),
        ({"amount": 10}, 400, "invalid_amount", "amount"),
        ({"amount": "0.00"}, 400, "invalid_amount", "amount"),
        ({"amount": "1.234"}, 400, "invalid_amount", "amount"),
        ({"currency": "EUR"}, 400, "currency_mismatch", "currency"),
        ({"currency": "eur"}, 400, "invalid_currency", "currency"),
        ({"refunded_at": "2026-11-25T09:00:00"}, 400, "invalid_refunded_at", "refunded_at"),
        ({"refunded_at": "2026-11-19T09:00:00Z"}, 400, "invalid_refunded_at", "refunded_at"),  # before the purchase
        ({"refunded_at": "2026-12-20T09:00:00Z"}, 400, "invalid_refunded_at", "refunded_at"),  # in the future
        ({"reason": "customer asked"}, 400, "unknown_field", "reason"),
    ],
)
def test_an_invalid_refund_is_refused_naming_the_field(app, client, world, fields, status, code, field):
    created(purchase(client))
    stored = counts(app)
    assert_error(refund(client, **fields), status, code, field)
    assert counts(app) == stored


# --- Rate limit -----------------------------------------------------------------------------------


def test_the_write_endpoints_are_rate_limited_per_client(database_url):
    app = make_test_app(database_url, API_WRITE_LIMIT="2/minute")
    try:
        client = app.test_client()
        for n in range(2):
            assert purchase(client, order_id=f"ORD-{n}", customer_domain="umbrella.com").status_code == 201
        response = purchase(client, order_id="ORD-3", customer_domain="umbrella.com")
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["Retry-After"]) >= 1
        assert counts(app) == (2, 0, 0)
        # The signature still comes first: a stranger learns nothing about the limit.
        assert_error(client.post(PURCHASES, json=body()), 401, "missing_signature")
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


# --- The description ------------------------------------------------------------------------------


def test_the_openapi_document_describes_both_endpoints_and_is_valid(app, client):
    document = client.get("/api/v1/openapi.json").json
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name  # each a valid JSON Schema 2020-12
    purchases = document["paths"]["/api/v1/purchases"]["post"]
    refunds = document["paths"]["/api/v1/purchases/{order_id}/refunds"]["post"]
    assert set(purchases["responses"]) == {"200", "201", "400", "401", "404", "409", "410", "413", "422", "429", "503"}
    assert set(refunds["responses"]) == {"200", "201", "400", "401", "404", "409", "413", "422", "429", "503"}
    assert "security" not in purchases and document["security"] == [{"signature": []}]
    for operation, request_schema in ((purchases, "PurchaseRequest"), (refunds, "RefundRequest")):
        content = operation["requestBody"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{request_schema}"}
        schema = document["components"]["schemas"][request_schema]
        assert schema["additionalProperties"] is False
        jsonschema_rs.Draft202012Validator(schema, validate_formats=True).validate(content["example"])
    request_fields = set(document["components"]["schemas"]["PurchaseRequest"]["properties"])
    assert request_fields == {
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
    }
    assert set(document["components"]["schemas"]["RefundRequest"]["properties"]) == {
        "refund_id",
        "amount",
        "currency",
        "refunded_at",
    }


def test_the_documented_example_is_accepted_as_documented(app, client, world):
    document = openapi.document()
    example = document["paths"]["/api/v1/purchases"]["post"]["requestBody"]["content"]["application/json"]["example"]
    answer = created(signed_post(client, PURCHASES, {**example, "referral_code": world.codes["acme.com"], "seats": 25}))
    conforms("Purchase", answer)
    refund_example = document["paths"]["/api/v1/purchases/{order_id}/refunds"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    conforms("Refund", created(signed_post(client, refunds_path(example["order_id"]), refund_example)))
