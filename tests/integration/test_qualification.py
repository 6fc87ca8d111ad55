"""Levels through the database: verification, mid-year upgrades, the annual run, notices, commissions."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.money import Money
from cloudcodes.partners.models import MemberRole, Partner, PartnerLevel, PartnerRequirement, RequirementKind
from cloudcodes.partners.services import add_member, add_requirement, create_partner
from cloudcodes.qualification.requirements import (
    NotYourPartner,
    add_business_plan,
    add_campaign,
    add_product_page,
    mark_sales_training,
    unverify,
    verify,
)
from cloudcodes.qualification.services import run_upgrades
from cloudcodes.referrals.services import register_domain
from tests.factories import StaffFactory, UserFactory


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


@pytest.fixture
def world(app):
    """Acme: a Reseller since 2025 with a manager, an owner and its basic requirements declared."""
    with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
        manager = StaffFactory(email="max@cloudcodes.example", full_name="Max Manager")
        partner = create_partner(
            name="Acme", website="https://acme.com", country="France", level="reseller", channel_manager=manager,
            effective_from=date(2025, 1, 1),
        )  # fmt: skip
        add_member(partner, UserFactory(email="owner@acme.com", full_name="Olivia Owner"), MemberRole.OWNER)
        for kind in (RequirementKind.WORKSPACE_RESELLER, RequirementKind.SALES_TEAM, RequirementKind.TECHNICAL_TEAM):
            add_requirement(partner, kind, "declared")
        _db.session.commit()
        register_domain(partner, "customer.com", by=None)
        return {"partner": partner.id, "manager": manager.id}


def buy(order: str, amount: str, day: str, seats: int = 10, domain: str = "customer.com"):
    data = PurchaseInput(
        order_id=order, customer_domain=domain, product_sku="CC-SUITE", seats=seats,
        amount=Money.parse(amount, "USD"), channel="direct", purchased_at=at(day),
    )  # fmt: skip
    return record_purchase(data, fingerprint({"order": order})).purchase


def meet_everything(world, day: str) -> None:
    """Verify the basics, train a salesperson, approve a plan, a page and a campaign, on ``day``."""
    from cloudcodes.auth.models import User

    with time_machine.travel(at(day), tick=False):
        manager = _db.session.get(User, world["manager"])
        partner = _db.session.get(Partner, world["partner"])
        for requirement in list(partner.requirements):
            if requirement.verified_at is None:
                verify(requirement, by=manager)
        mark_sales_training(partner.memberships[0], at(day).date(), by=manager)
        add_business_plan(partner, year=at(day).year, commitment=Money(2_500_000, "USD"), summary="Plan", by=manager)
        add_product_page(partner, url="https://acme.com/cloudcodes", by=manager)
        add_campaign(partner, name="Spring webinars", starts_on=at(day).date(), ends_on=at(day).date(), by=manager)


def levels(partner_id):
    return [
        (record.level, record.effective_from, record.protected_until, record.reason)
        for record in _db.session.scalars(
            select(PartnerLevel).where(PartnerLevel.partner_id == partner_id).order_by(PartnerLevel.effective_from)
        )
    ]


def notices():
    return list(_db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "level_changed")))


@pytest.mark.parametrize(
    ("met_on", "effective", "protected"),
    [("2026-11-26", date(2026, 12, 1), date(2027, 12, 31)), ("2026-12-15", date(2027, 1, 1), date(2028, 12, 31))],
)
def test_the_spec_examples_through_the_database(app, world, met_on, effective, protected):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, met_on)  # the last verification triggers the upgrade at once
        assert levels(world["partner"])[-1] == ("premier", effective, protected, "upgrade")
        with time_machine.travel(at(met_on), tick=False):
            assert run_upgrades(at(met_on).date()) == []  # a second run changes nothing...
        assert len(notices()) == 1  # ...and sends nothing


def test_the_notice_comes_from_the_manager_with_the_dates(app, world):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")
        (notice,) = notices()
        assert notice.to_address == "owner@acme.com"
        assert notice.from_name == "Max Manager" and notice.reply_to == "max@cloudcodes.example"
        assert "Premier partner from 1 December 2026" in notice.subject
        assert "30 %" in notice.text_body and "31 December 2027" in notice.text_body


def test_a_partner_without_a_manager_hears_from_the_program(app, world):
    with app.app_context():
        _db.session.get(Partner, world["partner"]).channel_manager_id = None
        _db.session.commit()
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        from cloudcodes.auth.models import Role

        admin = StaffFactory(role=Role.ADMIN.value)
        with time_machine.travel(at("2026-11-26"), tick=False):
            partner = _db.session.get(Partner, world["partner"])
            for requirement in list(partner.requirements):
                verify(requirement, by=admin)
            mark_sales_training(partner.memberships[0], date(2026, 11, 26), by=admin)
            add_business_plan(partner, year=2026, commitment=Money(2_500_000, "USD"), summary="Plan", by=admin)
            add_product_page(partner, url="https://acme.com/cc", by=admin)
            add_campaign(partner, name="Webinars", starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 20), by=admin)
        (notice,) = notices()
        assert notice.from_name == "CloudCodes Partner Program"
        assert notice.reply_to == "partners@cloudcodes.example"


def test_revenue_short_of_the_commitment_means_no_upgrade(app, world):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "24999.99", "2026-03-01")
        meet_everything(world, "2026-11-26")
        assert [lv[0] for lv in levels(world["partner"])] == ["reseller"]
        assert notices() == []


def test_commission_follows_the_level_in_force_on_the_purchase_date(app, world):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")  # Premier from 2026-12-01
        with time_machine.travel(at("2026-12-05"), tick=False):
            before = buy("A-2", "1000.00", "2026-11-30")
            after = buy("A-3", "1000.00", "2026-12-01")
        assert (before.level, before.margin_pct, before.commission) == ("reseller", Decimal(15), Money(15000, "USD"))
        assert (after.level, after.margin_pct, after.commission) == ("premier", Decimal(30), Money(30000, "USD"))
        first = _db.session.scalar(select(PartnerLevel).where(PartnerLevel.level == "premier"))
        assert first.effective_from == date(2026, 12, 1)


def test_the_annual_run_keeps_a_protected_partner_and_downgrades_an_unprotected_one(app, world, runner):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")  # Premier from 2026-12-01, protected to 2027-12-31
        other = create_partner(
            name="Globex", website="https://globex.com", country="Spain", level="premier", channel_manager=None,
            effective_from=date(2025, 1, 1),
        )  # fmt: skip
        add_member(other, UserFactory(email="owner@globex.com"), MemberRole.OWNER)
        _db.session.commit()
        other_id = other.id
    with time_machine.travel(at("2027-01-02"), tick=False):
        preview = runner.invoke(args=["program", "qualify", "--year", "2027", "--dry-run"])
        assert "Would change Globex" in preview.output and "Acme" not in preview.output
        result = runner.invoke(args=["program", "qualify", "--year", "2027"])
        assert result.exit_code == 0, result.output
        assert f"Changed Globex (#{other_id}): Premier -> Reseller from 1 January 2027" in result.output
        assert "Annual qualification for 2027: 1 partner changed." in result.output
        again = runner.invoke(args=["program", "qualify", "--year", "2027"])
        assert "0 partners changed" in again.output
    with app.app_context():
        assert levels(world["partner"])[-1][0] == "premier"  # protected despite no 2027 revenue yet
        assert levels(other_id)[-1] == ("reseller", date(2027, 1, 1), None, "annual")
        assert len(notices()) == 2  # Acme's upgrade and Globex's downgrade, once each


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["program", "qualify", "--year", "1999"], "not a year"),
        (["program", "qualify", "--year", "2031"], "runs on or after 1 January 2031"),
        (["program", "upgrades", "--as-of", "2026-02-30"], "not a date"),
        (["program", "upgrades", "--as-of", "2099-01-01"], "is in the future"),
        (["program", "upgrades", "--as-of", "2020-01-01"], "more than 62 days ago"),
    ],
)
def test_the_commands_refuse_years_and_dates_that_make_no_sense(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output


def test_unverifying_needs_a_reason_and_only_the_partners_manager_may(app, world):
    with app.app_context():
        requirement = _db.session.scalar(select(PartnerRequirement))
        stranger = StaffFactory()
        with pytest.raises(NotYourPartner):
            verify(requirement, by=stranger)
        from cloudcodes.auth.models import User

        manager = _db.session.get(User, world["manager"])
        verify(requirement, by=manager)
        from cloudcodes.qualification.requirements import RequirementError

        with pytest.raises(RequirementError):
            unverify(requirement, "  ", by=manager)
        unverify(requirement, "Reseller ID not found at Google", by=manager)
        assert requirement.verified_at is None and requirement.unverified_reason.startswith("Reseller ID")
        actions = [a for (a,) in _db.session.execute(select(func.count()).select_from(PartnerRequirement))]
        assert actions


def test_refunds_count_against_the_revenue(app, world):
    from cloudcodes.billing.services import record_refund

    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        with time_machine.travel(at("2026-04-01"), tick=False):
            record_refund("A-1", "R-1", Money.parse("6000.00", "USD"), at("2026-04-01"), fingerprint({"r": 1}))
        meet_everything(world, "2026-11-26")
        assert [lv[0] for lv in levels(world["partner"])] == ["reseller"]  # 24,000 net


def test_the_purchase_that_completes_the_requirements_upgrades_at_once(app, world):
    with app.app_context():
        meet_everything(world, "2026-06-10")  # everything but the revenue
        assert notices() == []
        with time_machine.travel(at("2026-09-14"), tick=False):
            register_domain(_db.session.get(Partner, world["partner"]), "late.com", by=None)
        with time_machine.travel(at("2026-09-15") + timedelta(hours=1), tick=False):
            buy("A-1", "25000.00", "2026-09-15", domain="late.com")  # the purchase itself runs the check
            assert run_upgrades(date(2026, 9, 15)) == []  # so the batch finds nothing left to do
        assert levels(world["partner"])[-1] == ("premier", date(2026, 10, 1), date(2027, 12, 31), "upgrade")
        assert len(notices()) == 1


def test_a_purchase_sums_no_revenue_for_a_partner_that_lacks_another_requirement(app, world, count_queries):
    """The check after each purchase reads the revenue only when the revenue could decide (issue #16)."""
    with app.app_context():
        with time_machine.travel(at("2026-09-14"), tick=False):
            register_domain(_db.session.get(Partner, world["partner"]), "late.com", by=None)
        with time_machine.travel(at("2026-09-15") + timedelta(hours=1), tick=False), count_queries() as lacking:
            buy("A-1", "25000.00", "2026-09-15", domain="late.com")
        assert levels(world["partner"])[-1][0] == "reseller"
        meet_everything(world, "2026-09-16")  # everything but the revenue now
        with time_machine.travel(at("2026-09-17") + timedelta(hours=1), tick=False), count_queries() as deciding:
            buy("A-2", "100.00", "2026-09-17", domain="late.com")
        assert levels(world["partner"])[-1][0] == "premier"

    def summing(counter) -> int:
        return sum(s.lstrip().upper().startswith("SELECT") and "partner_month_totals" in s for s in counter.statements)

    assert summing(lacking) == 0
    assert summing(deciding) >= 1


def test_a_premier_partners_purchase_of_today_runs_no_upgrade_check(app, count_queries):
    with time_machine.travel(at("2026-09-14"), tick=False), app.app_context():
        partner = create_partner(
            name="Initech", website="https://initech.com", country="Spain", level="premier", channel_manager=None,
            effective_from=date(2026, 1, 1),
        )  # fmt: skip
        _db.session.commit()
        register_domain(partner, "initech-customer.com", by=None)
    with time_machine.travel(at("2026-09-15") + timedelta(hours=1), tick=False), app.app_context():
        with count_queries() as counter:
            purchase = buy("I-1", "500.00", "2026-09-15", domain="initech-customer.com")
        assert purchase.level == "premier"
    # The upgrade check reads the level histories of the partners it checks (``partner_id IN (...)``).
    histories = [s for s in counter.statements if "partner_levels.partner_id IN" in " ".join(s.split())]
    assert histories == [], "a Premier partner was checked for an upgrade after its purchase"


# --- Late annual runs and booked upgrades (issue #17, finding 12) ----------------------------------


def page_text(response) -> str:
    """The page's text as a person reads it: no tags, entities such as -&gt; turned back, spaces collapsed."""
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def globex(app):
    """Globex: Premier since 2025 without a protection, having shown nothing in 2025, so Reseller for 2026."""
    with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
        partner = create_partner(
            name="Globex", website="https://globex.com", country="Spain", level="premier", channel_manager=None,
            effective_from=date(2025, 1, 1),
        )  # fmt: skip
        add_member(partner, UserFactory(email="owner@globex.com"), MemberRole.OWNER)
        _db.session.commit()
        return partner.id


@pytest.fixture
def admin_client(app):
    from tests.support.web import make_staff, staff_client

    admin = make_staff(app, role="admin", full_name="Ada Admin")
    return lambda: staff_client(app, admin)


def preview_annual(client, year: int):
    from tests.support.web import submit

    return submit(
        client, "/admin/qualification/annual/preview", {"annual-year": str(year)}, page="/admin/qualification"
    )


def run_annual(client, data: dict):
    from tests.support.web import submit

    return submit(client, "/admin/qualification/annual/run", data, page="/admin/qualification")


@pytest.mark.parametrize(
    ("year", "today", "months"),
    [(2026, "2026-01-01", 0), (2026, "2026-01-31", 0), (2026, "2026-02-01", 1), (2026, "2026-12-15", 11),
     (2025, "2026-01-10", 12), (2027, "2026-12-31", 0)],
)  # fmt: skip
def test_how_late_an_annual_run_is(year, today, months):
    from cloudcodes.partners.levels import months_late

    assert months_late(year, date.fromisoformat(today)) == months


def test_in_december_the_annual_preview_warns_that_the_run_is_late_and_wants_a_second_box(
    app, world, globex, admin_client
):
    change = f"Globex (#{globex}): Premier -> Reseller from 1 January 2026"
    with time_machine.travel(at("2026-12-15"), tick=False):
        client = admin_client()
        preview = preview_annual(client, 2026)
        assert preview.status_code == 200
        shown = page_text(preview)
        assert change in shown
        assert "This run is late: 11 months after 1 January 2026" in shown
        assert (
            "Today is 15 December 2026, and the levels it sets take effect on 1 January 2026, 11 months back" in shown
        )
        assert "Commissions already recorded stay exactly as they are" in shown
        assert "Purchases recorded from now on use the new levels" in shown
        assert 'name="run-annual-late_confirm"' in preview.get_data(as_text=True)

        refused = run_annual(client, {"run-annual-year": "2026", "run-annual-confirm": "y"})
        assert refused.status_code == 400
        assert 'id="run-annual-late_confirm-error"' in refused.get_data(as_text=True)
        assert "This run is late: tick this box to confirm you have read the warning above." in page_text(refused)
        assert "11 months back" in page_text(refused)  # the warning is still in front of the admin
        with app.app_context():
            assert [lv[0] for lv in levels(globex)] == ["premier"]  # nothing written...
            assert notices() == []  # ...and no one e-mailed

        done = run_annual(
            client, {"run-annual-year": "2026", "run-annual-confirm": "y", "run-annual-late_confirm": "y"}
        )
        assert done.status_code == 303
        assert "Annual qualification for 2026: 1 partner changed." in page_text(client.get("/admin/qualification"))
    with app.app_context():
        assert levels(globex)[-1] == ("reseller", date(2026, 1, 1), None, "annual")
        assert len(notices()) == 1


def test_in_january_the_annual_preview_has_no_late_warning(app, world, globex, admin_client):
    with time_machine.travel(at("2026-01-20"), tick=False):
        client = admin_client()
        preview = preview_annual(client, 2026)
        assert preview.status_code == 200
        assert f"Globex (#{globex}): Premier -> Reseller from 1 January 2026" in page_text(preview)
        assert "This run is late" not in page_text(preview) and "months back" not in page_text(preview)
        assert 'id="late-run-warning"' not in preview.get_data(as_text=True)
        assert "run-annual-late_confirm" not in preview.get_data(as_text=True)
        done = run_annual(client, {"run-annual-year": "2026", "run-annual-confirm": "y"})  # one box is enough
        assert done.status_code == 303
    with app.app_context():
        assert levels(globex)[-1] == ("reseller", date(2026, 1, 1), None, "annual")


def test_the_command_warns_of_a_late_run_but_not_of_one_in_january(app, world, globex, runner):
    with time_machine.travel(at("2026-01-31"), tick=False):
        on_time = runner.invoke(args=["program", "qualify", "--year", "2026", "--dry-run"])
        assert on_time.exit_code == 0 and "Would change Globex" in on_time.output
        assert "Warning" not in on_time.output
    with time_machine.travel(at("2026-12-15"), tick=False):
        late = runner.invoke(args=["program", "qualify", "--year", "2026", "--dry-run"])
        assert late.exit_code == 0 and "Would change Globex" in late.output
        assert (
            "Warning: This run is late: 11 months after 1 January 2026. Today is" in late.output
            and "11 months back" in late.output
        )
        assert "Dry run: nothing was written" in late.output


def globex_buy(order: str, amount: str, day: str, *, seats: int = 10, reported: str | None = None):
    """A purchase of globex-customer.com on ``day``, reported on ``reported`` (by default that same day)."""
    with time_machine.travel(at(reported or day), tick=False):
        data = PurchaseInput(
            order_id=order, customer_domain="globex-customer.com", product_sku="CC-SUITE", seats=seats,
            amount=Money.parse(amount, "USD"), channel="direct", purchased_at=at(day),
        )  # fmt: skip
        return record_purchase(data, fingerprint({"order": order})).purchase


def test_a_late_run_never_changes_a_commission_already_recorded(app, world, globex, runner):
    from cloudcodes.billing.models import LedgerEntry, Purchase
    from cloudcodes.billing.services import balance, record_refund

    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            register_domain(_db.session.get(Partner, globex), "globex-customer.com", by=None)
        globex_buy("G-1", "1000.00", "2026-03-10")  # Premier: 30 %
        globex_buy("G-2", "2000.00", "2026-04-10", seats=500)  # Premier with 500 seats: 30 + 5 %
        globex_buy("G-3", "400.00", "2026-11-20")
        ledger_before = sorted(
            (entry.purchase_id, entry.kind, entry.amount.minor, entry.payable_on)
            for entry in _db.session.scalars(select(LedgerEntry).where(LedgerEntry.partner_id == globex))
        )
        assert [amount for _, _, amount, _ in ledger_before] == [30000, 70000, 12000]
        assert balance(globex) == Money(112000, "USD")

    with time_machine.travel(at("2026-12-15"), tick=False):
        result = runner.invoke(args=["program", "qualify", "--year", "2026"])
        assert result.exit_code == 0, result.output
        assert f"Changed Globex (#{globex}): Premier -> Reseller from 1 January 2026" in result.output

    with app.app_context():
        assert levels(globex)[-1] == ("reseller", date(2026, 1, 1), None, "annual")
        purchases = {
            p.order_id: (p.level, p.margin_pct, p.volume_points, p.commission)
            for p in _db.session.scalars(select(Purchase).where(Purchase.partner_id == globex))
        }
        assert purchases == {
            "G-1": ("premier", Decimal(30), Decimal(0), Money(30000, "USD")),
            "G-2": ("premier", Decimal(30), Decimal(5), Money(70000, "USD")),
            "G-3": ("premier", Decimal(30), Decimal(0), Money(12000, "USD")),
        }
        ledger_after = sorted(
            (entry.purchase_id, entry.kind, entry.amount.minor, entry.payable_on)
            for entry in _db.session.scalars(select(LedgerEntry).where(LedgerEntry.partner_id == globex))
        )
        assert ledger_after == ledger_before
        assert balance(globex) == Money(112000, "USD")

        # A refund after the run reverses the commission as it was fixed (30 %), not at the new level.
        with time_machine.travel(at("2026-12-16"), tick=False):
            record_refund("G-1", "GR-1", Money.parse("500.00", "USD"), at("2026-12-16"), fingerprint({"r": "GR-1"}))
        reversal = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "reversal"))
        assert reversal.amount == Money(-15000, "USD")
        assert balance(globex) == Money(97000, "USD")

        # Purchases recorded from now on use the new level, also one dated earlier in the year and
        # reported late, as the preview's warning says.
        late_report = globex_buy("G-4", "1000.00", "2026-06-01", reported="2026-12-16")
        new = globex_buy("G-5", "1000.00", "2026-12-16")
        assert (late_report.level, late_report.commission) == ("reseller", Money(15000, "USD"))
        assert (new.level, new.commission) == ("reseller", Money(15000, "USD"))


