"""Suspending and reactivating a partner from the console, and what that does to its codes, purchases and pages."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.partners.models import MemberRole, Partner, PartnerStatus
from cloudcodes.partners.services import add_member, create_partner
from cloudcodes.referrals.services import issue_code, register_domain
from tests.factories import UserFactory
from tests.support.api import purchase_body, signed_get, signed_post
from tests.support.web import csrf_token, login, make_staff, staff_client

OWNER_EMAIL = "olivia@acme-cloud.example"
REASON = "Unpaid invoices from October."


def text(response) -> str:
    """The page's text as a person reads it: no tags, entities turned back, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Acme Cloud, a reseller managed by Max, with an owner, acme.com registered and a code issued for it."""
    max_ = make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")
    other = make_staff(app, role="manager", full_name="Other Manager")
    with app.app_context():
        partner = create_partner(
            name="Acme Cloud",
            website="https://acme-cloud.example",
            country="France",
            level="reseller",
            channel_manager=_db.session.get(User, max_.id),
            effective_from=clock.today() - timedelta(days=30),
        )
        add_member(partner, UserFactory(email=OWNER_EMAIL, full_name="Olivia Owner"), MemberRole.OWNER)
        _db.session.commit()
        code = issue_code(register_domain(partner, "acme.com", by=None), by=None)
        return SimpleNamespace(partner=partner.id, code=code.code, manager=max_, other=other)


def detail(world) -> str:
    return f"/admin/partners/{world.partner}"


def suspend(client, world, reason: str = REASON, confirm: bool = True):
    token = csrf_token(client.get(detail(world)).get_data(as_text=True))
    data = {"suspend-csrf_token": token, "suspend-reason": reason}
    if confirm:
        data["suspend-confirm"] = "y"
    return client.post(f"{detail(world)}/suspend", data=data)


def reactivate(client, world):
    token = csrf_token(client.get(detail(world)).get_data(as_text=True))
    return client.post(f"{detail(world)}/reactivate", data={"reactivate-csrf_token": token})


