"""The console's partner pages and level runs, and the partner's dashboard, driven through the pages."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.billing.services import PurchaseInput, fingerprint, record_purchase
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.money import Money
from cloudcodes.partners.models import (
    MemberRole,
    Partner,
    PartnerLevel,
    PartnerMembership,
    PartnerRequirement,
    RequirementKind,
)
from cloudcodes.partners.services import add_member, add_requirement, create_partner
from cloudcodes.qualification.requirements import (
    add_business_plan,
    add_campaign,
    add_product_page,
    mark_sales_training,
    verify,
)
from cloudcodes.referrals.services import register_domain
from tests.factories import UserFactory
from tests.support.web import csrf_token, login, make_staff, staff_client, submit

BASICS = (RequirementKind.WORKSPACE_RESELLER, RequirementKind.SALES_TEAM, RequirementKind.TECHNICAL_TEAM)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def text(response) -> str:
    """The page's text as a person reads it: no tags, entities such as -&gt; turned back, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def world(app):
    """Acme: a Reseller since 2025 managed by Max, with an owner and its basic requirements declared."""
    max_ = make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")
    other = make_staff(app, role="manager", full_name="Other Manager")
    admin = make_staff(app, role="admin", full_name="Ada Admin")
    with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
        partner = create_partner(
            name="Acme", website="https://acme.com", country="France", level="reseller",
            channel_manager=_db.session.get(User, max_.id), effective_from=date(2025, 1, 1),
        )  # fmt: skip
        owner = add_member(partner, UserFactory(email="owner@acme.com", full_name="Olivia Owner"), MemberRole.OWNER)
        for kind in BASICS:
            add_requirement(partner, kind, "declared")
        _db.session.commit()
        register_domain(partner, "customer.com", by=None)
        return SimpleNamespace(partner=partner.id, owner=owner.id, manager=max_, other=other, admin=admin)


def buy(app, order: str, amount: str, day: str, *, new_domain: str | None = None) -> None:
    """A purchase attributed to Acme: for customer.com (registered mid-January, so until mid-April), or for
    ``new_domain``, registered for Acme just before."""
    with time_machine.travel(at(day), tick=False), app.app_context():
        if new_domain:
            acme = _db.session.scalar(select(Partner).where(Partner.name == "Acme"))
            register_domain(acme, new_domain, by=None)
        data = PurchaseInput(
            order_id=order, customer_domain=new_domain or "customer.com", product_sku="CC-SUITE", seats=10,
            amount=Money.parse(amount, "USD"), channel="direct", purchased_at=at(day),
        )  # fmt: skip
        record_purchase(data, fingerprint({"order": order}))


def requirement_id(app, partner_id: int, kind: RequirementKind) -> int:
    with app.app_context():
        return _db.session.scalar(
            select(PartnerRequirement.id).where(
                PartnerRequirement.partner_id == partner_id, PartnerRequirement.kind == kind.value
            )
        )


def requirement(app, requirement_id: int) -> PartnerRequirement:
    with app.app_context():
        found = _db.session.get(PartnerRequirement, requirement_id)
        _db.session.expunge(found)
        return found


def levels(app, partner_id: int) -> list[tuple]:
    with app.app_context():
        return [
            (record.level, record.effective_from, record.protected_until, record.reason)
            for record in _db.session.scalars(
                select(PartnerLevel).where(PartnerLevel.partner_id == partner_id).order_by(PartnerLevel.effective_from)
            )
        ]


def notice_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "level_changed")
        )


def meet_everything_but(app, world, day: str, *, skip: str = "") -> None:
    """Through the services (the console's own tests are below): all Premier requirements but ``skip``."""
    with time_machine.travel(at(day), tick=False), app.app_context():
        manager = _db.session.get(User, world.manager.id)
        partner = _db.session.get(Partner, world.partner)
        for item in list(partner.requirements):
            if item.verified_at is None:
                verify(item, by=manager)
        if skip != "training":
            mark_sales_training(partner.memberships[0], at(day).date(), by=manager)
        if skip != "plan":
            add_business_plan(
                partner, year=at(day).year, commitment=Money(2_500_000, "USD"), summary="Plan", by=manager
            )
        if skip != "page":
            add_product_page(partner, url="https://acme.com/cloudcodes", by=manager)
        if skip != "campaign":
            add_campaign(partner, name="Webinars", starts_on=at(day).date(), ends_on=at(day).date(), by=manager)


