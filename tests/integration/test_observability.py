"""Logs, request ids, /metrics and Sentry, as an operator meets them (issue #12, part 5).

Log lines are read from stderr as the app writes them (JSON in production, chosen here with
LOG_FORMAT); metrics are read from /metrics and parsed as Prometheus reads them; the multiprocess
mode runs under real gunicorn with several workers and the repository's gunicorn.conf.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sentry_sdk
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from cloudcodes import observability
from cloudcodes.config import ConfigError
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import MailStatus
from cloudcodes.mail.outbox import queue_email
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.gunicorn import Browser, access_entries, serve
from tests.support.web import login

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "olivia@acme.example"
HEX_ID = r"[0-9a-f]{32}"


@pytest.fixture
def app(database_url):
    """The suite's app, writing JSON logs as in production."""
    application = make_test_app(database_url, LOG_FORMAT="json")
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def partner_id(app) -> int:
    with app.app_context():
        return UserFactory(email=EMAIL).id


def json_lines(captured: str) -> list[dict]:
    lines = [line for line in captured.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON, or this fails


def request_lines(captured: str) -> list[dict]:
    return [entry for entry in json_lines(captured) if entry["logger"] == "cloudcodes.requests"]


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name{labels}`` in a Prometheus text answer; None when absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()):
                return found.value
    return None


# --- Logs ---------------------------------------------------------------------------------------


def test_each_request_writes_one_json_line_with_id_status_duration_and_user(app, client, partner_id, capsys):
    assert login(client, EMAIL).status_code == 303
    capsys.readouterr()

    response = client.get("/dashboard/?search=olivia%40acme.example")

    assert response.status_code == 200
    captured = capsys.readouterr().err
    [line] = request_lines(captured)
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/dashboard/"  # without the query string
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["user_id"] == partner_id
    assert line["remote_addr"] == "127.0.0.1"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert "olivia" not in captured  # no e-mail address, from the query string or the user


def test_the_login_form_data_never_reaches_the_log(client, partner_id, capsys):
    assert login(client, EMAIL, "a wrong password here").status_code == 401
    captured = capsys.readouterr().err
    posted = [line for line in request_lines(captured) if line["method"] == "POST"]
    assert [(line["path"], line["status"], line["user_id"]) for line in posted] == [("/login", 401, None)]
    assert EMAIL not in captured
    assert "wrong password" not in captured


def test_a_secret_token_in_the_address_is_masked_in_the_log(client, capsys):
    client.get("/reset-password/Zx9-secret-reset-token")
    captured = capsys.readouterr().err
    [line] = request_lines(captured)
    assert line["path"] == "/reset-password/[redacted]"
    assert "Zx9-secret-reset-token" not in captured


def test_the_log_line_loads_no_user_that_the_request_did_not_load(client, partner_id, count_queries, capsys):
    assert login(client, EMAIL).status_code == 303
    capsys.readouterr()
    with count_queries() as counter:
        response = client.get("/static/css/site.css")
    assert response.status_code == 200
    response.close()
    assert counter.statements == []
    [line] = request_lines(capsys.readouterr().err)
    assert (line["path"], line["user_id"]) == ("/static/css/site.css", None)


