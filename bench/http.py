"""The HTTP benchmark: the portal's pages and API under gunicorn, measured against a fortunes app.

    .venv/bin/python -m bench.http [--seconds 5] [--rounds 3] [--connections 16] [--workers N]
        [--setup postgres:sync --setup postgres:gthread --setup sqlite:sync --setup sqlite:gthread]

For each set-up (engine and worker class; all four by default): a database (a throw-away PostgreSQL
cluster, or an SQLite file) migrated and loaded with the demo data and two more partners, one with
100 purchases and one with 100,000 (``tests.support.bulk``: their domains, codes, refunds, ledger
and statements); the portal (``wsgi:app``) and ``bench/fortunes.py`` each under gunicorn with the
same workers (2 x cores + 1; gthread with 4 threads each); Debian's ``wrk`` from a second process
on loopback, a fixed time per run. Runs alternate (fortunes, endpoint, fortunes, ...), each endpoint
``--rounds`` times; every run's figures are also taken as a ratio to the mean of the fortunes runs
either side of it, because only ratios hold on a shared machine, and the table gives the median of
each endpoint's rounds. It prints a table and passes or fails nothing:
speed is never a timed test. Rate limits are off: the app is measured, not the limiter.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median

from flask_migrate import upgrade
from sqlalchemy import select

from bench import fortunes
from cloudcodes import create_app
from cloudcodes.auth.models import User
from cloudcodes.extensions import db
from cloudcodes.referrals.models import ReferralCode
from tests.factories import DEFAULT_PASSWORD, make_partner
from tests.support import postgres as pg
from tests.support.bulk import give_purchases
from tests.support.gunicorn import serve
from tests.support.postgres import free_port
from tests.support.web import login

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-webhook-secret"  # the WEBHOOK_SECRET tests.support.gunicorn.serve gives the app
OWNER = ("owner@acme-cloud.example", "demo-partner-password-2026")
ADMIN = ("admin@cloudcodes.example", "demo-admin-password-2026")
CODE_DOMAIN = "northwind-traders.com"
# The partners whose dashboards are measured at two sizes: the page must cost the same at both.
VOLUME_OWNERS = {100: "owner@hundred-purchases.example", 100_000: "owner@hundred-thousand-purchases.example"}
THREADS = 4  # per gthread worker
PURCHASE_SCRIPT = """\
local requests = {}
local next_one = 0
function init(args)
  for line in io.lines(args[1]) do
    local signature, body = line:match("([^\\t]+)\\t(.*)")
    requests[#requests + 1] = wrk.format("POST", "/api/v1/purchases",
      {["Content-Type"] = "application/json", ["CloudCodes-Signature"] = signature}, body)
  end
end
function request()
  next_one = next_one % #requests + 1
  return requests[next_one]
end
"""


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Endpoint:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None
    script_args: list[str] = field(default_factory=list)


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> Run:
    """wrk's report (with --latency) as requests per second, the 50th and 99th percentiles and the errors."""
    rps = float(_RPS.search(output).group(1))  # type: ignore[union-attr]
    latency = {pct: float(value) * _UNIT_MS[unit] for pct, value, unit in _LATENCY.findall(output)}
    errors = sum(int(n) for n in _NON_2XX.findall(output))
    socket = _SOCKET.search(output)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return Run(rps, latency.get("50", 0.0), latency.get("99", 0.0), errors)


def wrk(base_url: str, endpoint: Endpoint, seconds: int, connections: int) -> Run:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in endpoint.headers.items():
        command += ["-H", f"{name}: {value}"]
    if endpoint.script is not None:
        command += ["-s", str(endpoint.script)]
    command.append(base_url + endpoint.path)
    if endpoint.script_args:
        command += ["--", *endpoint.script_args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


# --- The servers ------------------------------------------------------------------------------


@contextmanager
def serve_fortunes(database_url: str, workers: int, worker_class: str, threads: int) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BENCH_FORTUNES_DATABASE_URL": database_url}
    command = [
        sys.executable, "-m", "gunicorn", "bench.fortunes:app", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads), "--preload",
        "--access-logfile", "/dev/null",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base_url + "/fortunes", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the fortunes app did not start") from None
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)


