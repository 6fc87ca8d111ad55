"""Statement budgets: every dashboard page sends as many SQL statements for 10,000 purchases as for 10.

Two partners live in one database per engine, built once for the module (10,000 purchases per
test would be slow): one with 10 purchases, one with 10,000, each with domains, codes, refunds
and statements (``tests.support.bulk``). Each page is fetched as each partner's owner and the
statements counted; a count that grows with the data is an N+1 or a sum done in Python.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest

from cloudcodes import clock
from cloudcodes.extensions import db as _db
from tests.conftest import make_test_app
from tests.factories import make_partner
from tests.support.bulk import give_purchases
from tests.support.web import login

SMALL, LARGE = 10, 10_000
SMALL_OWNER = "owner@small-volume.example"
LARGE_OWNER = "owner@large-volume.example"
_numbers = itertools.count(1)

# Every dashboard page and download, with the filters and pages that change its queries.
# ``{statement}`` is the partner's first (paid) statement.
PAGES = [
    "/dashboard/",
    "/dashboard/referrals",
    "/dashboard/earnings",
    "/dashboard/earnings?kind=refund",
    "/dashboard/earnings?period=last-12-months",
    "/dashboard/earnings?since=2000-01-01&until=2100-12-31&kind=commission&product=1",
    "/dashboard/earnings/ledger.csv",
    "/dashboard/earnings/ledger.csv?period=this-year&kind=refund",
    "/dashboard/earnings/purchases.csv",
    "/dashboard/earnings/purchases.csv?kind=refund",
    "/dashboard/earnings/statements/{statement}.csv",
    "/dashboard/earnings/statements/{statement}.pdf",
    "/dashboard/performance",
    "/dashboard/performance?view=domains&sort=last",
    "/dashboard/team",
    "/dashboard/company",
]


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    """One database per engine for the whole module (overrides conftest's per-test clone)."""
    return module_database_url


@dataclass(frozen=True)
class Volumes:
    small_statement: int
    large_statement: int


@pytest.fixture(scope="module")
def volumes(database_url: str) -> Volumes:
    application = make_test_app(database_url)
    with application.app_context():
        since = clock.today() - timedelta(days=500)
        small = make_partner("Small Volume Ltd", owner_email=SMALL_OWNER, effective_from=since)
        large = make_partner("Large Volume Ltd", owner_email=LARGE_OWNER, effective_from=since)
        small_data = give_purchases(small, SMALL, domains=3)
        # More domains and codes than a page shows, so paged lists are paged for real.
        large_data = give_purchases(large, LARGE, domains=40)
        assert len(large_data.purchase_ids) == LARGE and large_data.refund_count == LARGE // 10
        assert small_data.statement_ids and large_data.statement_ids
        _db.session.remove()
        _db.engine.dispose()
    return Volumes(small_data.statement_ids[0], large_data.statement_ids[0])


def _statements(app, count_queries, email: str, path: str) -> tuple[int, list[str]]:
    client = app.test_client()
    assert login(client, email).status_code == 303
    client.get(path)  # the first request of a session may warm caches (settings, terms)
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return counter.count, counter.statements


# Paged lists: a later page of the large partner costs what its first page costs (the small
# partner has no second page, and an empty page skips the loads of its rows).
PAGED = [
    ("/dashboard/referrals", "page"),
    ("/dashboard/earnings", "page"),
    ("/dashboard/earnings", "ledger_page"),
    ("/dashboard/performance?view=domains", "page"),
]


@pytest.mark.parametrize(("page", "param"), PAGED)
def test_a_later_page_costs_what_the_first_costs(app, count_queries, volumes: Volumes, page: str, param: str) -> None:
    first, _ = _statements(app, count_queries, LARGE_OWNER, page)
    later_page = f"{page}{'&' if '?' in page else '?'}{param}=2"
    later, sql = _statements(app, count_queries, LARGE_OWNER, later_page)
    assert later == first, f"{later_page}: {later} statements, page 1: {first}:\n" + "\n---\n".join(sql[:40])


@pytest.mark.parametrize("page", PAGES)
def test_statements_do_not_grow_with_purchases(app, count_queries, volumes: Volumes, page: str) -> None:
    small_count, _ = _statements(app, count_queries, SMALL_OWNER, page.format(statement=volumes.small_statement))
    large_count, large_sql = _statements(
        app, count_queries, LARGE_OWNER, page.format(statement=volumes.large_statement)
    )
    assert large_count == small_count, (
        f"{page}: {small_count} statements for {SMALL} purchases, {large_count} for {LARGE}:\n"
        + "\n---\n".join(large_sql[:40])
    )


def test_the_large_partner_really_has_ten_thousand_purchases(app, volumes: Volumes) -> None:
    """The budget means something only if the data is there, attributed and in the ledger."""
    from sqlalchemy import func, select

    from cloudcodes.billing.models import LedgerEntry, Purchase
    from cloudcodes.partners.models import Partner

    with app.app_context():
        large = _db.session.scalar(select(Partner).where(Partner.name == "Large Volume Ltd"))
        purchases = _db.session.scalar(select(func.count()).where(Purchase.partner_id == large.id))
        accruals = _db.session.scalar(
            select(func.count()).where(LedgerEntry.partner_id == large.id, LedgerEntry.kind == "accrual")
        )
    assert purchases == LARGE
    assert accruals == LARGE