# --- Requirements ---------------------------------------------------------------------------------


def test_a_manager_verifies_a_requirement_of_their_own_partner(app, world):
    reseller = requirement_id(app, world.partner, RequirementKind.WORKSPACE_RESELLER)
    path = f"/admin/partners/{world.partner}"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)
        assert "Acme" in text(client.get("/admin/partners"))
        response = submit(client, f"{path}/requirements/{reseller}/verify", {}, page=path)
        assert response.status_code == 303 and response.headers["Location"] == path
        page = text(client.get(path))
    assert "Google Workspace reseller is verified." in page
    assert "26 Nov 2026, 12:00 UTC by Max Manager" in page
    assert requirement(app, reseller).verified_by_id == world.manager.id
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "requirement.verified"))
        assert event.actor_id == world.manager.id and event.target_id == str(reseller)
        assert event.details["partner"] == world.partner


def test_unverifying_needs_a_reason_next_to_the_field_and_then_shows_it(app, world):
    reseller = requirement_id(app, world.partner, RequirementKind.WORKSPACE_RESELLER)
    path = f"/admin/partners/{world.partner}"
    action = f"{path}/requirements/{reseller}/unverify"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)
        assert submit(client, f"{path}/requirements/{reseller}/verify", {}, page=path).status_code == 303
        missing = submit(client, action, {f"unverify-{reseller}-reason": "   "}, page=path)
        assert missing.status_code == 400
        assert f'id="unverify-{reseller}-reason-error"' in missing.get_data(as_text=True)
        assert "Say why the verification is taken back" in text(missing)
        assert requirement(app, reseller).verified_at is not None
        done = submit(client, action, {f"unverify-{reseller}-reason": "Reseller ID not found at Google"}, page=path)
        assert done.status_code == 303
        page = text(client.get(path))
    assert "Google Workspace reseller is no longer verified." in page
    assert "Verification taken back: Reseller ID not found at Google" in page
    taken_back = requirement(app, reseller)
    assert taken_back.verified_at is None and taken_back.unverified_reason == "Reseller ID not found at Google"
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "requirement.unverified"))
        assert event.actor_id == world.manager.id and event.details["reason"] == "Reseller ID not found at Google"


def test_another_manager_may_look_but_gets_403_on_every_action(app, world):
    reseller = requirement_id(app, world.partner, RequirementKind.WORKSPACE_RESELLER)
    path = f"/admin/partners/{world.partner}"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.other)
        page = client.get(path)
        assert page.status_code == 200
        assert "only its channel sales manager (Max Manager) or an administrator" in text(page)
        assert "/verify" not in page.get_data(as_text=True)  # no forms to act with
        actions = {
            f"{path}/requirements/{reseller}/verify": {},
            f"{path}/requirements/{reseller}/unverify": {f"unverify-{reseller}-reason": "Because"},
            f"{path}/business-plans": {"plan-year": "2026", "plan-commitment": "25000", "plan-summary": "x"},
            f"{path}/product-pages": {"page-url": "https://acme.com/cc"},
            f"{path}/campaigns": {"campaign-name": "X", "campaign-starts_on": "2026-11-01",
                                  "campaign-ends_on": "2026-11-02"},
            f"{path}/members/{world.owner}/training": {f"training-{world.owner}-completed_on": "2026-11-20"},
        }  # fmt: skip
        for action, data in actions.items():
            assert submit(client, action, data, page=path).status_code == 403, action
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(PartnerRequirement)) == 3
        assert _db.session.scalar(select(func.count()).select_from(PartnerRequirement).where(
            PartnerRequirement.verified_at.is_not(None))) == 0  # fmt: skip
        assert _db.session.get(PartnerMembership, world.owner).sales_training_completed_on is None


