"""Domain registrations: exclusivity under a race, expiry by the CLI, and the staff console's domain pages."""

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock, formatting
from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import DomainTaken, issue_code, register_domain
from tests.conftest import make_test_app
from tests.factories import make_partner
from tests.support.web import make_staff, staff_client, submit


@pytest.fixture
def partners(app):
    with app.app_context():
        return make_partner("Alpha").id, make_partner("Bravo").id


def registration_with_code(app, partner_id, domain):
    with app.app_context():
        registration = register_domain(_db.session.get(Partner, partner_id), domain, by=None)
        code = issue_code(registration, by=None)
        return registration.id, code.code


def active_count(app, domain):
    with app.app_context():
        return _db.session.scalar(
            select(func.count())
            .select_from(DomainRegistration)
            .where(DomainRegistration.domain == domain, DomainRegistration.status == "active")
        )


# --- Expiry ----------------------------------------------------------------------------------------


def test_domains_expire_ends_registrations_and_codes_past_their_lifetime_once(app, runner, partners):
    registration_with_code(app, partners[0], "acme.com")
    registration_with_code(app, partners[1], "globex.com")
    within = (clock.today() + timedelta(days=89)).isoformat()
    after = (clock.today() + timedelta(days=91)).isoformat()
    early = runner.invoke(args=["domains", "expire", "--as-of", within])
    assert early.exit_code == 0 and "Expired 0 registrations and 0 referral codes" in early.output
    result = runner.invoke(args=["domains", "expire", "--as-of", after])
    assert result.exit_code == 0, result.output
    as_of = formatting.date(clock.today() + timedelta(days=91))  # "1 March 2027": read by people
    assert f"Expired 2 registrations and 2 referral codes as of {as_of}" in result.output
    again = runner.invoke(args=["domains", "expire", "--as-of", after])
    assert "Expired 0 registrations and 0 referral codes" in again.output
    with app.app_context():
        assert set(_db.session.scalars(select(DomainRegistration.status))) == {"expired"}
        assert {code.state for code in _db.session.scalars(select(ReferralCode))} == {"expired"}
        assert _db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "domains.expired"


def test_converted_registrations_do_not_expire(app, runner, partners):
    registration_id, _ = registration_with_code(app, partners[0], "acme.com")
    with app.app_context():
        _db.session.get(DomainRegistration, registration_id).converted_at = clock.now()
        _db.session.commit()
    result = runner.invoke(args=["domains", "expire", "--as-of", (clock.today() + timedelta(days=400)).isoformat()])
    assert "Expired 0 registrations" in result.output
    assert active_count(app, "acme.com") == 1


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "1999-01-01"])
def test_domains_expire_refuses_a_date_that_makes_no_sense(runner, bad):
    result = runner.invoke(args=["domains", "expire", "--as-of", bad])
    assert result.exit_code == 2
    assert "date" in result.output


def test_a_lapsed_registration_frees_the_domain_even_before_the_sweep(app, partners):
    registration_with_code(app, partners[0], "acme.com")
    with time_machine.travel(clock.now() + timedelta(days=91)), app.app_context():
        moved = register_domain(_db.session.get(Partner, partners[1]), "acme.com", by=None)
        assert moved.partner_id == partners[1]
    assert active_count(app, "acme.com") == 1


# --- Exclusivity under a race ------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_partners_racing_for_one_domain_give_one_registration(postgres_database):
    app = make_test_app(postgres_database)
    with app.app_context():
        ids = [make_partner(f"Racer {n}").id for n in range(2)]
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def claim(partner_id):
        with app.app_context():
            partner = _db.session.get(Partner, partner_id)
            barrier.wait()
            try:
                register_domain(partner, "contested.com", by=None)
                outcomes.append("registered")
            except DomainTaken as refused:
                outcomes.append(str(refused))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=claim, args=(partner_id,)) for partner_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[0].startswith("This domain is already registered by another partner")
    assert outcomes.count("registered") == 1
    assert active_count(app, "contested.com") == 1
    with app.app_context():
        _db.engine.dispose()


# --- The console ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(app):
    return staff_client(app, make_staff(app, role="admin"))


def test_staff_find_registrations_by_domain_or_partner(app, admin_client, partners):
    registration_with_code(app, partners[0], "bücher.de")
    registration_with_code(app, partners[1], "globex.com")
    page = admin_client.get("/admin/domains").get_data(as_text=True)
    assert "bücher.de" in page and "globex.com" in page
    assert "globex.com" not in admin_client.get("/admin/domains?q=Bücher.DE").get_data(as_text=True)
    found = admin_client.get("/admin/domains?q=bravo").get_data(as_text=True)
    assert "globex.com" in found and "bücher.de" not in found


def test_the_domain_console_is_for_staff_only(app, partners):
    with app.app_context():
        make_partner("Charlie", owner_email="owner@charlie.com")
    from tests.support.web import login

    client = app.test_client()
    login(client, "owner@charlie.com")
    assert client.get("/admin/domains").status_code == 404


def test_staff_release_a_domain_with_a_reason(app, admin_client, partners):
    registration_id, _ = registration_with_code(app, partners[0], "acme.com")
    path = f"/admin/domains/{registration_id}"
    missing = submit(admin_client, path + "/release", {"release-confirm": "y", "release-reason": ""}, page=path)
    assert missing.status_code == 400 and "Give the reason" in missing.get_data(as_text=True)
    assert active_count(app, "acme.com") == 1
    done = submit(
        admin_client, path + "/release", {"release-confirm": "y", "release-reason": "Customer asked"}, page=path
    )
    assert done.status_code == 303
    assert active_count(app, "acme.com") == 0
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "domain.released"))
        assert "Customer asked" in event.details["reason"]


def test_staff_move_a_domain_to_another_partner_with_a_reason(app, admin_client, partners):
    registration_id, old_code = registration_with_code(app, partners[0], "acme.com")
    path = f"/admin/domains/{registration_id}"
    data = {"reassign-partner": str(partners[1]), "reassign-reason": "", "reassign-confirm": "y"}
    assert submit(admin_client, path + "/reassign", data, page=path).status_code == 400
    data["reassign-reason"] = "The customer changed partner (ticket 4521)."
    response = submit(admin_client, path + "/reassign", data, page=path)
    assert response.status_code == 303
    assert "now belongs to Bravo" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        active = _db.session.scalar(select(DomainRegistration).where(DomainRegistration.status == "active"))
        assert active.partner_id == partners[1]
        code = _db.session.scalar(select(ReferralCode).where(ReferralCode.code == old_code))
        assert code.state == "expired"  # the old partner's codes end with its claim
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "domain.reassigned"))
        assert event.details["reason"] == "The customer changed partner (ticket 4521)."
        assert event.details["from_partner"] == partners[0]


def test_demo_seed_registers_domains_with_codes(app, runner):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        domains = sorted(_db.session.scalars(select(DomainRegistration.domain)))
        assert domains == ["contoso-schools.org", "fabrikam.co.uk", "northwind-traders.com", "xn--bcher-demo-9db.de"]
        states = sorted(code.state for code in _db.session.scalars(select(ReferralCode)))
        assert states == ["active"] * 4 + ["revoked"]
