"""The database gone: the site answers 503 with its own page (the API in JSON, with Retry-After),
and comes back by itself when the server is back, without a restart.

The outage is real: a throw-away PostgreSQL cluster of this test's own is stopped and started again.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from cloudcodes.extensions import db as _db
from tests.conftest import make_test_app
from tests.factories import make_partner
from tests.support import postgres as pg
from tests.support.api import purchase_body, signed_post
from tests.support.web import login

pytestmark = pytest.mark.postgres

OWNER = "olivia@outage-partner.example"
PAGES = ("/", "/faq", "/program", "/dashboard/", "/dashboard/referrals", "/dashboard/earnings")


@pytest.fixture(scope="module")
def cluster(private_postgres: pg.ThrowawayCluster) -> pg.ThrowawayCluster:
    app = make_test_app(private_postgres.database_url)
    with app.app_context():
        make_partner("Outage Partner", owner_email=OWNER)
        _db.engine.dispose()
    return private_postgres


@pytest.fixture
def outage_app(cluster):
    app = make_test_app(cluster.database_url)
    yield app
    if not (cluster.datadir / "postmaster.pid").exists():
        cluster.start_server()
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_pages_answer_503_with_the_site_page_while_the_database_is_down_and_recover(cluster, outage_app):
    partner = outage_app.test_client()
    assert login(partner, OWNER).status_code == 303
    visitor = outage_app.test_client()
    for path in PAGES:
        assert partner.get(path).status_code == 200, path

    cluster.stop_server()
    for client, path in [(visitor, "/"), (visitor, "/faq")] + [(partner, p) for p in PAGES]:
        response = client.get(path)
        assert response.status_code == 503, (path, response.status_code)
        body = response.get_data(as_text=True)
        assert "briefly unavailable" in body
        assert "<nav" in body, "the site's own page, not a bare one"
        assert response.headers["Retry-After"].isdigit()

    cluster.start_server()
    for path in PAGES:
        assert partner.get(path).status_code == 200, path
    assert visitor.get("/faq").status_code == 200


def test_the_api_answers_503_in_json_with_retry_after_and_recovers(cluster, outage_app):
    client = outage_app.test_client()
    path = "/api/v1/purchases"
    cluster.stop_server()
    response = signed_post(client, path, purchase_body())
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert "Retry-After" in error["message"]

    cluster.start_server()
    response = signed_post(client, path, purchase_body())
    assert response.status_code == 201, "the report sent again is recorded once the database is back"


def test_connections_the_server_closed_while_idle_are_replaced_before_a_request_uses_them(cluster, outage_app):
    """A restart, or the server ending idle sessions, between two requests: no request sees it."""
    partner = outage_app.test_client()
    assert login(partner, OWNER).status_code == 303
    with outage_app.app_context():
        # Three idle connections in the pool, as a busy worker leaves them.
        held = [_db.engine.connect() for _ in range(3)]
        for connection in held:
            connection.exec_driver_sql("SELECT 1")
        for connection in held:
            connection.close()
    url = cluster.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        # pg_terminate_backend only signals: wait until the sessions have ended (and closed their sockets).
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the terminated sessions did not end"
            time.sleep(0.05)
    assert ended >= 3
    for path in PAGES + PAGES:
        assert partner.get(path).status_code == 200, path

    cluster.stop_server()
    cluster.start_server()
    for path in PAGES:
        assert partner.get(path).status_code == 200, path
