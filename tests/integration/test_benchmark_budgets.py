"""Statement budgets for every page and call the HTTP benchmark (``bench/http.py``) loads (issue #16).

The benchmark shows how fast they are; these tests keep them that way without timing anything: each
sends at most its budget of SQL statements, and the same number for a partner with 10 purchases as
for one with 3,000 (a count that grows with the data is an N+1 or a sum done in Python). The
dashboard's other pages and downloads have their growth test in ``test_dashboard_budgets``, the
console's lists theirs in ``test_admin_lists``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.extensions import db as _db
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from tests.conftest import make_test_app
from tests.factories import make_partner
from tests.support.api import purchase_body, signed_get, signed_post
from tests.support.bulk import give_purchases
from tests.support.web import login

SMALL, LARGE = 10, 3_000
OWNERS = {SMALL: "owner@ten-purchases.example", LARGE: "owner@many-purchases.example"}
_orders = itertools.count(1)

# Statements per request once a process has served one (it keeps the program's terms): the figures
# of today, so that a change that adds a statement to a benchmarked page is a decision, not an accident.
BUDGETS = {
    "/faq": 1,  # the versions of the terms and the FAQ: both are kept per process
    "/program": 1,  # the terms' version
    "/dashboard/": 15,
    "/dashboard/earnings": 13,  # its ledger sums: the monthly totals, then the entries that depend on today
    "/dashboard/referrals": 8,
    "code check": 1,  # the code with its registration, partner and level
    "/redeem": 3,
    "new purchase": 14,  # its rows with one upsert of the monthly totals, the notices, the upgrade check
}


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    return module_database_url


@dataclass(frozen=True)
class Sample:
    """A live code of the partner and the domain it holds for."""

    code: str
    domain: str


@pytest.fixture(scope="module")
def samples(database_url: str) -> dict[int, Sample]:
    application = make_test_app(database_url)
    found = {}
    with application.app_context():
        since = clock.today() - timedelta(days=500)
        for count, owner in OWNERS.items():
            partner = make_partner(f"{count} Purchases Ltd", owner_email=owner, effective_from=since)
            data = give_purchases(partner, count, domains=3 if count == SMALL else 40)
            code, domain = _db.session.execute(
                select(ReferralCode.code, DomainRegistration.domain)
                .join(DomainRegistration, DomainRegistration.id == ReferralCode.registration_id)
                .where(ReferralCode.id == data.code_ids[0])
            ).one()
            found[count] = Sample(code, domain)
        _db.session.remove()
        _db.engine.dispose()
    return found


def _counted(app, count_queries, request):
    """The statements of ``request()``, sent after the same request once (the process's first read of
    the terms and the session are not what a page costs)."""
    request()
    with count_queries() as counter:
        response = request()
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    return counter.count, counter.statements


def _owner(app, count: int):
    client = app.test_client()
    assert login(client, OWNERS[count]).status_code == 303
    return client


def _report(sample: Sample) -> dict:
    when = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return purchase_body(
        order_id=f"BUDGET-{next(_orders)}",
        customer_domain=sample.domain,
        referral_code=sample.code,
        purchased_at=when,
    )


def _calls(app, samples: dict[int, Sample], count: int) -> dict:
    sample = samples[count]
    owner = _owner(app, count)
    client = app.test_client()
    return {
        "/faq": lambda: client.get("/faq"),
        "/program": lambda: client.get("/program"),
        "/dashboard/": lambda: owner.get("/dashboard/"),
        "/dashboard/earnings": lambda: owner.get("/dashboard/earnings"),
        "/dashboard/referrals": lambda: owner.get("/dashboard/referrals"),
        "code check": lambda: signed_get(
            client, f"/api/v1/referral-codes/{sample.code}", query_string={"domain": sample.domain}
        ),
        "/redeem": lambda: client.get("/redeem/?" + urlencode({"code": sample.code, "domain": sample.domain})),
        "new purchase": lambda: signed_post(client, "/api/v1/purchases", _report(sample)),
    }


@pytest.mark.parametrize("name", list(BUDGETS))
def test_each_benchmarked_call_keeps_its_budget_and_costs_the_same_at_any_size(app, count_queries, samples, name):
    small, _ = _counted(app, count_queries, _calls(app, samples, SMALL)[name])
    large, statements = _counted(app, count_queries, _calls(app, samples, LARGE)[name])
    assert large == small, f"{name}: {small} statements for {SMALL} purchases, {large} for {LARGE}:\n" + "\n---\n".join(
        statements
    )
    assert large <= BUDGETS[name], f"{name}: {large} statements, over its budget of {BUDGETS[name]}:\n" + (
        "\n---\n".join(statements)
    )


def test_the_large_partner_has_its_purchases(app, samples):
    """The equal counts mean something only if the data is there."""
    from sqlalchemy import func

    from cloudcodes.billing.models import Purchase
    from cloudcodes.partners.models import Partner

    with app.app_context():
        partner_id = _db.session.scalar(select(Partner.id).where(Partner.name == f"{LARGE} Purchases Ltd"))
        count = _db.session.scalar(select(func.count()).where(Purchase.partner_id == partner_id))
    assert count >= LARGE  # and the few the purchase test reported