def prepare(database_url: str) -> dict[str, str]:
    """Migrate, load the demo data, the two volume partners and the fortunes; the facts the endpoints need."""
    app = create_app(
        # The served app's secret key (tests.support.gunicorn.environment): the demo's secrets are encrypted with it.
        {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            # No resolver: the volume partners' registrations read no DNS evidence, and wait little for none.
            "DNS_RESOLVER": "127.0.0.1:9",
            "DNS_TIMEOUT_SECONDS": 0.01,
        }
    )
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        since = date.today() - timedelta(days=500)
        for count, owner in VOLUME_OWNERS.items():
            started = time.monotonic()
            partner = make_partner(f"{count:,} Purchases Ltd", owner_email=owner, effective_from=since)
            # Every whole month but the last closed, as the monthly job leaves a real partner.
            give_purchases(partner, count, domains=40 if count > 1000 else 3, statements=13)
            print(f"  {count:,} purchases loaded in {time.monotonic() - started:.1f} s", flush=True)
        # Statistics for the planner, as autovacuum keeps them on a live database: measured right after
        # the load, PostgreSQL would still plan for the empty tables (a sort of all 100,000 purchases),
        # and autovacuum would start on them in the middle of the runs.
        db.session.commit()
        with db.engine.connect() as connection:
            vacuum = "VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(vacuum)
        code = db.session.scalar(
            select(ReferralCode.code).where(ReferralCode.revoked_at.is_(None)).order_by(ReferralCode.id)
        )
        admin_secret = db.session.scalar(select(User.totp_secret).where(User.email == ADMIN[0]))
        db.session.remove()
        db.engine.dispose()
    fortunes.create_table(fortunes.create_app(database_url))
    return {"code": code or "", "admin_secret": admin_secret or ""}


def session_cookie(database_url: str, email: str, password: str, totp_secret: str | None = None) -> str:
    """Log in through the app in this process (the served app shares its database and secret key, so the
    session is theirs too); the Cookie header it is in."""
    app = create_app(
        {"ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key", "RATELIMIT_ENABLED": False}
    )
    client = app.test_client()
    answer = login(client, email, password, totp_secret=totp_secret)
    if answer.status_code != 303:
        raise RuntimeError(f"logging in as {email} answered {answer.status_code}")
    cookie = client.get_cookie("session")
    with app.app_context():
        db.engine.dispose()
    return f"session={cookie.value}"


