"""The partners' monthly totals (``cloudcodes.billing.totals``) always equal their rows summed again.

They are kept by the ORM's flush as purchases, refunds and ledger entries are written; pages and the
level rules read them instead of a partner's whole history (issue #16). Each test compares the kept
totals with ``rebuild``'s sums of the rows, after real service calls: purchases by code and by
registration, direct and through the partner, refunds, a closed and paid month, adjustments of both
signs, a refused report, and purchases recorded from several threads at once on PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from cloudcodes.billing import totals
from cloudcodes.billing.adjustments import adjust_ledger
from cloudcodes.billing.models import PartnerMonthTotals, PayoutStatement, Purchase, Refund
from cloudcodes.billing.payouts import close_month, mark_paid
from cloudcodes.billing.revenue import net_revenue_by_partner, split_by_month
from cloudcodes.billing.services import BillingError
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import Partner
from tests.conftest import make_test_app
from tests.integration.test_payouts import admin_user, buy, code_for, make_partner, on, refund


def kept(partner_id: int) -> dict:
    rows = _db.session.scalars(select(PartnerMonthTotals).where(PartnerMonthTotals.partner_id == partner_id))
    return {row.month: tuple(getattr(row, name) for name in totals.SUMS) for row in rows}


def rebuilt(partner_id: int) -> dict:
    """What the rows say, summed again (in a savepoint rolled back, so the kept totals stay as they were)."""
    with _db.session.begin_nested() as savepoint:
        totals.rebuild(_db.session, [partner_id])
        summed = kept(partner_id)
        savepoint.rollback()
    return summed


def raw_net_revenue(partner_id: int, start: date, end: date) -> int:
    purchases = _db.session.scalars(select(Purchase).where(Purchase.partner_id == partner_id)).all()
    return sum(
        purchase.amount.minor - sum(r.amount.minor for r in purchase.refunds)
        for purchase in purchases
        if start <= purchase.purchased_at.astimezone(UTC).date() <= end
    )


def journey(app) -> int:
    with app.app_context():
        with on(2026, 1, 2):
            partner_id = make_partner("Totals Ltd", "owner@totals.example")
            codes = {domain: code_for(partner_id, domain) for domain in ("acme.com", "globex.com")}
        with on(2026, 3, 1):
            buy("T-1", "acme.com", "1000.00", datetime(2026, 1, 10, 9, tzinfo=UTC), code=codes["acme.com"])
            buy("T-2", "globex.com", "400.00", datetime(2026, 2, 25, 9, tzinfo=UTC), code=codes["globex.com"])
            buy("T-3", "acme.com", "2000.00", datetime(2026, 1, 31, 23, 59, tzinfo=UTC), channel="reseller")
            buy("T-4", "globex.com", "250.00", datetime(2026, 2, 1, 0, 0, tzinfo=UTC))  # by its registration
            buy("T-5", "nobody-at-all.com", "99.00", datetime(2026, 2, 3, tzinfo=UTC))  # attributed to no one
        with on(2026, 3, 3):
            close_month(date(2026, 2, 1), by=admin_user())
        with on(2026, 3, 4):
            statement = _db.session.scalars(select(PayoutStatement).where(PayoutStatement.partner_id == partner_id))
            for each in statement:
                mark_paid(each, reference="TRF-1", by=admin_user())
        with on(2026, 3, 10):
            refund("T-1", "TR-1", "500.00", datetime(2026, 3, 10, 9, tzinfo=UTC))
            refund("T-3", "TR-3", "2000.00", datetime(2026, 3, 10, 9, tzinfo=UTC))
            partner = _db.session.get(Partner, partner_id)
            adjust_ledger(partner, "25.00", "Campaign bonus", by=admin_user())
            adjust_ledger(partner, "-10.00", "Correction", by=admin_user())
        return partner_id


def test_the_kept_totals_equal_the_rows_after_every_kind_of_write(app):
    partner_id = journey(app)
    with app.app_context():
        assert kept(partner_id) == rebuilt(partner_id)
        months = kept(partner_id)
        # January: 1000 + 2000 bought, 500 and 2000 refunded (in the purchase's month), both by its month.
        revenue, refunded = months[date(2026, 1, 1)][:2]
        assert (revenue, refunded) == (300_000, 250_000)
        assert not _db.session.scalars(select(PartnerMonthTotals).where(PartnerMonthTotals.partner_id.is_(None))).all()


def test_a_refused_report_leaves_the_totals_as_they_were(app):
    partner_id = journey(app)
    with app.app_context(), on(2026, 3, 20):
        before = kept(partner_id)
        with pytest.raises(BillingError):
            refund("T-2", "TR-2", "9999.00", datetime(2026, 3, 20, tzinfo=UTC))  # more than was bought
        _db.session.rollback()
        assert kept(partner_id) == before == rebuilt(partner_id)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 1, 1), date(2026, 12, 31)),  # whole months only
        (date(2026, 1, 1), date(2026, 3, 15)),  # the checklist's year so far
        (date(2026, 1, 31), date(2026, 2, 1)),  # two partial months, one day each
        (date(2026, 2, 1), date(2026, 2, 28)),  # exactly one month
        (date(2026, 1, 11), date(2026, 1, 30)),  # inside one month, none of the purchases
        (date(2026, 1, 2), date(2026, 2, 27)),  # most of both months: their totals less the days left out
        (date(2026, 1, 10), date(2026, 1, 31)),  # most of January, from its first purchase's day
        (date(2025, 12, 30), date(2026, 1, 9)),  # few days: the purchases themselves
    ],
)
def test_net_revenue_equals_the_purchases_summed_for_any_period(app, start, end):
    partner_id = journey(app)
    with app.app_context():
        assert net_revenue_by_partner(start, end, [partner_id]).get(partner_id, 0) == raw_net_revenue(
            partner_id, start, end
        )


def test_a_period_splits_into_whole_months_and_partial_ones():
    assert split_by_month(date(2026, 1, 1), date(2026, 12, 31)) == ((date(2026, 1, 1), date(2026, 12, 1)), [])
    assert split_by_month(date(2026, 1, 1), date(2026, 3, 15)) == (
        (date(2026, 1, 1), date(2026, 2, 1)),
        [(date(2026, 3, 1), date(2026, 3, 15))],
    )
    assert split_by_month(date(2026, 1, 31), date(2026, 2, 1)) == (
        None,
        [(date(2026, 1, 31), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 1))],
    )
    assert split_by_month(date(2024, 2, 1), date(2024, 2, 29)) == ((date(2024, 2, 1), date(2024, 2, 1)), [])
    assert split_by_month(date(2026, 3, 2), date(2026, 3, 1)) == (None, [])


@pytest.mark.postgres
def test_purchases_recorded_at_once_from_threads_all_count(postgres_database):
    """Eight threads record purchases for one partner in the same month at once: the upsert adds, so
    no thread's sums are lost (a read-then-write would keep only some)."""
    app = make_test_app(postgres_database)
    with app.app_context(), on(2026, 1, 2):
        partner_id = make_partner("Busy Ltd", "owner@busy.example")
        code = code_for(partner_id, "busy-customer.com")
        _db.session.remove()
    barrier = threading.Barrier(8)
    errors = []

    def record(thread: int) -> None:
        with app.app_context(), on(2026, 3, 1):
            barrier.wait()
            try:
                for n in range(5):
                    buy(f"B-{thread}-{n}", "busy-customer.com", "100.00", datetime(2026, 2, 10, tzinfo=UTC), code=code)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=record, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with app.app_context():
        months = kept(partner_id)
        assert months[date(2026, 2, 1)][0] == 40 * 10_000
        assert months == rebuilt(partner_id)
        _db.session.remove()
        _db.engine.dispose()