def test_a_server_error_is_logged_with_its_traceback_and_its_reference_shown(app, client, monkeypatch, capsys):
    def broken():
        raise RuntimeError("the flux capacitor fell over")

    monkeypatch.setitem(app.view_functions, "public.faq", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.get("/faq")

    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    page = response.get_data(as_text=True)
    assert f'Reference: <code class="request-id">{request_id}</code>' in page
    assert "flux capacitor" not in page
    entries = json_lines(capsys.readouterr().err)
    [error] = [entry for entry in entries if entry["level"] == "ERROR"]
    assert error["request_id"] == request_id
    assert error["message"] == "Unhandled exception on GET /faq"
    assert "Traceback (most recent call last)" in error["exception"]
    assert "RuntimeError: the flux capacitor fell over" in error["exception"]
    [line] = [entry for entry in entries if entry["logger"] == "cloudcodes.requests"]
    assert (line["status"], line["request_id"]) == (500, request_id)


def test_other_records_of_the_app_carry_the_request_id(app, client, capsys):
    app.config["WEBHOOK_SECRET"] = None  # the API logs an error and refuses
    response = client.get("/api/v1/checkouts/anything")
    assert response.status_code == 503
    entries = json_lines(capsys.readouterr().err)
    [refusal] = [entry for entry in entries if entry["level"] == "ERROR"]
    assert "CLOUDCODES_WEBHOOK_SECRET is not set" in refusal["message"]
    assert refusal["request_id"] == response.headers["X-Request-ID"]


def test_development_logs_are_text_with_the_request_id(sqlite_database, capsys):
    app = make_test_app(sqlite_database)  # LOG_FORMAT unset outside production: text
    response = app.test_client().get("/nowhere", headers={"X-Request-ID": "proxy-id-7"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert response.status_code == 404
    assert re.fullmatch(r"\S+ \S+ INFO cloudcodes\.requests \[proxy-id-7\] GET /nowhere 404 [0-9.]+ ms", line), line
    with app.app_context():
        _db.engine.dispose()


def test_an_unknown_log_format_is_refused_with_the_choices(sqlite_database):
    with pytest.raises(ConfigError, match="CLOUDCODES_LOG_FORMAT must be json or text"):
        make_test_app(sqlite_database, LOG_FORMAT="xml")


# --- Request ids --------------------------------------------------------------------------------


def test_every_answer_carries_a_request_id(client):
    page = client.get("/")
    missing = client.get("/no-such-page")
    api_missing = client.get("/api/v1/nothing-here")
    assert page.status_code == 200
    assert missing.status_code == 404
    assert api_missing.status_code == 404
    ids = [answer.headers["X-Request-ID"] for answer in (page, missing, api_missing)]
    assert all(len(request_id) == 32 for request_id in ids)
    assert len(set(ids)) == 3  # one per request
    assert api_missing.json == {"error": api_missing.json["error"]}  # the API's error shape is unchanged
    assert set(api_missing.json["error"]) == {"code", "message"}


def test_the_error_page_shows_the_reference_to_quote(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert f'Reference: <code class="request-id">{response.headers["X-Request-ID"]}</code>' in page
    assert "Quote it if you write to us" in page


def test_a_rate_limited_answer_carries_a_request_id(client, partner_id):
    for _ in range(5):
        assert login(client, EMAIL, "wrong password here").status_code == 401
    response = login(client, EMAIL, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert len(response.headers["X-Request-ID"]) == 32
    assert response.headers["X-Request-ID"] in response.get_data(as_text=True)


@pytest.mark.parametrize("incoming", ["7f3c1a.proxy-42_b", "a" * 64])
def test_a_sane_incoming_request_id_is_kept(client, incoming):
    response = client.get("/", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["a" * 65, "two words", "<script>", "id;drop", "", "é"])
def test_an_incoming_request_id_that_is_not_a_plain_token_is_replaced(client, incoming):
    response = client.get("/", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32


# --- Metrics ------------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(client):
    client.get("/")
    client.get("/reset-password/one-token")
    client.get("/reset-password/another-token")
    client.get("/no-such-page")

    text = scrape(client)

    assert sample(text, "flask_http_request_total", method="GET", status="200") == 1
    assert sample(text, "flask_http_request_total", method="GET", status="410") == 2  # unknown reset links
    duration = "flask_http_request_duration_seconds_count"
    assert sample(text, duration, method="GET", route="/reset-password/<token>", status="410") == 2
    assert sample(text, duration, method="GET", route="/", status="200") == 1
    assert sample(text, duration, method="GET", route="unmatched", status="404") == 1
    assert "one-token" not in text  # the raw path is no label
    assert sample(text, duration, route="/metrics") is None  # scrapes are not counted


def test_metrics_show_the_outbox_backlog_read_at_scrape_time(app, client):
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    empty = scrape(client)
    assert sample(empty, "cloudcodes_outbox_messages", status="queued") == 0
    assert sample(empty, "cloudcodes_outbox_messages", status="failed") == 0
    assert sample(empty, "cloudcodes_outbox_oldest_queued_seconds") == 0

    with time_machine.travel(start, tick=False), app.app_context():
        messages = [
            queue_email(to=f"ana{n}@acme.example", template="test_message", context={"title": "Hi", "name": "Ana"})
            for n in range(3)
        ]
        _db.session.flush()
        messages[0].status = MailStatus.FAILED
        messages[1].status = MailStatus.SENT
        _db.session.commit()
    with time_machine.travel(start + timedelta(seconds=90), tick=False), app.app_context():
        queue_email(to="bo@acme.example", template="test_message", context={"title": "Hi", "name": "Bo"})
        _db.session.commit()
        text = scrape(client)

    assert sample(text, "cloudcodes_outbox_messages", status="queued") == 2
    assert sample(text, "cloudcodes_outbox_messages", status="failed") == 1
    assert sample(text, "cloudcodes_outbox_oldest_queued_seconds") == 90


def test_metrics_answer_404_to_an_address_outside_the_allowed_networks(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert response.status_code == 404
    assert "flask_http_request" not in response.get_data(as_text=True)
    assert "We could not find that page" in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"]


def test_metrics_trust_the_address_the_proxy_saw_not_the_proxy(sqlite_database):
    app = make_test_app(sqlite_database, PROXY_HOPS=1)
    client = app.test_client()
    outside = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})  # the proxy is on loopback
    inside = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert outside.status_code == 404
    assert inside.status_code == 200
    with app.app_context():
        _db.engine.dispose()


def test_metrics_allowed_networks_are_configurable(sqlite_database):
    app = make_test_app(sqlite_database, METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 192.0.2.7")
    client = app.test_client()
    assert client.get("/metrics").status_code == 404  # loopback is no longer listed
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 404
    with app.app_context():
        _db.engine.dispose()


def test_a_wrong_metrics_network_is_refused_at_start_with_what_to_write(sqlite_database):
    with pytest.raises(ConfigError, match=r"CLOUDCODES_METRICS_ALLOWED_NETWORKS: 'localhost' is not an address"):
        make_test_app(sqlite_database, METRICS_ALLOWED_NETWORKS="127.0.0.1,localhost")


def test_metrics_are_not_rate_limited(client):
    for _ in range(30):
        assert client.get("/metrics").status_code == 200


def test_metrics_are_not_in_the_site_navigation(client):
    assert "/metrics" not in client.get("/").get_data(as_text=True)


def test_a_registered_gauge_is_one_call_and_a_failing_one_costs_only_itself(client, monkeypatch, capsys):
    monkeypatch.setattr(observability, "_gauges", dict(observability._gauges))

    def broken() -> float:
        raise RuntimeError("the broker is unreachable")

    observability.register_gauge("test_jobs_failed", "Failed job runs, by job.", lambda: {"b": 2, "a": 1}, label="job")
    observability.register_gauge("test_queue_depth", "Tasks waiting.", broken)

    response = client.get("/metrics")

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert sample(text, "test_jobs_failed", job="a") == 1
    assert sample(text, "test_jobs_failed", job="b") == 2
    assert "test_queue_depth" not in text
    assert sample(text, "cloudcodes_outbox_messages", status="queued") == 0  # the others are still served
    [warning] = [entry for entry in json_lines(capsys.readouterr().err) if entry["level"] == "WARNING"]
    assert warning["message"] == "Gauge test_queue_depth could not be read for /metrics."
    assert "the broker is unreachable" in warning["exception"]


# --- Under gunicorn: every worker counted --------------------------------------------------------


def _spread_requests(base_url: str, count: int) -> list[int]:
    def send(_: int) -> int:
        return Browser(base_url).get("/login").status

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(send, range(count)))


def test_under_gunicorn_metrics_count_the_requests_of_every_worker(database_url, tmp_path):
    metrics_dir = tmp_path / "metrics"
    access_log = tmp_path / "access.log"
    with serve(
        database_url,
        workers=4,
        access_log=access_log,
        settings={"PROXY_HOPS": 1},
        config_file=ROOT / "gunicorn.conf.py",
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    ) as base_url:
        assert _spread_requests(base_url, 40) == [200] * 40
        answered_by = {entry.pid for entry in access_entries(access_log) if entry.path == "/login"}
        scrapes = [Browser(base_url).get("/metrics") for _ in range(4)]
        from_outside = Browser(base_url).get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
        counted_by = {path.name for path in metrics_dir.glob("histogram_*.db")}

    assert len(answered_by) > 1, "the requests should have been spread over several workers"
    assert len(counted_by) >= len(answered_by)
    for answer in scrapes:  # whichever worker answers, it counts them all
        assert answer.status == 200
        assert sample(answer.text, "flask_http_request_duration_seconds_count", route="/login", status="200") == 40
        assert sample(answer.text, "flask_http_request_total", method="GET", status="200") >= 40
        assert sample(answer.text, "cloudcodes_outbox_messages", status="queued") == 0
    assert from_outside.status == 404  # the proxy on loopback forwarded a request from outside


def test_under_gunicorn_without_a_directory_set_the_config_makes_and_removes_one(sqlite_database):
    def metrics_dirs() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("cloudcodes-metrics-*"))

    before = metrics_dirs()
    with serve(sqlite_database, workers=2, preload=False, config_file=ROOT / "gunicorn.conf.py") as base_url:
        assert _spread_requests(base_url, 10) == [200] * 10
        during = metrics_dirs() - before
        text = Browser(base_url).get("/metrics").text
    after = metrics_dirs() - before

    assert len(during) == 1
    assert sample(text, "flask_http_request_duration_seconds_count", route="/login", status="200") == 10
    assert after == set()


# --- Sentry -------------------------------------------------------------------------------------


def test_sentry_is_off_without_a_dsn(app, client):
    assert client.get("/").status_code == 200
    assert not sentry_sdk.get_client().is_active()
    assert "cloudcodes.sentry" not in app.extensions


SENTRY_CHECK = """
import json, sys
import sentry_sdk
from cloudcodes import create_app

app = create_app({
    "ENV": "test", "DATABASE_URL": sys.argv[1], "SECRET_KEY": "k", "WEBHOOK_SECRET": "w",
    "SENTRY_DSN": "https://public@127.0.0.1:9/1",
})
client = sentry_sdk.get_client()
answer = app.test_client().get("/")
print(json.dumps({
    "active": client.is_active(),
    "environment": client.options["environment"],
    "sends_personal_data": bool(client.options.get("send_default_pii"))
    or client.options.get("data_collection", {}).get("user_info", False),
    "request_bodies": client.options["max_request_body_size"],
    "status": answer.status_code,
    "request_id": bool(answer.headers.get("X-Request-ID")),
}))
client.close(timeout=2)
"""


def test_sentry_with_a_dsn_starts_with_the_app_and_sends_no_personal_data(sqlite_database):
    """In a process of its own: Sentry patches Flask and logging for the whole process."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLOUDCODES_")}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SENTRY_CHECK, sqlite_database],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "active": True,
        "environment": "test",
        "sends_personal_data": False,
        "request_bodies": "never",
        "status": 200,
        "request_id": True,
    }
    assert "Warning" not in result.stderr


def test_sentry_events_lose_the_query_string_and_secret_tokens(app):
    event = {"request": {"url": "http://x/reset-password/s3cr3t-token", "query_string": "email=olivia%40acme.example"}}
    with app.test_request_context("/reset-password/s3cr3t-token?email=olivia@acme.example"):
        cleaned = observability._without_personal_data(event, {})
    assert cleaned["request"] == {"url": "http://x/reset-password/[redacted]"}
