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
        assert f"Changed Globex (#{other_id}): Premier -> Reseller from 2027-01-01" in result.output
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