def test_an_admin_may_act_on_any_partner(app, world):
    reseller = requirement_id(app, world.partner, RequirementKind.WORKSPACE_RESELLER)
    path = f"/admin/partners/{world.partner}"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.admin)
        # As a browser sends it: the form's own (prefixed) token field, nothing else.
        token = csrf_token(client.get(path).get_data(as_text=True))
        response = client.post(f"{path}/requirements/{reseller}/verify", data={f"verify-{reseller}-csrf_token": token})
        assert response.status_code == 303
        assert "by Ada Admin" in text(client.get(path))
    assert requirement(app, reseller).verified_by_id == world.admin.id


def test_recording_a_plan_a_page_a_campaign_and_a_training_through_the_forms(app, world):
    path = f"/admin/partners/{world.partner}"
    training = f"training-{world.owner}-completed_on"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)

        bad_amount = submit(
            client, f"{path}/business-plans", {"plan-year": "2026", "plan-commitment": "lots"}, page=path
        )
        assert bad_amount.status_code == 400 and 'id="plan-commitment-error"' in bad_amount.get_data(as_text=True)
        bad_year = submit(client, f"{path}/business-plans", {"plan-year": "2020", "plan-commitment": "1"}, page=path)
        assert bad_year.status_code == 400 and 'id="plan-year-error"' in bad_year.get_data(as_text=True)
        assert "A business plan is for last year, this year or next year." in text(bad_year)
        plan = {"plan-year": "2026", "plan-commitment": "25,000.00", "plan-summary": "Two webinars a quarter"}
        assert submit(client, f"{path}/business-plans", plan, page=path).status_code == 303
        assert "The joint business plan for 2026 ($25,000.00) is recorded as approved." in text(client.get(path))

        bad_url = submit(client, f"{path}/product-pages", {"page-url": "acme.com/cc"}, page=path)
        assert bad_url.status_code == 400 and 'id="page-url-error"' in bad_url.get_data(as_text=True)
        assert (
            submit(client, f"{path}/product-pages", {"page-url": "https://acme.com/cc"}, page=path).status_code == 303
        )

        campaign = {
            "campaign-name": "Spring webinars",
            "campaign-starts_on": "2026-11-10",
            "campaign-ends_on": "2026-11-01",
        }
        backwards = submit(client, f"{path}/campaigns", campaign, page=path)
        assert backwards.status_code == 400 and 'id="campaign-ends_on-error"' in backwards.get_data(as_text=True)
        assert "The campaign cannot end before it starts." in text(backwards)
        campaign["campaign-ends_on"] = "2026-11-20"
        assert submit(client, f"{path}/campaigns", campaign, page=path).status_code == 303

        future = submit(client, f"{path}/members/{world.owner}/training", {training: "2026-12-01"}, page=path)
        assert future.status_code == 400
        assert f'id="training-{world.owner}-completed_on-error"' in future.get_data(as_text=True)
        assert (
            submit(client, f"{path}/members/{world.owner}/training", {training: "2026-11-20"}, page=path).status_code
            == 303
        )
        page = text(client.get(path))
    assert "Olivia Owner completed the sales training on 20 November 2026." in page
    assert "Completed 20 Nov 2026" in page
    assert "Commitment $25,000.00" in page and "Two webinars a quarter" in page
    assert "https://acme.com/cc" in page and "Spring webinars" in page and "10 Nov 2026 to 20 Nov 2026" in page
    with app.app_context():
        verified = select(PartnerRequirement).where(PartnerRequirement.verified_at.is_not(None))
        recorded = {r.kind: r for r in _db.session.scalars(verified)}
        assert recorded["joint_business_plan"].commitment == Money(2_500_000, "USD")
        assert recorded["joint_business_plan"].year == 2026
        assert recorded["website_product_page"].url == "https://acme.com/cc"
        assert (recorded["joint_marketing_campaign"].starts_on, recorded["joint_marketing_campaign"].ends_on) == (
            date(2026, 11, 10), date(2026, 11, 20),
        )  # fmt: skip
        assert all(r.verified_by_id == world.manager.id for r in recorded.values())
        assert _db.session.get(PartnerMembership, world.owner).sales_training_completed_on == date(2026, 11, 20)
        actions = set(_db.session.scalars(select(AuditEvent.action)))
        assert {"requirement.business_plan_approved", "requirement.product_page_verified",
                "requirement.campaign_approved", "member.sales_training"} <= actions  # fmt: skip

    with time_machine.travel(at("2026-11-26"), tick=False):
        cleared = submit(client, f"{path}/members/{world.owner}/training", {training: ""}, page=path)
        assert cleared.status_code == 303
        assert "Olivia Owner's sales training date is cleared." in text(client.get(path))
    with app.app_context():
        assert _db.session.get(PartnerMembership, world.owner).sales_training_completed_on is None


