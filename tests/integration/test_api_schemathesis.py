"""Schemathesis against the API, in process over WSGI: generated requests, every one signed, never a 5xx.

SQLite only (a fresh database per test, from the migrated template): this test is about what the
API answers to any input the OpenAPI document allows (and, negated, any it forbids), not about the
database; the PostgreSQL-specific paths (row locks, unique races) are covered by
test_billing_races.py. Each generated request is signed over the exact bytes it sends, so the
generation reaches the endpoints instead of stopping at the signature guard.

The examples are bounded and derandomized: the same cases every run, well under half a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import schemathesis
import time_machine
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloudcodes.api.signatures import HEADER
from cloudcodes.extensions import db
from cloudcodes.partners.services import create_partner
from cloudcodes.referrals.services import issue_code, register_domain
from tests.conftest import make_test_app
from tests.support.api import TEST_SECRET, signature_header, signed_post

MAX_EXAMPLES = 30
SEEDED_ORDER = "ORD-SEEDED"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api(sqlite_database: str) -> Iterator[Flask]:
    """The app on SQLite with a partner, acme.com registered with a code, and one purchase to refund."""
    app = make_test_app(sqlite_database)
    with app.app_context(), time_machine.travel(datetime(2026, 1, 10, 9, 0, tzinfo=UTC), tick=False):
        partner = create_partner(
            name="Acme Cloud Ltd",
            website="https://acme.example.com",
            country="United Kingdom",
            level="premier",
            channel_manager=None,
            effective_from=date(2020, 1, 1),
        )
        db.session.commit()
        issue_code(register_domain(partner, "acme.com", by=None), by=None)
    seeded = {
        "order_id": SEEDED_ORDER,
        "customer_domain": "acme.com",
        "product": "CC-ACCESS",
        "seats": 100,
        "amount": "5000.00",
        "currency": "USD",
        "channel": "direct",
        "purchased_at": "2026-01-15T10:00:00Z",
    }
    assert signed_post(app.test_client(), "/api/v1/purchases", seeded).status_code == 201
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def negates_the_signature(case: schemathesis.Case) -> bool:
    """Whether the generator meant this case to break the signature header (left out or made malformed).

    The header is the only header parameter (the apiKey security scheme), so a negative header
    component is a negative signature.
    """
    component = case.meta.components.get(ParameterLocation.HEADER) if case.meta is not None else None
    return component is not None and component.mode == GenerationMode.NEGATIVE


def signed_request(case: schemathesis.Case) -> dict:
    """The Werkzeug request for ``case``, its body serialized here so the signature covers exactly those bytes.

    A case meant to break the signature is sent as generated, unsigned.
    """
    kwargs = case.as_transport_kwargs()
    headers = dict(kwargs.pop("headers", {}))
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode("utf-8")
    else:
        data = kwargs.pop("data", b"")
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")
    if not negates_the_signature(case):
        # Whatever value the generator put in the signature header (an apiKey to it) is replaced.
        headers = {name: value for name, value in headers.items() if name.lower() != HEADER.lower()}
        headers.update(signature_header(body, secret=TEST_SECRET, timestamp=int(time.time())))
    return {**kwargs, "headers": headers, "data": body}


OPERATIONS = [
    pytest.param("POST", "/api/v1/purchases", None, id="purchases"),
    pytest.param("POST", "/api/v1/purchases/{order_id}/refunds", None, id="refunds-any-order"),
    pytest.param("POST", "/api/v1/purchases/{order_id}/refunds", {"order_id": SEEDED_ORDER}, id="refunds-seeded"),
    pytest.param("GET", "/api/v1/referral-codes/{code}", None, id="referral-codes"),
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize(("method", "path", "path_parameters"), OPERATIONS)
def test_generated_requests_never_get_a_server_error_and_answers_match_the_document(
    api, method, path, path_parameters, mode
):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api)
    schema.validate()
    # The signature is added to each request below; generating (and negating) the header itself would
    # spend most negative examples on 401s, which test_api_purchases.py covers one by one.
    schema.config.generation.update(with_security_parameters=False)
    operation = schema[path][method]
    client = api.test_client()
    checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS
    statuses: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def exercise(case: schemathesis.Case) -> None:
        response = client.open(**signed_request(case))
        statuses.append(response.status_code)
        if negates_the_signature(case):
            assert response.status_code == 401, response.get_data(as_text=True)
        else:
            assert response.status_code != 401, response.get_data(as_text=True)  # signed over the bytes sent
        case.validate_response(response, checks=checks)

    exercise()
    assert statuses, "no request was generated"
    assert all(status < 500 for status in statuses)
