"""The README's production steps, followed for real: install, migrate, serve, work, observe.

From this checkout, the portal is installed from the lock into a fresh virtual environment outside
the checkout's folder and run from another folder with ``CLOUDCODES_ENV=production`` on the test
session's PostgreSQL and Redis: ``flask db upgrade``, gunicorn with three workers, a Celery worker
and the beat scheduler, mail to an SMTP server on loopback. Then, from outside, as an operator
would check a new host: the pages answer; the login limit of 5 a minute holds across the three
workers; an application's e-mail arrives through the worker within seconds; a worker killed in the
middle of sending is replaced and its mail arrives once; /metrics counts the requests; every log
line is JSON with the request id. Everything started here is stopped here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import postgres as pg
from tests.support.gunicorn import Browser
from tests.support.smtp import SmtpServer
from tests.support.web import csrf_token

pytestmark = [pytest.mark.deploy, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_A_RELEASE = (".git", ".venv", "build", "*.egg-info", "instance", "__pycache__", ".hypothesis", ".*_cache")
TIMINGS: dict[str, float] = {}  # seconds, printed at the end (pytest -s shows them)
WORKERS = 3
SECRET_KEY = "deploy-test-secret-key-0123456789abcdef"
WEBHOOK_SECRET = "deploy-test-webhook-secret"
APPLICATION = {
    "website": "newco.example.com",
    "country": "United Kingdom",
    "contact_phone": "+44 20 7946 0000",
    "is_workspace_reseller": "y",
    "workspace_reseller_id": "C01abc234",
    "sales_team_size": "4",
    "technical_team_size": "2",
    "expected_customers": "25",
    "heard_from": "customer",
}


def wait_for(what: str, check, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@dataclass
class Host:
    """One production host: the installed portal, its settings and the processes it runs."""

    venv: Path
    folder: Path  # the working folder, outside the checkout
    env: dict[str, str]
    base_url: str
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def command(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def start(self, name: str, *args: str) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [str(self.venv / "bin" / args[0]), *args[1:]],
                cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.start(
            name, "celery", "-A", "cloudcodes.jobs.worker:celery", "worker", "--loglevel", "INFO",
            "--concurrency", "1", "--hostname", f"{name}@deploy-test",
        )  # fmt: skip

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the checkout, installed as the README says."""
    folder = tmp_path_factory.mktemp("deploy")
    venv = folder / "venv"
    started = time.monotonic()
    # A clean copy, as a fresh checkout of the release would be: building in place would leave
    # build/ behind in this checkout, and a later build would ship whatever stale files it holds.
    release = folder / "release"
    shutil.copytree(ROOT, release, ignore=shutil.ignore_patterns(*NOT_IN_A_RELEASE))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps = [
        [
            *pip,
            "--require-hashes",
            "-r",
            str(ROOT / "requirements/base.txt"),
            "-r",
            str(ROOT / "requirements/build.txt"),
        ],
        [*pip, "--no-deps", "--no-build-isolation", str(release)],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            unavailable("deploy", f"installing from the lock failed: {result.stderr[-2000:]}")
    TIMINGS["install"] = time.monotonic() - started
    return venv


@pytest.fixture(scope="module")
def host(installed: Path, postgres_server: str | None, redis_server, tmp_path_factory) -> Iterator[Host]:
    if postgres_server is None:
        unavailable("postgres", getattr(pytest, "postgres_unavailable_reason", "no server"))
    database = "cc_deploy_test"
    pg.drop_database(postgres_server, database)
    database_url = pg.create_database(postgres_server, database)
    root = tmp_path_factory.mktemp("host")
    folder, logs = root / "work", root / "logs"
    folder.mkdir()
    logs.mkdir()
    smtp = SmtpServer(stall_first_rcpt=0).start()
    port = pg.free_port()
    redis = f"redis://127.0.0.1:{redis_server.port}"
    env = {
        "PATH": f"{installed / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "CLOUDCODES_ENV": "production",
        "CLOUDCODES_INSTANCE_PATH": str(root / "instance"),
        "CLOUDCODES_DATABASE_URL": database_url,
        "CLOUDCODES_SECRET_KEY": SECRET_KEY,
        "CLOUDCODES_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLOUDCODES_SMTP_URL": smtp.url,
        "CLOUDCODES_RATELIMIT_STORAGE_URL": f"{redis}/0",
        "CLOUDCODES_BROKER_URL": f"{redis}/1",
        "CLOUDCODES_SITE_URL": f"http://127.0.0.1:{port}",
        "CLOUDCODES_BILLING_PAYMENT_URL": "https://billing.example/pay",
        "CLOUDCODES_PAYOUT_ENCRYPTION_KEY": "lvTRmN2b8h3nq9cQv8oJ4yq2JmH8s0d3zq8cQx0Zr1E=",
        "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
        # A task whose worker died is handed out again after 15 s rather than two hours.
        "CLOUDCODES_CELERY": json.dumps(
            {"broker_transport_options": {"socket_connect_timeout": 2, "visibility_timeout": 15}}
        ),
    }
    server = Host(installed, folder, env, f"http://127.0.0.1:{port}", logs)
    server.smtp = smtp  # type: ignore[attr-defined]
    server.timings = TIMINGS  # type: ignore[attr-defined]
    started = time.monotonic()
    server.command("flask", "--app", "cloudcodes:create_app", "db", "upgrade")
    server.timings["migrate"] = time.monotonic() - started  # type: ignore[attr-defined]
    started = time.monotonic()
    server.start(
        "web", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "--workers", str(WORKERS),
        "--bind", f"127.0.0.1:{port}", "cloudcodes:create_app()",
    )  # fmt: skip
    server.start_worker("worker")
    server.start("beat", "celery", "-A", "cloudcodes.jobs.worker:celery", "beat", "--loglevel", "INFO")
    try:
        wait_for("gunicorn serving", lambda: _answers(server.base_url), timeout=60)
        server.timings["serve"] = time.monotonic() - started  # type: ignore[attr-defined]
        yield server
    finally:
        for name in list(server.processes):
            server.stop(name)
        smtp.stop()
        pg.drop_database(postgres_server, database)
        print("deploy timings:", server.timings)  # type: ignore[attr-defined]


def _answers(base_url: str) -> bool:
    try:
        return Browser(base_url).get("/healthz", timeout=2).status == 200
    except OSError:
        return False


def apply(host: Host, company: str, email: str) -> int:
    browser = Browser(host.base_url)
    page = browser.get("/apply/reseller")
    assert page.status == 200
    data = {**APPLICATION, "csrf_token": csrf_token(page.text), "company_name": company, "contact_name": "Nina"}
    return browser.post("/apply/reseller", data={**data, "contact_email": email}).status


def mails_to(host: Host, address: str) -> list:
    return [received for received in host.smtp.received if address in received.rcpt_tos]  # type: ignore[attr-defined]


def test_the_pages_answer_with_a_request_id_and_log_json_lines(host: Host):
    browser = Browser(host.base_url)
    ids = []
    for path in ("/", "/faq", "/program", "/apply/", "/login"):
        answer = browser.get(path)
        assert answer.status == 200, path
        ids.append(answer.headers["X-Request-ID"])
    health = json.loads(browser.get("/healthz").text)
    assert health["status"] in ("ok", "degraded")

    lines = [line for line in host.log("web").splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    logged = {record.get("request_id") for record in records}
    assert set(ids) <= logged, "each request's line carries its id"
    for line in host.log("web").splitlines():
        if '"request_id"' in line:
            json.loads(line)  # nothing but JSON from the app


def test_the_login_limit_holds_across_the_three_workers(host: Host):
    def wrong_login(_: int) -> int:
        browser = Browser(host.base_url)
        page = browser.get("/login")
        data = {"csrf_token": csrf_token(page.text), "email": "nobody@acme.example", "password": "wrong"}
        return browser.post("/login", data=data).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(wrong_login, range(12)))
    assert statuses == [401] * 5 + [429] * 7, statuses


def test_an_applications_mail_arrives_through_the_worker_within_seconds(host: Host):
    started = time.monotonic()
    assert apply(host, "Quick Mail Ltd", "nina@quick-mail.example") == 303
    wait_for("the application's e-mail", lambda: mails_to(host, "nina@quick-mail.example"), timeout=20, every=0.2)
    host.timings["mail"] = time.monotonic() - started  # type: ignore[attr-defined]
    assert "Celery" not in host.log("web")


def test_a_worker_killed_while_sending_is_replaced_and_the_mail_arrives_once(host: Host):
    address = "nina@killed-worker.example"
    host.smtp.stop()  # type: ignore[attr-defined]
    # The same address, but its first RCPT TO is held for a minute: the worker is killed meanwhile.
    stalled = SmtpServer(port=host.smtp.port, stall_first_rcpt=60).start()  # type: ignore[attr-defined]
    try:
        assert apply(host, "Killed Worker Ltd", address) == 303
        wait_for("the worker in the middle of sending", stalled.stalling.is_set, timeout=30)
        host.stop("worker", signal.SIGKILL)
        host.start_worker("worker-2")
        started = time.monotonic()
        wait_for("the mail, sent by the next worker", lambda: [r for r in stalled.received if address in r.rcpt_tos],
                 timeout=120)  # fmt: skip
        host.timings["redone"] = time.monotonic() - started  # type: ignore[attr-defined]
        # A later sweep (and an operator's own run) find nothing left to send for it.
        host.command("flask", "--app", "cloudcodes:create_app", "outbox", "send")
        time.sleep(3)
        assert len([r for r in stalled.received if address in r.rcpt_tos]) == 1
    finally:
        stalled.stop()
        host.smtp.start()  # type: ignore[attr-defined]


def test_metrics_count_the_requests_of_every_worker(host: Host):
    browser = Browser(host.base_url)
    for _ in range(9):
        assert browser.get("/faq").status == 200
    metrics = browser.get("/metrics")
    assert metrics.status == 200
    counted = 0.0
    for line in metrics.text.splitlines():
        # The latency histogram's count is per route; flask_http_request_total is per method and status.
        if line.startswith("flask_http_request_duration_seconds_count{") and 'route="/faq"' in line:
            counted += float(line.rsplit(" ", 1)[1])
    assert counted >= 9, metrics.text[:3000]