def test_meeting_the_last_requirement_in_the_console_flashes_the_upgrade(app, world):
    buy(app, "A-1", "30000.00", "2026-03-01")
    meet_everything_but(app, world, "2026-11-26", skip="campaign")
    assert [lv[0] for lv in levels(app, world.partner)] == ["reseller"]
    path = f"/admin/partners/{world.partner}"
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)
        before = text(client.get(path))
        assert "Still missing: an approved joint marketing campaign this year." in before
        campaign = {"campaign-name": "Autumn", "campaign-starts_on": "2026-11-02", "campaign-ends_on": "2026-11-20"}
        response = submit(client, f"{path}/campaigns", campaign, page=path)
        assert response.status_code == 303
        page = text(client.get(path))
    assert (
        f"Level change: Acme (#{world.partner}): Reseller -> Premier from 1 December 2026, "
        "protected until 31 December 2027." in page
    )
    assert "Every Premier requirement is met this year." in page
    assert levels(app, world.partner)[-1] == ("premier", date(2026, 12, 1), date(2027, 12, 31), "upgrade")
    assert notice_count(app) == 1


# --- The partners list ----------------------------------------------------------------------------


def test_the_list_searches_filters_and_shows_level_manager_and_revenue(app, world):
    buy(app, "A-1", "1234.50", "2026-03-01")
    with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
        create_partner(
            name="Globex", website="https://globex.com", country="Spain", level="premier",
            channel_manager=_db.session.get(User, world.other.id), effective_from=date(2025, 1, 1),
        )  # fmt: skip
        _db.session.commit()
    meet_everything_but(app, world, "2026-11-26")  # no revenue check: 1,234.50 is short, so no upgrade
    with time_machine.travel(at("2026-11-26"), tick=False), app.app_context():
        _db.session.add(PartnerLevel(partner_id=world.partner, level="premier", effective_from=date(2026, 12, 1),
                                     protected_until=date(2027, 12, 31), reason="upgrade"))  # fmt: skip
        _db.session.commit()
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)
        page = text(client.get("/admin/partners"))
        assert "Acme" in page and "Globex" in page
        assert "Premier from 1 Dec 2026" in page  # Acme's upcoming change
        assert "$1,234.50" in page and "Max Manager" in page and "Other Manager" in page
        assert "Globex" not in text(client.get("/admin/partners?q=acm"))
        premier = text(client.get("/admin/partners?level=premier"))
        assert "Globex" in premier and "Acme" not in premier  # Acme is Premier only from December
        mine = text(client.get("/admin/partners?mine=y"))
        assert "Acme" in mine and "Globex" not in mine
        assert "Globex" in text(client.get("/admin/partners?level=nonsense"))  # an unknown filter is ignored


def test_the_partners_list_costs_the_same_queries_for_3_and_25_partners(app, world, count_queries):
    def add_partners(count: int, start: int) -> None:
        with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
            for number in range(start, start + count):
                manager = UserFactory(role="manager", email=f"manager{number}@cloudcodes.example")
                partner = create_partner(
                    name=f"Partner {number:02}", website="https://example.com", country="Italy", level="reseller",
                    channel_manager=manager, effective_from=date(2025, 1, 1),
                )  # fmt: skip
                partner.levels.append(PartnerLevel(level="premier", effective_from=date(2027, 1, 1), reason="annual"))
                add_member(partner, UserFactory(), MemberRole.OWNER)
            _db.session.commit()

    buy(app, "A-1", "500.00", "2026-03-01")
    add_partners(2, 1)  # with Acme: 3
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.admin)
        client.get("/admin/partners")
        with count_queries() as few:
            assert client.get("/admin/partners").status_code == 200
        add_partners(22, 3)  # 25 partners: one full page
        with count_queries() as many:
            page = client.get("/admin/partners")
        assert page.get_data(as_text=True).count("/admin/partners/") >= 25
    assert many.count == few.count, many.statements


