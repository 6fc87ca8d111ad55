"""Rate limits hold across gunicorn workers: counted in Redis, once, not in each worker (issue #17).

With the in-memory storage, 40 wrong logins under four workers got 20 answers of 401 before the
first 429, against "5/minute". Here the app runs as in production (``gunicorn wsgi:app``, four sync
workers, a real database, Redis), and the answers are checked to come from more than one worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudcodes.extensions import db as _db
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.api import purchase_body, signature_header
from tests.support.gunicorn import Browser, access_entries, serve
from tests.support.web import csrf_token

WORKERS = 4
LOGIN_LIMIT = 5  # "5/minute;20/hour" on POST /login, per address and per submitted e-mail
EMAIL = "olivia@acme.example"


class Served:
    def __init__(self, base_url: str, access_log: Path) -> None:
        self.base_url = base_url
        self.access_log = access_log

    def workers_that_answered(self, method: str, path: str) -> set[int]:
        return {entry.pid for entry in access_entries(self.access_log) if (entry.method, entry.path) == (method, path)}


@pytest.fixture
def served(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Served]:
    """The portal under gunicorn with four workers, rate limits in Redis, one proxy hop in front."""
    app = make_test_app(database_url)
    with app.app_context():
        UserFactory(email=EMAIL)
        _db.session.remove()
        _db.engine.dispose()
    access_log = tmp_path / "access.log"
    settings = {"PROXY_HOPS": 1, "API_WRITE_LIMIT": "5/minute"}
    with serve(
        database_url, workers=WORKERS, ratelimit_storage_url=redis_url, settings=settings, access_log=access_log
    ) as base_url:
        yield Served(base_url, access_log)


def at_once(count: int, send) -> list[int]:
    """``send(n)`` for n in range(count) from eight threads: requests in flight together are taken
    by different workers (one client in turn may be served by one worker every time)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(send, range(count)))


def wrong_logins(served: Served, count: int, *, addresses: list[str] | None = None) -> list[int]:
    """``count`` wrong passwords for EMAIL, sent at once; the statuses answered."""

    def send(n: int) -> int:
        browser = Browser(served.base_url)
        page = browser.get("/login")  # not limited: only the POST counts
        assert page.status == 200
        headers = {"X-Forwarded-For": addresses[n]} if addresses else {}
        answer = browser.post(
            "/login",
            data={"csrf_token": csrf_token(page.text), "email": EMAIL, "password": "not the right password"},
            headers=headers,
        )
        if answer.status == 429:
            assert int(answer.headers["Retry-After"]) > 0
        else:
            assert "Invalid e-mail or password." in answer.text
        return answer.status

    return at_once(count, send)


def test_forty_wrong_logins_from_one_address_get_five_401s_then_429s_across_four_workers(served):
    statuses = wrong_logins(served, 40)

    assert sorted(statuses) == [401] * LOGIN_LIMIT + [429] * (40 - LOGIN_LIMIT), statuses
    # Several workers answered: each would have allowed five on its own with a per-worker count.
    assert len(served.workers_that_answered("POST", "/login")) > 1


def test_wrong_logins_for_one_email_are_counted_once_across_workers_and_addresses(served):
    addresses = [f"198.51.100.{n}" for n in range(1, 21)]

    statuses = wrong_logins(served, len(addresses), addresses=addresses)

    assert sorted(statuses) == [401] * LOGIN_LIMIT + [429] * (len(addresses) - LOGIN_LIMIT), statuses
    assert len(served.workers_that_answered("POST", "/login")) > 1


def test_the_api_write_limit_is_counted_once_across_workers(served):
    def send(n: int) -> int:
        body = json.dumps(purchase_body(order_id=f"ORD-2026-{n:04d}", customer_domain=f"customer-{n}.com")).encode()
        headers = {"Content-Type": "application/json", **signature_header(body)}
        return Browser(served.base_url).post("/api/v1/purchases", body=body, headers=headers).status

    statuses = at_once(20, send)

    assert sorted(statuses) == [201] * 5 + [429] * 15, statuses
    assert len(served.workers_that_answered("POST", "/api/v1/purchases")) > 1


def test_with_redis_unreachable_the_limits_fall_back_to_each_worker_rather_than_failing(database_url: str):
    """Redis down must not take the login page down: each process counts on its own until it is back."""
    from tests.support.postgres import free_port

    app = make_test_app(database_url, RATELIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0")
    with app.app_context():
        UserFactory(email=EMAIL)
        _db.session.commit()
    client = app.test_client()
    answers = []
    for _ in range(LOGIN_LIMIT + 1):
        page = client.get("/login").get_data(as_text=True)
        data = {"csrf_token": csrf_token(page), "email": EMAIL, "password": "not the password"}
        answers.append(client.post("/login", data=data).status_code)
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()
    assert answers == [401] * LOGIN_LIMIT + [429]


def test_with_rate_limits_switched_off_a_two_factor_login_still_works_under_gunicorn(database_url: str):
    """``RATELIMIT_ENABLED=false`` (the HTTP benchmark runs so): the limiter has no storage then, and the
    second-factor page, which counts wrong codes itself, answered 500 before it knew."""
    from tests.support.web import make_staff, next_totp

    app = make_test_app(database_url)
    person = make_staff(app)
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()
    with serve(database_url, workers=2, settings={"RATELIMIT_ENABLED": False}) as base_url:
        browser = Browser(base_url)
        page = browser.get("/login")
        answer = browser.post(
            "/login", data={"csrf_token": csrf_token(page.text), "email": person.email, "password": DEFAULT_PASSWORD}
        )
        assert answer.status == 303 and answer.headers["Location"].endswith("/login/two-factor")
        page = browser.get("/login/two-factor")
        assert page.status == 200, page.text[:300]
        wrong = browser.post("/login/two-factor", data={"csrf_token": csrf_token(page.text), "code": "000000"})
        assert wrong.status == 200 and "That code is not right" in wrong.text
        answer = browser.post(
            "/login/two-factor", data={"csrf_token": csrf_token(wrong.text), "code": next_totp(person.secret)}
        )
        assert answer.status == 303 and answer.headers["Location"].endswith("/admin/")