def test_the_migration_sums_the_rows_already_there_as_the_app_would_have(seeded_app):
    """0022 fills the totals (and each refund's partner) from the demo's rows, which the app's own
    flush had counted: both ways give the same; down and up again keeps every other row."""
    from flask_migrate import downgrade, upgrade

    with seeded_app.app_context():
        counted_by_the_app = _db.session.execute(select(PartnerMonthTotals.__table__)).all()
        refunds = _db.session.execute(select(Refund.id, Refund.partner_id).order_by(Refund.id)).all()
        assert counted_by_the_app and refunds and all(partner_id for _, partner_id in refunds)
        _db.session.remove()
        downgrade(revision="0021")
        upgrade()
        assert sorted(_db.session.execute(select(PartnerMonthTotals.__table__)).all()) == sorted(counted_by_the_app)
        assert _db.session.execute(select(Refund.id, Refund.partner_id).order_by(Refund.id)).all() == refunds
    result = seeded_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_the_command_finds_totals_a_hand_made_fix_left_behind_and_sums_them_again(app, runner):
    partner_id = journey(app)
    assert runner.invoke(args=["program", "totals", "--check"]).exit_code == 0
    with app.app_context():
        # An operator's SQL fix around the portal: the purchase's amount changed, the totals not.
        _db.session.execute(Purchase.__table__.update().where(Purchase.order_id == "T-2").values(amount_minor=45_000))
        _db.session.commit()
    found = runner.invoke(args=["program", "totals", "--check"])
    assert found.exit_code == 1 and f"Partner #{partner_id}, February 2026" in found.output
    assert "1 month differ" in found.output
    fixed = runner.invoke(args=["program", "totals"])
    assert fixed.exit_code == 0 and "1 month corrected" in fixed.output
    assert runner.invoke(args=["program", "totals", "--check"]).exit_code == 0
    with app.app_context():
        assert kept(partner_id) == rebuilt(partner_id)