# --- Levels (the qualification runs) --------------------------------------------------------------


def test_the_annual_run_from_the_console_previews_then_runs_once(app, world):
    with time_machine.travel(at("2026-01-15"), tick=False), app.app_context():
        globex = create_partner(
            name="Globex", website="https://globex.com", country="Spain", level="premier", channel_manager=None,
            effective_from=date(2025, 1, 1),
        )  # fmt: skip
        add_member(globex, UserFactory(email="owner@globex.com"), MemberRole.OWNER)
        _db.session.commit()
        globex_id = globex.id
    change = f"Globex (#{globex_id}): Premier -> Reseller from 1 January 2027"
    with time_machine.travel(at("2027-01-02"), tick=False):
        client = staff_client(app, world.admin)
        assert "Levels" in text(client.get("/admin/"))
        form = client.get("/admin/qualification")
        assert 'value="2027"' in form.get_data(as_text=True)  # this year by default

        refused = submit(
            client, "/admin/qualification/annual/preview", {"annual-year": "2031"}, page="/admin/qualification"
        )
        assert refused.status_code == 400 and 'id="annual-year-error"' in refused.get_data(as_text=True)
        assert "runs on or after 1 January 2031" in text(refused)

        preview = submit(
            client, "/admin/qualification/annual/preview", {"annual-year": "2027"}, page="/admin/qualification"
        )
        assert preview.status_code == 200
        assert "1 partner would change" in text(preview) and change in text(preview) and "Acme" not in text(preview)
        assert "Run it" in text(preview)
        assert levels(app, globex_id) == [("premier", date(2025, 1, 1), None, "approval")]  # nothing written
        assert notice_count(app) == 0

        unconfirmed = submit(
            client, "/admin/qualification/annual/run", {"run-annual-year": "2027"}, page="/admin/qualification"
        )
        assert unconfirmed.status_code == 400 and "Tick the box to confirm the run." in text(unconfirmed)
        assert len(levels(app, globex_id)) == 1

        run = {"run-annual-year": "2027", "run-annual-confirm": "y"}
        done = submit(client, "/admin/qualification/annual/run", run, page="/admin/qualification")
        assert done.status_code == 303 and done.headers["Location"] == "/admin/qualification"
        page = text(client.get("/admin/qualification"))
        assert "Annual qualification for 2027: 1 partner changed." in page and f"Changed {change}" in page
        assert levels(app, globex_id)[-1] == ("reseller", date(2027, 1, 1), None, "annual")
        assert notice_count(app) == 1

        again = submit(client, "/admin/qualification/annual/run", run, page="/admin/qualification")
        assert again.status_code == 303
        assert "Annual qualification for 2027: 0 partners changed." in text(client.get("/admin/qualification"))
        nothing = submit(
            client, "/admin/qualification/annual/preview", {"annual-year": "2027"}, page="/admin/qualification"
        )
        assert "No partner would change" in text(nothing) and "Run it" not in text(nothing)
    assert len(levels(app, globex_id)) == 2 and notice_count(app) == 1


