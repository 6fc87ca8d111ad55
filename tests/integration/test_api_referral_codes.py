"""``GET /api/v1/referral-codes/{code}?domain=...`` and the API's guard, through HTTP, as billing calls it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.api import webhook_secrets
from cloudcodes.api.referral_codes import REFERRAL_CODE_LIMIT
from cloudcodes.api.signatures import HEADER, sign
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import Partner, PartnerStatus
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.codes import ALPHABET, generate_code
from cloudcodes.referrals.models import ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain, revoke_code
from tests.conftest import make_test_app
from tests.factories import StaffFactory
from tests.support.api import schema_refs, signed_get

PARTNER_NAME = "Acme Cloud Ltd"


@pytest.fixture
def issued(app) -> SimpleNamespace:
    """A reseller partner with acme.com registered and a code issued for it."""
    with app.app_context():
        manager = StaffFactory(email="max@cloudcodes.example", full_name="Max Manager")
        partner = create_partner(
            name=PARTNER_NAME,
            website="acme-cloud.example.com",
            country="United Kingdom",
            level="reseller",
            channel_manager=manager,
        )
        _db.session.commit()
        registration = register_domain(partner, "acme.com", by=None)
        code = issue_code(registration, by=None)
        return SimpleNamespace(partner_id=partner.id, code=code.code)


def check(client, code: str, domain: str | None = "acme.com", **kwargs):
    query = {} if domain is None else {"domain": domain}
    return signed_get(client, f"/api/v1/referral-codes/{code}", query_string=query, **kwargs)


def assert_refused(response, reason: str, code: str) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["valid"] is False
    assert response.json["reason"] == reason
    assert response.json["partner"] is None
    assert response.json["message"]
    assert response.json["code"] == code


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"]
    return error


@contextmanager
def app_with(database_url: str, **overrides) -> Iterator:
    app = make_test_app(database_url, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


# --- Answers for codes ------------------------------------------------------------------------


def test_a_good_code_holds_for_its_domain_and_names_the_partner_and_level(client, issued):
    response = check(client, issued.code)
    assert response.status_code == 200
    assert response.json == {
        "code": issued.code,
        "domain": "acme.com",
        "valid": True,
        "reason": "ok",
        "message": "The code holds for acme.com.",
        "partner": {"name": PARTNER_NAME, "level": "reseller"},
    }
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        (lambda code: code.lower(), "acme.com"),
        (lambda code: code.replace("-", ""), "acme.com"),
        (lambda code: code.removeprefix("CC-").replace("-", "").lower(), "acme.com"),
        (lambda code: code, "https://www.Acme.com/checkout"),
    ],
)
def test_a_forgivingly_typed_code_or_domain_still_holds(client, issued, typed, domain):
    response = check(client, typed(issued.code), domain)
    assert response.json["valid"] is True, response.json
    assert response.json["code"] == issued.code
    assert response.json["domain"] == "acme.com"


def test_the_code_of_another_domain_is_a_domain_mismatch(client, issued):
    response = check(client, issued.code, "globex.com")
    assert_refused(response, "domain_mismatch", issued.code)
    assert response.json["domain"] == "globex.com"
    assert "acme.com" not in response.json["message"]  # the answer does not reveal whose domain it is


def test_a_mistyped_symbol_is_a_typo_not_an_unknown_code(client, issued):
    first = issued.code[3]
    mistyped = issued.code[:3] + next(symbol for symbol in ALPHABET if symbol != first) + issued.code[4:]
    response = check(client, mistyped)
    assert_refused(response, "typo", None)
    assert "typo" in response.json["message"]


def test_a_well_formed_code_never_issued_is_unknown(client, issued):
    unknown = generate_code()
    assert_refused(check(client, unknown), "unknown", unknown)


def test_a_revoked_code_no_longer_holds(app, client, issued):
    with app.app_context():
        revoke_code(_db.session.scalar(select(ReferralCode).where(ReferralCode.code == issued.code)), by=None)
    assert_refused(check(client, issued.code), "revoked", issued.code)


def test_a_code_past_its_registrations_lifetime_has_expired(client, issued):
    assert check(client, issued.code).json["valid"] is True
    with time_machine.travel(clock.now() + timedelta(days=91), tick=False):
        response = check(client, issued.code)
    assert_refused(response, "expired", issued.code)


def test_the_code_of_a_suspended_partner_does_not_hold(app, client, issued):
    with app.app_context():
        _db.session.get(Partner, issued.partner_id).status = PartnerStatus.SUSPENDED.value
        _db.session.commit()
    assert_refused(check(client, issued.code), "partner_suspended", issued.code)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (" ", "empty"),
        ("--", "empty"),
        ("CC-1234", "wrong_length"),
        ("CC-7K3Q-9M2P-XW4", "wrong_length"),
        ("CC-7K3Q-9M2P-XW4Ü", "bad_characters"),
        ("CC-7K3Q-9M2P-XW4*", "bad_characters"),
    ],
)
def test_text_that_is_not_a_code_says_what_is_wrong_with_it(client, code, reason):
    assert_refused(check(client, code), reason, None)


@pytest.mark.parametrize("domain", ["localhost", "192.0.2.1", "co.uk", "not a domain"])
def test_an_invalid_domain_is_answered_as_such(client, issued, domain):
    response = check(client, issued.code, domain)
    assert_refused(response, "invalid_domain", None)
    assert response.json["domain"] is None


@pytest.mark.parametrize("domain", [None, "", "   "])
def test_the_domain_is_required(client, issued, domain):
    error = assert_error(check(client, issued.code, domain), 400, "missing_parameter")
    assert error["field"] == "domain"
    assert "domain" in error["message"]


# --- The signature ------------------------------------------------------------------------------


def test_a_request_without_a_signature_is_refused(client, issued):
    response = client.get(f"/api/v1/referral-codes/{issued.code}", query_string={"domain": "acme.com"})
    error = assert_error(response, 401, "missing_signature")
    assert HEADER in error["message"]
    assert "field" not in error
    assert response.headers["WWW-Authenticate"] == HEADER
    assert "partner" not in response.json


def test_a_request_signed_with_another_secret_is_refused(client, issued):
    error = assert_error(check(client, issued.code, secret="not-the-secret"), 401, "bad_signature")
    assert "HMAC-SHA256" in error["message"]


def test_a_signature_whose_timestamp_was_changed_is_refused(client, issued):
    now = int(time.time())
    header = sign("test-webhook-secret", now, b"").replace(f"t={now},", f"t={now - 1},")
    response = client.get(
        f"/api/v1/referral-codes/{issued.code}", query_string={"domain": "acme.com"}, headers={HEADER: header}
    )
    assert_error(response, 401, "bad_signature")


def test_a_signature_made_over_a_body_other_than_the_empty_one_is_refused(client, issued):
    now = int(time.time())
    header = sign("test-webhook-secret", now, b"{}")
    response = client.get(
        f"/api/v1/referral-codes/{issued.code}", query_string={"domain": "acme.com"}, headers={HEADER: header}
    )
    assert_error(response, 401, "bad_signature")


@pytest.mark.parametrize("seconds", [301, -301, 3600])
def test_a_stale_timestamp_is_refused(client, issued, seconds):
    error = assert_error(check(client, issued.code, timestamp=int(time.time()) - seconds), 401, "stale_signature")
    assert "300" in error["message"]


def test_a_timestamp_within_the_tolerance_is_accepted(client, issued):
    assert check(client, issued.code, timestamp=int(time.time()) - 290).json["valid"] is True


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=" + "a" * 64, f"t={10**6}"])
def test_a_malformed_signature_header_is_refused(client, issued, header):
    response = client.get(
        f"/api/v1/referral-codes/{issued.code}", query_string={"domain": "acme.com"}, headers={HEADER: header}
    )
    assert_error(response, 401, "malformed_signature")


def test_a_signature_with_non_ascii_characters_is_refused_not_a_server_error(client, issued):
    """Found by the form fuzzing: comparing a digest with "é" in it raised TypeError, a 500."""
    header = f"t={int(time.time())},v1={'é' * 64}"
    response = client.get(
        f"/api/v1/referral-codes/{issued.code}", query_string={"domain": "acme.com"}, headers={HEADER: header}
    )
    assert response.status_code == 401
    assert response.json["error"]["code"] in ("malformed_signature", "bad_signature", "signature_mismatch")


def test_the_signature_is_checked_before_anything_else(client):
    """Even a request the endpoint would refuse (no domain) is a 401 first: nothing is said to strangers."""
    response = client.get("/api/v1/referral-codes/anything")
    assert_error(response, 401, "missing_signature")


def test_rotation_old_and_new_secrets_both_hold_while_both_are_configured(database_url):
    with app_with(database_url, WEBHOOK_SECRET="new,old") as app:
        client = app.test_client()
        for secret in ("old", "new"):
            response = check(client, generate_code(), secret=secret)
            assert response.status_code == 200, response.json
            assert response.json["reason"] == "unknown"
        assert_error(check(client, generate_code(), secret="test-webhook-secret"), 401, "bad_signature")
        assert_error(check(client, generate_code(), secret="new,old"), 401, "bad_signature")


def test_rotation_a_header_with_one_v1_per_secret_holds(database_url):
    with app_with(database_url, WEBHOOK_SECRET="new") as app:
        now = int(time.time())
        header = sign("new", now, b"") + "," + sign("old", now, b"").split(",")[1]
        response = app.test_client().get(
            f"/api/v1/referral-codes/{generate_code()}", query_string={"domain": "acme.com"}, headers={HEADER: header}
        )
        assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("configured", "secrets"),
    [
        ("new,old", ["new", "old"]),
        (" new , ,old, ", ["new", "old"]),
        ("only", ["only"]),
        (["new", "old"], ["new", "old"]),  # CLOUDCODES_WEBHOOK_SECRET='["new", "old"]' arrives as a list
        (12345, ["12345"]),  # an all-digit secret arrives from the environment as a number
        (None, []),
        ("", []),
        (" , ", []),
    ],
)
def test_the_secret_setting_may_hold_several_secrets(app, configured, secrets):
    app.config["WEBHOOK_SECRET"] = configured
    with app.app_context():
        assert webhook_secrets() == secrets


@pytest.mark.parametrize("configured", [None, "", " , "])
def test_without_a_secret_the_api_refuses_everything_with_503(database_url, configured):
    with app_with(database_url, WEBHOOK_SECRET=configured) as app:
        client = app.test_client()
        error = assert_error(check(client, generate_code()), 503, "api_not_configured")
        assert "not configured" in error["message"]
        assert_error(client.get(f"/api/v1/referral-codes/{generate_code()}?domain=acme.com"), 503, "api_not_configured")
        assert client.get("/api/v1/openapi.json").status_code == 200  # the description stays public


# --- Limits and errors -----------------------------------------------------------------------------


def test_the_check_is_rate_limited_per_client(client, issued):
    allowed = int(REFERRAL_CODE_LIMIT.split("/")[0])
    for _ in range(allowed):
        assert check(client, issued.code).status_code == 200
    response = check(client, issued.code)
    error = assert_error(response, 429, "rate_limited")
    assert "field" not in error
    assert int(response.headers["Retry-After"]) >= 1
    # Another client is not held back by the first.
    assert check(client, issued.code, environ_base={"REMOTE_ADDR": "192.0.2.77"}).json["valid"] is True
    # The signature is checked first: a stranger is told 401, never how much of the limit is left.
    assert_error(client.get(f"/api/v1/referral-codes/{issued.code}?domain=acme.com"), 401, "missing_signature")


def test_an_unknown_api_path_is_a_json_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(signed_get(client, "/api/v1/nothing-here"), 404, "not_found")


def test_a_wrong_method_is_a_json_405(client):
    response = client.post("/api/v1/referral-codes/CC-7K3Q-9M2P-XW43?domain=acme.com", json={})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_server_error_is_json_and_says_nothing_was_recorded(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr("cloudcodes.api.referral_codes.check_code", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    error = assert_error(check(client, generate_code()), 500, "internal_error")
    assert "nothing was recorded" in error["message"]
    assert "fell over" not in error["message"]


# --- The description ---------------------------------------------------------------------------


def test_the_openapi_document_is_public_and_describes_the_referral_code_check(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    document = response.json
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    operation = document["paths"]["/api/v1/referral-codes/{code}"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"code", "domain"}
    assert {"200", "400", "401", "429", "503"} <= set(operation["responses"])
    scheme = document["components"]["securitySchemes"]["signature"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": HEADER}
    assert "<t>." in scheme["description"]  # a GET signs the empty body
    assert document["security"] == [{"signature": []}]
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    for ref in schema_refs(document):
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]  # every reference resolves
