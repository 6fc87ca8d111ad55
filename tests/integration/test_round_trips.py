"""What PostgreSQL is sent around a request's statements, read in the server's own log (issue #16).

The signed code check is one read statement, asked by the checkout for every customer: it runs on
its own, without the BEGIN and ROLLBACK a transaction would add (two of three round trips). A
page is read in a transaction as before, so the log shows that BEGIN when there is one.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from cloudcodes.extensions import db as _db
from cloudcodes.referrals.codes import generate_code
from tests.conftest import make_test_app
from tests.support import postgres as pg
from tests.support.api import signed_get

pytestmark = pytest.mark.postgres
_LOGGED = re.compile(r"LOG:\s+(?:statement|execute [^:]*): (.*)")


@pytest.fixture(scope="module")
def logged(private_postgres: pg.ThrowawayCluster) -> pg.ThrowawayCluster:
    url = private_postgres.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET log_statement = 'all'")
        admin.execute("SELECT pg_reload_conf()")
    return private_postgres


def _sent(cluster: pg.ThrowawayCluster, request) -> list[str]:
    """The statements the server logged while ``request`` ran (the log is written as they arrive)."""
    log = cluster.root / "server.log"
    start = log.stat().st_size
    request()
    time.sleep(0.2)
    with log.open(encoding="utf-8", errors="replace") as lines:
        lines.seek(start)
        # "statement: BEGIN" (simple protocol) or "execute <unnamed>: SELECT ..." (extended, with parameters)
        found = (_LOGGED.search(line) for line in lines)
        return [match.group(1).strip() for match in found if match]


def test_the_code_check_sends_its_statement_without_a_transaction_around_it(logged):
    app = make_test_app(logged.database_url)
    client = app.test_client()
    path = f"/api/v1/referral-codes/{generate_code()}"
    try:
        assert signed_get(client, path, query_string={"domain": "acme.com"}).status_code == 200  # warmed up
        check = _sent(logged, lambda: signed_get(client, path, query_string={"domain": "acme.com"}))
        page = _sent(logged, lambda: client.get("/program"))
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    assert [statement for statement in check if "referral_codes" in statement], check

    def transaction(statements: list[str]) -> list[str]:
        return [s for s in statements if s.upper().startswith(("BEGIN", "ROLLBACK", "COMMIT"))]

    assert transaction(check) == [], check
    assert transaction(page)[0].startswith("BEGIN"), "the log shows a page's transaction, so the check's has none"
