"""The annual qualification at scale: 10,000 partners and 1,000,000 purchases on PostgreSQL.

Starts a throw-away PostgreSQL cluster (or uses CLOUDCODES_BENCH_DATABASE_URL), migrates it, loads
the data with COPY, then times the qualification's reads and a full run. Prints seconds; asserts
nothing about them (speed is shown here, never in a test).

    .venv/bin/python -m bench [--partners 10000] [--purchases 1000000]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import psycopg
import time_machine
from flask_migrate import upgrade

from cloudcodes import create_app
from cloudcodes.billing import totals
from cloudcodes.extensions import db
from cloudcodes.qualification.services import facts_by_partner, run_annual_qualification
from tests.support import postgres as pg

YEAR = 2026
T = TypeVar("T")


def load(url: str, partners: int, purchases: int) -> None:
    rng = random.Random(2026)
    conn = psycopg.connect(pg.libpq_url(url))
    with conn, conn.cursor() as cur:
        product_id = cur.execute("SELECT id FROM products WHERE sku = 'CC-SUITE'").fetchone()[0]
        now = datetime(YEAR, 1, 1, tzinfo=UTC)
        with cur.copy(
            "COPY partners (id, name, website, country, phone, workspace_reseller_id, status, created_at) FROM STDIN"
        ) as copy:
            for n in range(1, partners + 1):
                copy.write_row((n, f"Partner {n}", f"https://p{n}.example.com", "France", "", "", "active", now))
        with cur.copy(
            "COPY partner_levels (partner_id, level, effective_from, protected_until, reason, note, created_at) "
            "FROM STDIN"
        ) as copy:
            for n in range(1, partners + 1):
                level = "premier" if n % 5 == 0 else "reseller"
                copy.write_row((n, level, date(YEAR - 2, 1, 1), None, "approval", "", now))
        with cur.copy(
            "COPY partner_requirements (partner_id, kind, year, detail, verified_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(1, partners + 1):
                for kind in ("workspace_reseller", "sales_team", "technical_team", "website_product_page"):
                    copy.write_row((n, kind, None, "", now, now, now))
                if n % 3 == 0:
                    copy.write_row((n, "joint_business_plan", YEAR - 1, "", now, now, now))
                    copy.write_row((n, "joint_marketing_campaign", YEAR - 1, "", now, now, now))
        start = datetime(YEAR - 1, 1, 1, tzinfo=UTC)
        with cur.copy(
            "COPY purchases (order_id, source, request_hash, customer_domain, product_id, seats, amount_minor, "
            "amount_currency, channel, purchased_at, recorded_at, partner_id, attribution, attribution_note, level, "
            "margin_pct, volume_points, commission_minor, commission_currency) FROM STDIN"
        ) as copy:
            for n in range(purchases):
                partner = rng.randint(1, partners)
                amount = rng.randint(1_000, 50_000)  # about the commitment a year, on average
                when = start + timedelta(seconds=rng.randint(0, 365 * 86400 - 1))
                copy.write_row((
                    f"B-{n}", "api", "0" * 64, f"c{n % 200000}.example.com", product_id, 10, amount, "USD", "direct",
                    when, when, partner, "registration", "", "reseller", 15, 0, amount * 15 // 100, "USD",
                ))  # fmt: skip
        cur.execute("SELECT setval('partners_id_seq', %s)", (partners,))
        cur.execute("ANALYZE")
    conn.close()


def timed(label: str, action: Callable[[], T]) -> T:
    began = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - began:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    args = parser.parse_args()

    cluster = None
    server = os.environ.get("CLOUDCODES_BENCH_DATABASE_URL")
    if not server:
        cluster = pg.ThrowawayCluster()
        server = cluster.start()
    name = f"cc_bench_{os.getpid()}"
    try:
        url = pg.create_database(server, name)
        app = create_app({"ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade()
        timed(
            f"load {args.partners:,} partners and {args.purchases:,} purchases (COPY)",
            lambda: load(url, args.partners, args.purchases),
        )
        with app.app_context():
            # COPY goes around the ORM, whose flush keeps the monthly totals: sum them from the rows.
            timed("monthly totals summed from the rows", lambda: (totals.rebuild(db.session), db.session.commit()))
        with app.app_context(), time_machine.travel(datetime(YEAR, 1, 2, 6, tzinfo=UTC), tick=False):
            ids = list(range(1, args.partners + 1))
            facts = timed(
                "facts of every partner for the year (grouped queries)",
                lambda: facts_by_partner(ids, date(YEAR - 1, 1, 1), date(YEAR - 1, 12, 31)),
            )
            premier = sum(1 for f in facts.values() if f.revenue.minor >= 2_500_000)
            print(f"  {premier:,} partners above the revenue commitment")
            preview = timed(
                f"annual qualification {YEAR}, dry run", lambda: run_annual_qualification(YEAR, dry_run=True)
            )
            print(f"  {len(preview):,} partners would change")
            done = timed(f"annual qualification {YEAR}, written with notices", lambda: run_annual_qualification(YEAR))
            print(f"  {len(done):,} level records written")
            again = timed("second run (idempotent)", lambda: run_annual_qualification(YEAR))
            print(f"  {len(again)} changes")
            db.engine.dispose()
    finally:
        pg.drop_database(server, name)
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