def signature(body: bytes, at: int) -> str:
    digest = hmac.new(SECRET.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def purchase_requests(folder: Path, code: str, count: int) -> Path:
    """``count`` new orders, each signed ahead (a signature holds 300 seconds), one per line."""
    at = int(time.time())
    when = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    lines = []
    for n in range(count):
        body = json.dumps(
            {
                "order_id": f"BENCH-{at}-{n}",
                "customer_domain": CODE_DOMAIN,
                "referral_code": code,
                "product": "CC-ACCESS",
                "seats": 10,
                "amount": "240.00",
                "currency": "USD",
                "channel": "direct",
                "purchased_at": when,
            },
            separators=(",", ":"),
        ).encode()
        lines.append(f"{signature(body, at)}\t{body.decode()}")
    path = folder / "purchases.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- The run ----------------------------------------------------------------------------------


def endpoints(database_url: str, facts: dict[str, str], folder: Path) -> list[Endpoint]:
    owner = session_cookie(database_url, *OWNER)
    small = session_cookie(database_url, VOLUME_OWNERS[100], DEFAULT_PASSWORD)
    large = session_cookie(database_url, VOLUME_OWNERS[100_000], DEFAULT_PASSWORD)
    admin = session_cookie(database_url, *ADMIN, totp_secret=facts["admin_secret"])
    script = folder / "purchases.lua"
    script.write_text(PURCHASE_SCRIPT, encoding="utf-8")
    check = f"/api/v1/referral-codes/{facts['code']}?domain={CODE_DOMAIN}"
    return [
        Endpoint("/faq", "/faq"),
        Endpoint("/program", "/program"),
        Endpoint("/dashboard (demo partner)", "/dashboard/", {"Cookie": owner}),
        Endpoint("/dashboard (100 purchases)", "/dashboard/", {"Cookie": small}),
        Endpoint("/dashboard (100,000)", "/dashboard/", {"Cookie": large}),
        Endpoint("/dashboard/earnings (100,000)", "/dashboard/earnings", {"Cookie": large}),
        Endpoint("/dashboard/referrals (100,000)", "/dashboard/referrals", {"Cookie": large}),
        Endpoint("console: /admin/partners", "/admin/partners", {"Cookie": admin}),
        Endpoint("code check (signed GET)", check, {"CloudCodes-Signature": signature(b"", int(time.time()))}),
        Endpoint(
            "new purchase (signed POST)",
            "/api/v1/purchases",
            script=script,
            script_args=[str(purchase_requests(folder, facts["code"], 20_000))],
        ),
        Endpoint("/redeem (checkout)", f"/redeem/?code={facts['code']}&domain={CODE_DOMAIN}"),
    ]


COLUMNS = f"{'endpoint':<31} {'rps':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x rps':>6} {'x p50':>6}"


def measure(url: str, setup: str, args: argparse.Namespace, folder: Path) -> None:
    """One set-up's table: fortunes, endpoint, fortunes, endpoint, ... ``--rounds`` times per endpoint;
    each round's ratios are to the mean of the fortunes runs either side of it, and the table gives
    the median round (the median of each figure), so that one disturbed run moves nothing."""
    worker_class = setup.split(":")[1]
    threads = THREADS if worker_class == "gthread" else 1
    print(f"\n{setup}: preparing the data", flush=True)
    facts = prepare(url)
    settings = {"RATELIMIT_ENABLED": False, "DNS_RESOLVER": "127.0.0.1:9"}
    with (
        serve(url, workers=args.workers, settings=settings, worker_class=worker_class, threads=threads) as portal,
        serve_fortunes(url, args.workers, worker_class, threads) as yardstick,
    ):
        yard = Endpoint("fortunes", "/fortunes")
        print(
            f"\n{setup}: {args.workers} {worker_class} workers"
            + (f" x {threads} threads" if threads > 1 else "")
            + f", {args.connections} connections, {args.rounds} rounds of {args.seconds} s each, {os.cpu_count()} cores"
        )
        print(COLUMNS)
        print("-" * len(COLUMNS))
        before = wrk(yardstick, yard, args.seconds, args.connections)
        yardsticks = [before]
        for endpoint in endpoints(url, facts, folder):
            runs, rps_ratios, p50_ratios = [], [], []
            for _ in range(args.rounds):
                run = wrk(portal, endpoint, args.seconds, args.connections)
                after = wrk(yardstick, yard, args.seconds, args.connections)
                yardsticks.append(after)
                runs.append(run)
                rps_ratios.append(run.rps / ((before.rps + after.rps) / 2))
                p50 = (before.p50_ms + after.p50_ms) / 2
                p50_ratios.append(run.p50_ms / p50 if p50 else 0.0)
                before = after
            print(
                f"{endpoint.name:<31} {median(r.rps for r in runs):>7.0f} {median(r.p50_ms for r in runs):>8.2f} "
                f"{median(r.p99_ms for r in runs):>8.2f} {sum(r.errors for r in runs):>7} "
                f"{median(rps_ratios):>6.2f} {median(p50_ratios):>6.2f}",
                flush=True,
            )
        print(
            f"{'fortunes (median of its runs)':<31} {median(r.rps for r in yardsticks):>7.0f} "
            f"{median(r.p50_ms for r in yardsticks):>8.2f} {median(r.p99_ms for r in yardsticks):>8.2f} "
            f"{sum(r.errors for r in yardsticks):>7}"
        )


SETUPS = ("postgres:sync", "postgres:gthread", "sqlite:sync", "sqlite:gthread")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each endpoint, each beside fortunes")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--setup", action="append", choices=SETUPS, help="engine:worker-class (all four by default)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    folder = Path(tempfile.mkdtemp(prefix="cloudcodes-bench-"))
    cluster, server = None, None
    try:
        for setup in args.setup or SETUPS:
            if setup.startswith("postgres"):
                if cluster is None:
                    cluster = pg.ThrowawayCluster()
                    server = cluster.start()
                name = f"cc_bench_http_{setup.split(':')[1]}"
                measure(pg.create_database(server, name), setup, args, folder)
            else:
                database = folder / f"bench-{setup.split(':')[1]}.db"
                measure(f"sqlite:///{database}", setup, args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