def check_code(client, world):
    response = signed_get(client, f"/api/v1/referral-codes/{world.code}", query_string={"domain": "acme.com"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def buy(client, world, order_id: str):
    purchased_at = clock.now().isoformat()  # after the registration (made moments ago), not in the future
    response = signed_post(
        client,
        "/api/v1/purchases",
        purchase_body(order_id=order_id, referral_code=world.code, purchased_at=purchased_at, product="CC-SUITE"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["attribution"]


def partner_state(app, world) -> tuple[PartnerStatus, str | None, bool]:
    with app.app_context():
        partner = _db.session.get(Partner, world.partner)
        return partner.status, partner.suspension_reason, partner.suspended_at is not None


def test_suspend_stops_attribution_shows_the_notice_and_reactivate_restores_it(app, client, world):
    manager = staff_client(app, world.manager)
    assert check_code(client, world)["valid"] is True

    response = suspend(manager, world)
    assert response.status_code == 303
    page = manager.get(detail(world))
    assert "Acme Cloud is suspended" in text(page)
    assert f"Reason: {REASON}" in text(page)
    assert "Reactivate Acme Cloud" in text(page)
    assert partner_state(app, world) == (PartnerStatus.SUSPENDED, REASON, True)
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.suspended"))
        assert event.actor_id == world.manager.id
        assert (event.target_type, event.target_id) == ("partners", str(world.partner))
        assert event.details == {
            "before": {"status": "active", "reason": None},
            "after": {"status": "suspended", "reason": REASON},
        }

    answer = check_code(client, world)
    assert (answer["valid"], answer["reason"], answer["partner"]) == (False, "partner_suspended", None)
    # The purchase is recorded, but neither the code nor the partner's registration attributes it.
    attribution = buy(client, world, "ORD-SUSPENDED")
    assert attribution["partner"] is None
    assert attribution["rule"] == "none"
    assert attribution["code_check"] == "partner_suspended"
    assert attribution["reason"].startswith("Code not used (partner_suspended). ")

    owner = app.test_client()
    assert login(owner, OWNER_EMAIL).status_code == 303
    notice = f"Your partnership is suspended: {REASON.rstrip('.')}. Your codes and registrations do not earn commission"
    for path in ("/dashboard/", "/dashboard/referrals", "/dashboard/earnings"):
        page = owner.get(path)
        assert page.status_code == 200, path
        assert notice in text(page), path
        assert "Max Manager, your channel sales manager, at max@cloudcodes.example" in text(page), path
    # Its history stays readable: the registration and its code are still listed.
    assert world.code in text(owner.get("/dashboard/referrals"))

    response = reactivate(manager, world)
    assert response.status_code == 303
    assert "Acme Cloud is active again" in text(manager.get(detail(world)))
    assert partner_state(app, world) == (PartnerStatus.ACTIVE, None, False)
    with app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.reactivated"))
        assert event.details == {
            "before": {"status": "suspended", "reason": REASON},
            "after": {"status": "active", "reason": None},
        }
    answer = check_code(client, world)
    assert (answer["valid"], answer["reason"]) == (True, "ok")
    assert answer["partner"]["name"] == "Acme Cloud"
    assert buy(client, world, "ORD-ACTIVE-AGAIN")["rule"] == "code"
    assert "Your partnership is suspended" not in text(owner.get("/dashboard/"))


def test_suspending_needs_a_reason_and_the_confirmation(app, world):
    manager = staff_client(app, world.manager)
    response = suspend(manager, world, reason="   ")
    assert response.status_code == 400
    assert "Say why the partner is suspended; its users see the reason." in text(response)
    response = suspend(manager, world, confirm=False)
    assert response.status_code == 400
    assert "Tick the box to confirm the suspension." in text(response)
    assert partner_state(app, world) == (PartnerStatus.ACTIVE, None, False)
    with app.app_context():
        assert _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "partner.suspended")) is None


def test_a_second_suspension_or_reactivating_an_active_partner_is_refused_clearly(app, world):
    manager = staff_client(app, world.manager)
    first = manager.get(detail(world)).get_data(as_text=True)
    assert suspend(manager, world).status_code == 303
    # A form still open from before the suspension: the manager is told where things stand.
    response = manager.post(
        f"{detail(world)}/suspend",
        data={"suspend-csrf_token": csrf_token(first), "suspend-reason": "Another reason", "suspend-confirm": "y"},
    )
    assert response.status_code == 303
    assert "Acme Cloud is already suspended" in text(manager.get(detail(world)))
    assert partner_state(app, world) == (PartnerStatus.SUSPENDED, REASON, True)

    assert reactivate(manager, world).status_code == 303
    response = manager.post(f"{detail(world)}/reactivate", data={"reactivate-csrf_token": csrf_token(first)})
    assert response.status_code == 303
    assert "Acme Cloud is already active." in text(manager.get(detail(world)))
    with app.app_context():
        actions = _db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("partner.%")).order_by(AuditEvent.id)
        ).all()
        assert actions == ["partner.suspended", "partner.reactivated"]


def test_only_the_partners_manager_or_an_admin_may_suspend(app, world):
    other = staff_client(app, world.other)
    page = other.get(detail(world))
    assert page.status_code == 200
    assert "Suspend Acme Cloud" not in text(page)
    assert suspend(other, world).status_code == 403

    owner = app.test_client()
    assert login(owner, OWNER_EMAIL).status_code == 303
    token = csrf_token(owner.get("/dashboard/referrals").get_data(as_text=True))
    response = owner.post(
        f"{detail(world)}/suspend",
        data={"suspend-csrf_token": token, "suspend-reason": REASON, "suspend-confirm": "y"},
    )
    assert response.status_code in (403, 404)
    assert partner_state(app, world) == (PartnerStatus.ACTIVE, None, False)

    admin = staff_client(app, make_staff(app, role="admin", full_name="Ada Admin"))
    assert suspend(admin, world).status_code == 303
    assert partner_state(app, world)[0] == PartnerStatus.SUSPENDED


def test_a_suspended_partner_cannot_register_domains(app, world):
    manager = staff_client(app, world.manager)
    assert suspend(manager, world).status_code == 303
    owner = app.test_client()
    assert login(owner, OWNER_EMAIL).status_code == 303
    token = csrf_token(owner.get("/dashboard/referrals").get_data(as_text=True))
    response = owner.post("/dashboard/referrals/registrations", data={"csrf_token": token, "domain": "new.com"})
    assert response.status_code in (400, 303)
    page = owner.get("/dashboard/referrals") if response.status_code == 303 else response
    assert "Your partner account is suspended, so it cannot do this now." in text(page)
    assert "new.com" not in text(owner.get("/dashboard/referrals"))