def test_mid_year_upgrades_from_the_console_preview_then_run_once(app, world):
    meet_everything_but(app, world, "2026-06-10")  # everything but the revenue
    with app.app_context():  # the training taken back for a while, written straight to the table
        acme = _db.session.get(Partner, world.partner)
        trained_on = acme.memberships[0].sales_training_completed_on
        acme.memberships[0].sales_training_completed_on = None
        _db.session.commit()
    buy(app, "A-1", "25000.00", "2026-09-15", new_domain="late.com")  # checks, but the training is missing
    with app.app_context():  # back again without the service, so nothing has run the upgrade check
        _db.session.get(Partner, world.partner).memberships[0].sales_training_completed_on = trained_on
        _db.session.commit()
    change = f"Acme (#{world.partner}): Reseller -> Premier from 1 October 2026, protected until 31 December 2027"
    with time_machine.travel(at("2026-09-15"), tick=False):
        client = staff_client(app, world.admin)
        assert 'value="2026-09-15"' in client.get("/admin/qualification").get_data(as_text=True)  # today by default
        future = submit(
            client,
            "/admin/qualification/upgrades/preview",
            {"upgrades-as_of": "2026-09-16"},
            page="/admin/qualification",
        )
        assert future.status_code == 400 and 'id="upgrades-as_of-error"' in future.get_data(as_text=True)
        preview = submit(
            client,
            "/admin/qualification/upgrades/preview",
            {"upgrades-as_of": "2026-09-15"},
            page="/admin/qualification",
        )
        assert preview.status_code == 200 and change in text(preview)
        assert [lv[0] for lv in levels(app, world.partner)] == ["reseller"]
        run = {"run-upgrades-as_of": "2026-09-15", "run-upgrades-confirm": "y"}
        assert submit(client, "/admin/qualification/upgrades/run", run, page="/admin/qualification").status_code == 303
        page = text(client.get("/admin/qualification"))
        assert "Mid-year upgrades as of 15 September 2026: 1 partner changed." in page and change in page
        assert submit(client, "/admin/qualification/upgrades/run", run, page="/admin/qualification").status_code == 303
        assert "Mid-year upgrades as of 15 September 2026: 0 partners changed." in text(
            client.get("/admin/qualification")
        )
    assert levels(app, world.partner)[-1] == ("premier", date(2026, 10, 1), date(2027, 12, 31), "upgrade")
    assert notice_count(app) == 1


def test_managers_cannot_run_the_levels(app, world):
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = staff_client(app, world.manager)
        assert "/admin/qualification" not in client.get("/admin/").get_data(as_text=True)  # no nav item
        assert client.get("/admin/qualification").status_code == 403
        for action, data in {
            "/admin/qualification/annual/preview": {"annual-year": "2026"},
            "/admin/qualification/annual/run": {"run-annual-year": "2026", "run-annual-confirm": "y"},
            "/admin/qualification/upgrades/preview": {"upgrades-as_of": "2026-11-26"},
            "/admin/qualification/upgrades/run": {"run-upgrades-as_of": "2026-11-26", "run-upgrades-confirm": "y"},
        }.items():
            assert submit(client, action, data, page="/admin/").status_code == 403, action


# --- The partner's dashboard ----------------------------------------------------------------------


def test_the_dashboard_shows_the_progress_to_premier_and_what_is_missing(app, world):
    buy(app, "A-1", "12500.00", "2026-03-01")
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = app.test_client()
        assert login(client, "owner@acme.com").status_code == 303
        response = client.get("/dashboard/")
    body = response.get_data(as_text=True)
    page = text(response)
    assert "Progress to Premier" in page
    assert 'role="progressbar"' in body and 'aria-valuenow="50"' in body
    assert 'aria-valuemin="0"' in body and 'aria-valuemax="100"' in body
    assert "$12,500.00 of $25,000.00 (50 %)" in page
    assert "$12,500.00 more net revenue (of $25,000.00)" in page
    assert (
        "an approved joint business plan for the year" in page and "Google Workspace reseller status verified" in page
    )
    assert "You become" not in page


def test_the_dashboard_shows_the_upcoming_upgrade(app, world):
    buy(app, "A-1", "30000.00", "2026-03-01")
    meet_everything_but(app, world, "2026-11-26")  # the last verification upgrades Acme from 1 December
    with time_machine.travel(at("2026-11-26"), tick=False):
        client = app.test_client()
        assert login(client, "owner@acme.com").status_code == 303
        page = text(client.get("/dashboard/"))
    assert "You become Premier on 1 December 2026, protected until 31 December 2027." in page
    assert "30 % on purchases from that day" in page
    assert "You meet every Premier requirement this year." in page
    with time_machine.travel(at("2026-12-02"), tick=False):
        client = app.test_client()
        assert login(client, "owner@acme.com").status_code == 303
        later = text(client.get("/dashboard/"))
    assert "You become" not in later and "Progress to Premier" not in later  # Premier now