def preview_upgrades(client, as_of: str):
    from tests.support.web import submit

    return submit(
        client, "/admin/qualification/upgrades/preview", {"upgrades-as_of": as_of}, page="/admin/qualification"
    )


def test_the_upgrades_preview_lists_the_upgrades_already_booked(app, world, admin_client, runner):
    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")  # the upgrade is booked at once, for 1 December
    booked = f"Acme (#{world['partner']}): Reseller -> Premier from 1 December 2026, protected until 31 December 2027"
    with time_machine.travel(at("2026-11-27"), tick=False):
        client = admin_client()
        preview = preview_upgrades(client, "2026-11-27")
        assert preview.status_code == 200
        shown = page_text(preview)
        assert "No partner would change" not in shown
        assert "Run it" not in shown  # a run would add nothing
        assert (
            "No further partner would change: a run would add nothing to the 1 upgrade already booked below." in shown
        )
        assert "Already booked: 1 upgrade" in shown
        assert "taking effect after 27 November 2026" in shown
        assert booked in shown

        dry = runner.invoke(args=["program", "upgrades", "--as-of", "2026-11-27", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "0 partners would change" in dry.output
        assert f"Already booked {booked}" in dry.output
        assert "1 upgrade already booked, taking effect after 27 November 2026." in dry.output
    with time_machine.travel(at("2026-12-02"), tick=False):  # in force now: no longer booked
        shown = page_text(preview_upgrades(admin_client(), "2026-12-02"))
        assert "Already booked" not in shown and "No partner would change: there is nothing to run." in shown
    with app.app_context():
        assert len(notices()) == 1  # previews e-mail no one


def test_the_upgrades_preview_shows_new_and_booked_upgrades_apart(app, world, admin_client):
    from cloudcodes.auth.models import User
    from cloudcodes.billing.services import purchase_recorded

    with app.app_context():
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")  # Acme: booked for 1 December
        with time_machine.travel(at("2026-11-26"), tick=False):
            initech = create_partner(
                name="Initech", website="https://initech.com", country="Italy", level="reseller",
                channel_manager=_db.session.get(User, world["manager"]), effective_from=date(2025, 1, 1),
            )  # fmt: skip
            add_member(initech, UserFactory(email="owner@initech.com"), MemberRole.OWNER)
            for kind in (
                RequirementKind.WORKSPACE_RESELLER,
                RequirementKind.SALES_TEAM,
                RequirementKind.TECHNICAL_TEAM,
            ):
                add_requirement(initech, kind, "declared")
            _db.session.commit()
            initech_id = initech.id
            register_domain(initech, "initech-customer.com", by=None)
        meet_everything({"partner": initech_id, "manager": world["manager"]}, "2026-11-26")  # all but the revenue
        with time_machine.travel(at("2026-11-26") + timedelta(hours=1), tick=False), purchase_recorded.muted():
            # The revenue arrives without its purchase's own check, so only a run would upgrade Initech.
            buy("I-1", "25000.00", "2026-11-26", domain="initech-customer.com")
        assert [lv[0] for lv in levels(initech_id)] == ["reseller"]
    with time_machine.travel(at("2026-11-27"), tick=False):
        shown = page_text(preview_upgrades(admin_client(), "2026-11-27"))
    new = f"Initech (#{initech_id}): Reseller -> Premier from 1 December 2026, protected until 31 December 2027"
    assert "1 partner would change:" in shown and "Run it" in shown
    would, already = shown.split("Already booked: 1 upgrade")
    assert new in would and "Acme" not in would
    assert f"Acme (#{world['partner']}): Reseller -> Premier from 1 December 2026" in already
    assert "Initech" not in already


def test_the_levels_page_says_a_purchase_runs_the_upgrade_check(world, admin_client):
    with time_machine.travel(at("2026-11-27"), tick=False):
        shown = page_text(admin_client().get("/admin/qualification"))
    assert "a purchase does not" not in shown
    assert "or a purchase attributed to the partner, as soon as the billing system's report of it is recorded" in shown


def test_the_level_change_is_a_notice_each_member_gets_as_chosen(app, world):
    """The manager's letter is the notice's mail: for each member who wants it at once; the digest or
    nothing for the others."""
    from cloudcodes.notices.models import Notice
    from cloudcodes.notices.rules import Delivery, NoticeKind
    from cloudcodes.notices.services import save_preferences

    with app.app_context():
        partner = _db.session.get(Partner, world["partner"])
        tess = UserFactory(email="tess@acme.com", full_name="Tess Tech")
        sam = UserFactory(email="sam@acme.com")
        add_member(partner, tess, MemberRole.TECHNICAL)
        add_member(partner, sam, MemberRole.SALES)
        _db.session.commit()
        save_preferences(sam, {NoticeKind.LEVEL_CHANGE: Delivery.DIGEST})
        with time_machine.travel(at("2026-03-01"), tick=False):
            buy("A-1", "30000.00", "2026-03-01")
        meet_everything(world, "2026-11-26")
        letters = notices()
        assert sorted(letter.to_address for letter in letters) == ["owner@acme.com", "tess@acme.com"]
        assert all(letter.from_name == "Max Manager" for letter in letters)
        assert "Hello Tess Tech," in next(m.text_body for m in letters if m.to_address == "tess@acme.com")
        [waiting] = _db.session.scalars(
            select(Notice).where(Notice.sent_at.is_(None), Notice.kind == NoticeKind.LEVEL_CHANGE)
        ).all()
        assert waiting.user_id == sam.id and waiting.kind == NoticeKind.LEVEL_CHANGE
        assert waiting.facts["level_name"] == "Premier" and waiting.facts["effective_from"] == "2026-12-01"
