"""Staff accounts in the console (administrators only), driven through the pages."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.admin.services.staff import change_role
from cloudcodes.applications.rules import ApplicationInput
from cloudcodes.applications.services import assign_manager, submit_application
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import RecoveryCode, User
from cloudcodes.auth.services import AccountError
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory, make_partner
from tests.support.web import csrf_token, login, make_staff, setup_two_factor, staff_client, submit

NEW_PASSWORD = "a fresh and private passphrase"

# --- Helpers ----------------------------------------------------------------------------------


def text(response) -> str:
    """The page's text as a person reads it: no tags, entities turned back, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def flashed(client, response, category: str) -> str:
    """Follow the 303 and read the message of ``category`` on the page it leads to."""
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(rf'<div class="alert alert-{category}[^"]*">\s*(.*?)\s*<button', page, re.S)
    assert match, f"no {category} message on the page"
    return " ".join(html.unescape(match.group(1)).split())


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<div id="{field_id}-error"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    assert match, f"no error next to {field_id}"
    return html.unescape(match.group(1)).strip()


def act(client, user_id: int, action: str, data: dict | None = None):
    """POST one of the actions of a person's page; the CSRF token comes from the staff list."""
    return submit(client, f"/admin/staff/{user_id}/{action}", data or {}, page="/admin/staff")


def invite(client, email: str, full_name: str = "Nina New", role: str = "manager"):
    return submit(
        client, "/admin/staff/invite", {"email": email, "full_name": full_name, "role": role}, page="/admin/staff"
    )


def user_by_email(app, email: str) -> User:
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        assert user is not None, email
        _db.session.expunge(user)
        return user


def reload(app, user_id: int) -> User:
    with app.app_context():
        user = _db.session.get(User, user_id)
        _db.session.expunge(user)
        return user


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        for event in events:
            _db.session.expunge(event)
        return events


def invitations(app, email: str) -> list[OutboxMessage]:
    with app.app_context():
        messages = list(
            _db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id)
            )
        )
        for message in messages:
            _db.session.expunge(message)
        return messages


def link_path(app, message: OutboxMessage) -> str:
    link = re.search(r"(https?://\S+/reset-password/\S+)", message.text_body).group(1)
    assert link.startswith(app.config["SITE_URL"] + "/reset-password/")
    assert link in message.html_body
    return link.removeprefix(app.config["SITE_URL"])


def choose_password(client, path: str):
    return submit(client, path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})


def open_application(app, manager_id: int, admin_id: int, n: int = 1) -> int:
    with app.app_context():
        application = submit_application(
            ApplicationInput(
                level="reseller",
                company_name=f"Northwind {n}",
                website="https://northwind.example",
                country="United Kingdom",
                contact_name="Olivia Owner",
                contact_email=f"olivia{n}@northwind.example",
                contact_phone="+44 20 7946 0000",
                is_workspace_reseller=True,
                workspace_reseller_id="C01abc234",
                sales_team_size=4,
                technical_team_size=2,
                expected_customers=25,
                heard_from="A customer",
            ),
            "127.0.0.1",
        )
        assign_manager(application, _db.session.get(User, manager_id), by=_db.session.get(User, admin_id))
        return application.id


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def admin(app):
    return make_staff(app, role="admin", full_name="Ada Admin", email="ada@cloudcodes.example")


@pytest.fixture
def admin_client(app, admin):
    return staff_client(app, admin)


@pytest.fixture
def manager(app):
    return make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")


# --- Inviting ---------------------------------------------------------------------------------


def test_an_invited_manager_chooses_a_password_then_must_set_up_two_factor(app, admin, admin_client):
    response = invite(admin_client, " Nina.New@CloudCodes.example ", "Nina New", "manager")
    assert response.status_code == 303
    nina = user_by_email(app, "nina.new@cloudcodes.example")
    assert response.headers["Location"] == f"/admin/staff/{nina.id}"
    assert nina.role == "manager" and nina.active and nina.full_name == "Nina New"
    assert nina.password_hash is None and not nina.two_factor_enabled
    assert "Invitation sent to nina.new@cloudcodes.example" in flashed(admin_client, response, "success")
    assert "Invited, no password yet" in text(admin_client.get("/admin/staff"))

    [message] = invitations(app, nina.email)
    assert message.template == "staff_invitation"
    assert message.reply_to == admin.email
    assert "two-factor authentication" in message.text_body
    assert "7 days" in message.text_body and "channel sales manager" in message.text_body
    path = link_path(app, message)

    newcomer = app.test_client()
    assert newcomer.get(path).status_code == 200
    response = choose_password(newcomer, path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/two-factor"
    # Logged in, but no console until two-factor is on.
    for page in ("/admin/", "/admin/staff", "/admin/partners"):
        blocked = newcomer.get(page)
        assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/two-factor"
    assert newcomer.get(path).status_code == 410  # the link works once

    setup_two_factor(newcomer)
    assert newcomer.get("/admin/").status_code == 200
    assert newcomer.get("/admin/staff").status_code == 403  # a manager, not an admin
    nina = reload(app, nina.id)
    assert nina.password_hash is not None and nina.two_factor_enabled

    [invited] = audit_events(app, "staff.invited")
    assert invited.actor_email == admin.email and invited.target_id == str(nina.id)
    assert invited.details == {"email": nina.email, "role": "manager"}


def test_the_invitation_link_lasts_seven_days(app, admin_client):
    invite(admin_client, "late@cloudcodes.example", role="admin")
    [message] = invitations(app, "late@cloudcodes.example")
    assert "an administrator" in message.text_body
    path = link_path(app, message)
    with time_machine.travel(clock.now() + timedelta(days=6, hours=23)):
        assert app.test_client().get(path).status_code == 200
    with time_machine.travel(clock.now() + timedelta(days=7, minutes=1)):
        assert app.test_client().get(path).status_code == 410


def test_a_taken_address_is_refused_next_to_the_field(app, admin_client, manager):
    with app.app_context():
        UserFactory(email="olivia@acme.example")  # a partner user
        before = _db.session.scalar(select(func.count()).select_from(User))
    for email in ("olivia@acme.example", "MAX@cloudcodes.example"):
        response = invite(admin_client, email)
        assert response.status_code == 400
        assert field_error(response, "email") == "An account with this e-mail address already exists."
        assert f'value="{email}"' in response.get_data(as_text=True)  # the form is shown again, filled in
    response = invite(admin_client, "not an address")
    assert response.status_code == 400 and "valid e-mail address" in field_error(response, "email")
    response = invite(admin_client, "nameless@cloudcodes.example", full_name="   ")
    assert response.status_code == 400 and field_error(response, "full_name")
    response = invite(admin_client, "partner@cloudcodes.example", role="partner")
    assert response.status_code == 400 and field_error(response, "role")
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(User)) == before
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert audit_events(app, "staff.invited") == []


def test_an_invitation_can_be_sent_again_and_the_old_link_stops_working(app, admin, admin_client, manager):
    invite(admin_client, "nina@cloudcodes.example")
    nina = user_by_email(app, "nina@cloudcodes.example")
    page = text(admin_client.get(f"/admin/staff/{nina.id}"))
    assert "Send a new invitation" in page and "the link works until" in page

    response = act(admin_client, nina.id, "invitation")
    assert "A new invitation is on its way to nina@cloudcodes.example" in flashed(admin_client, response, "success")
    first, second = invitations(app, nina.email)
    assert app.test_client().get(link_path(app, first)).status_code == 410
    assert choose_password(app.test_client(), link_path(app, second)).status_code == 303
    [resent] = audit_events(app, "staff.invitation_resent")
    assert resent.actor_email == admin.email and resent.target_id == str(nina.id)

    # Someone with a password is pointed to "Forgot your password?" instead.
    for person in (nina.id, manager.id):
        response = act(admin_client, person, "invitation")
        assert "already chosen a password" in flashed(admin_client, response, "warning")
    assert len(invitations(app, nina.email)) == 2


# --- Roles ------------------------------------------------------------------------------------


def test_an_admin_changes_a_managers_role_both_ways(app, admin, admin_client, manager):
    max_client = staff_client(app, manager)
    assert max_client.get("/admin/staff").status_code == 403

    response = act(admin_client, manager.id, "role", {"role-role": "admin"})
    assert flashed(admin_client, response, "success") == "Max Manager is now an administrator."
    assert reload(app, manager.id).role == "admin"
    assert max_client.get("/admin/staff").status_code == 200  # effective at once, same session

    response = act(admin_client, manager.id, "role", {"role-role": "admin"})
    assert response.status_code == 400
    assert "already an administrator" in field_error(response, "role-role")

    response = act(admin_client, manager.id, "role", {"role-role": "partner"})
    assert response.status_code == 400 and field_error(response, "role-role")
    assert reload(app, manager.id).role == "admin"

    # Another admin may demote an admin.
    response = act(admin_client, manager.id, "role", {"role-role": "manager"})
    assert flashed(admin_client, response, "success") == "Max Manager is now a channel sales manager."
    assert max_client.get("/admin/staff").status_code == 403

    changes = audit_events(app, "staff.role_changed")
    assert [(e.actor_email, e.target_id, e.details) for e in changes] == [
        (admin.email, str(manager.id), {"from": "manager", "to": "admin"}),
        (admin.email, str(manager.id), {"from": "admin", "to": "manager"}),
    ]


def test_the_last_admin_cannot_demote_or_disable_themselves(app, admin, admin_client):
    page = text(admin_client.get(f"/admin/staff/{admin.id}"))
    assert "This is your own account" in page
    assert "Disable the account" not in page and "Change the role" not in page

    response = act(admin_client, admin.id, "role", {"role-role": "manager"})
    message = flashed(admin_client, response, "warning")
    assert "You cannot remove the administrator role from your own account" in message
    assert "You are the last active administrator" in message

    response = act(admin_client, admin.id, "disable", {"disable-confirm": "y"})
    message = flashed(admin_client, response, "warning")
    assert "You cannot disable your own account" in message and "last active administrator" in message

    ada = reload(app, admin.id)
    assert ada.role == "admin" and ada.active
    assert admin_client.get("/admin/staff").status_code == 200  # still logged in
    assert audit_events(app, "staff.role_changed") == audit_events(app, "staff.disabled") == []


def test_with_a_second_admin_one_still_cannot_demote_oneself_but_the_other_can(app, admin, admin_client):
    second = make_staff(app, role="admin", full_name="Bea Boss")
    bea_client = staff_client(app, second)

    response = act(admin_client, admin.id, "role", {"role-role": "manager"})
    message = flashed(admin_client, response, "warning")
    assert "Ask another administrator to do it" in message and "last" not in message

    response = act(bea_client, admin.id, "role", {"role-role": "manager"})
    assert flashed(bea_client, response, "success") == "Ada Admin is now a channel sales manager."
    # Bea is now the last admin: her own demotion and disabling are refused with the reason.
    response = act(bea_client, second.id, "disable", {"disable-confirm": "y"})
    assert "last active administrator" in flashed(bea_client, response, "warning")


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    """Both requests passed the console's admin check; the locked count lets only one of them through."""
    ada = make_staff(app, role="admin")
    bea = make_staff(app, role="admin")
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def demote(actor_id: int, target_id: int) -> None:
        barrier.wait(timeout=10)
        with app.app_context():
            try:
                change_role(_db.session.get(User, target_id), "manager", by=_db.session.get(User, actor_id))
            except AccountError as error:
                outcomes[actor_id] = f"refused: {error}"
            else:
                outcomes[actor_id] = "done"
            finally:
                _db.session.remove()

    threads = [
        threading.Thread(target=demote, args=(ada.id, bea.id)),
        threading.Thread(target=demote, args=(bea.id, ada.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcome.split(":")[0] for outcome in outcomes.values()) == ["done", "refused"], outcomes
    with app.app_context():
        roles = sorted(_db.session.scalars(select(User.role).where(User.id.in_([ada.id, bea.id]))))
    assert roles == ["admin", "manager"]


# --- Disabling and enabling -------------------------------------------------------------------


def test_disabling_a_manager_ends_their_sessions_and_says_what_needs_a_new_manager(app, admin, admin_client, manager):
    with app.app_context():
        max_user = _db.session.get(User, manager.id)
        make_partner("Acme", manager=max_user)
        make_partner("Globex", manager=max_user)
    open_application(app, manager.id, admin.id)
    max_client = staff_client(app, manager)

    page = text(admin_client.get(f"/admin/staff/{manager.id}"))
    assert "They manage 2 partners and 1 open application" in page
    assert "Acme" in page and "Globex" in page and "Northwind 1" in page

    response = act(admin_client, manager.id, "disable", {})
    assert response.status_code == 400
    assert field_error(response, "disable-confirm") == "Tick the box to confirm."
    assert reload(app, manager.id).active

    response = act(admin_client, manager.id, "disable", {"disable-confirm": "y"})
    message = flashed(admin_client, response, "success")
    assert "Max Manager's account is disabled and all their sessions have ended." in message
    assert "2 partners and 1 open application still name them as channel sales manager" in message
    assert not reload(app, manager.id).active
    assert "Disabled" in text(admin_client.get("/admin/staff"))

    # Their open browser is logged out on its next request, and they cannot log in again.
    response = max_client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert login(app.test_client(), manager.email, totp_secret=manager.secret).status_code == 401

    response = act(admin_client, manager.id, "disable", {"disable-confirm": "y"})
    assert "already disabled" in flashed(admin_client, response, "warning")

    response = act(admin_client, manager.id, "enable")
    assert "enabled again" in flashed(admin_client, response, "success")
    assert reload(app, manager.id).active
    assert login(app.test_client(), manager.email).headers["Location"] == "/login/two-factor"  # password accepted

    [disabled] = audit_events(app, "staff.disabled")
    assert disabled.actor_email == admin.email and disabled.target_id == str(manager.id)
    assert disabled.details == {"partners": 2, "open_applications": 1}
    for action in ("user.disabled", "user.enabled", "staff.enabled"):
        [event] = audit_events(app, action)
        assert event.actor_email == admin.email and event.target_id == str(manager.id)


def test_disabling_a_manager_without_partners_says_nothing_about_a_handover(app, admin_client, manager):
    response = act(admin_client, manager.id, "disable", {"disable-confirm": "y"})
    message = flashed(admin_client, response, "success")
    assert message == "Max Manager's account is disabled and all their sessions have ended."


# --- Two-factor reset -------------------------------------------------------------------------


def test_resetting_two_factor_ends_sessions_and_leads_to_the_setup_at_next_login(app, admin, admin_client):
    with app.app_context():
        email = StaffFactory(full_name="Lou Lost").email
    lou_client = app.test_client()
    login(lou_client, email)
    setup_two_factor(lou_client)
    assert lou_client.get("/admin/").status_code == 200
    lou = user_by_email(app, email)

    response = act(admin_client, lou.id, "two-factor/reset", {})
    assert response.status_code == 400
    assert field_error(response, "reset-confirm") == "Tick the box to confirm."
    assert reload(app, lou.id).two_factor_enabled

    response = act(admin_client, lou.id, "two-factor/reset", {"reset-confirm": "y"})
    assert "Two-factor authentication of Lou Lost is reset" in flashed(admin_client, response, "success")
    lou = reload(app, lou.id)
    assert lou.totp_secret is None and lou.totp_enabled_at is None and lou.totp_last_step is None
    with app.app_context():
        assert (
            _db.session.scalar(select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == lou.id))
            == 0
        )

    assert lou_client.get("/admin/").status_code == 302  # the old session ended
    fresh = app.test_client()
    response = login(fresh, email, DEFAULT_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor"
    assert fresh.get("/admin/").headers["Location"] == "/account/two-factor"
    setup_two_factor(fresh)
    assert fresh.get("/admin/").status_code == 200

    [event] = audit_events(app, "staff.two_factor_reset")
    assert event.actor_email == admin.email and event.target_id == str(lou.id)

    response = act(admin_client, lou.id, "two-factor/reset", {"reset-confirm": "y"})
    assert response.status_code == 303  # on again after the new setup, so it can be reset again
    response = act(admin_client, lou.id, "two-factor/reset", {"reset-confirm": "y"})
    assert "nothing to reset" in flashed(admin_client, response, "warning")


def test_an_admin_cannot_reset_their_own_two_factor(app, admin, admin_client):
    response = act(admin_client, admin.id, "two-factor/reset", {"reset-confirm": "y"})
    assert "You cannot reset your own two-factor authentication" in flashed(admin_client, response, "warning")
    assert reload(app, admin.id).two_factor_enabled
    assert admin_client.get("/admin/staff").status_code == 200


# --- Who may see what -------------------------------------------------------------------------


ACTIONS = ("role", "disable", "enable", "two-factor/reset", "invitation")


def test_a_partner_users_id_answers_404_and_partners_are_never_listed(app, admin_client):
    with app.app_context():
        partner_id = UserFactory(email="olivia@acme.example", full_name="Olivia Owner").id
    assert admin_client.get(f"/admin/staff/{partner_id}").status_code == 404
    assert admin_client.get("/admin/staff/999999").status_code == 404
    token = csrf_token(admin_client.get("/admin/staff").get_data(as_text=True))
    data = {"csrf_token": token, "role-role": "admin", "disable-confirm": "y", "reset-confirm": "y"}
    for action in ACTIONS:
        assert admin_client.post(f"/admin/staff/{partner_id}/{action}", data=data).status_code == 404, action
    assert reload(app, partner_id).role == "partner" and reload(app, partner_id).active

    listing = text(admin_client.get("/admin/staff"))
    assert "Ada Admin" in listing and "Olivia" not in listing
    assert "No staff account matches" in text(admin_client.get("/admin/staff?q=olivia"))


def test_a_manager_gets_403_on_every_staff_page(app, admin, manager):
    client = staff_client(app, manager)
    assert client.get("/admin/staff").status_code == 403
    assert client.get(f"/admin/staff/{admin.id}").status_code == 403
    assert client.get(f"/admin/staff/{manager.id}").status_code == 403
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/admin/staff/invite",
        data={"csrf_token": token, "email": "sneaky@cloudcodes.example", "full_name": "Sneaky", "role": "admin"},
    )
    assert response.status_code == 403
    data = {"csrf_token": token, "role-role": "admin", "disable-confirm": "y", "reset-confirm": "y"}
    for target in (admin.id, manager.id):
        for action in ACTIONS:
            assert client.post(f"/admin/staff/{target}/{action}", data=data).status_code == 403, action
    assert reload(app, manager.id).role == "manager" and reload(app, admin.id).active
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email == "sneaky@cloudcodes.example")) is None
        assert (
            _db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action.startswith("staff."))
            )
            == 0
        )


def test_visitors_are_sent_to_the_login(client, admin):
    response = client.get("/admin/staff")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/admin/staff")


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_state_searches_and_pages(app, admin, admin_client, count_queries):
    with app.app_context():
        for n in range(30):
            StaffFactory(full_name=f"Person {n:02d}", email=f"person{n:02d}@cloudcodes.example")
        StaffFactory(full_name="Zoe Pending", email="zoe@cloudcodes.example", password_hash=None)
        StaffFactory(full_name="Zack Gone", email="zack@cloudcodes.example", active=False)

    first = admin_client.get("/admin/staff")
    page = text(first)
    assert "33 staff accounts, by name." in page
    assert first.get_data(as_text=True).count('href="/admin/staff/') == 25
    assert "Ada Admin (you)" in page and "Administrator" in page and "Channel sales manager" in page
    second = text(admin_client.get("/admin/staff?page=2"))
    assert "Zoe Pending" in second and "Invited, no password yet" in second
    assert "Zack Gone" in second and "Disabled" in second
    assert "Never" in second  # last login

    found = text(admin_client.get("/admin/staff?q=person0"))
    assert "10 staff accounts matching “person0”" in found and "Person 07" in found and "Person 12" not in found
    assert "1 staff account matching “pending”" in text(admin_client.get("/admin/staff?q=pending"))

    with count_queries() as small:
        admin_client.get("/admin/staff?q=zoe")
    with count_queries() as full:
        admin_client.get("/admin/staff")
    assert full.count == small.count  # one page costs the same whatever it shows


def test_an_invitation_sent_before_an_account_was_disabled_stays_dead_after_enabling(app):
    from cloudcodes.admin.services.staff import invite_staff
    from cloudcodes.auth.models import Role
    from cloudcodes.auth.services import find_user, set_active

    with app.app_context():
        admin = find_user(make_staff(app, role="admin").email)
        invite_staff("new.manager@cloudcodes.example", "New Manager", Role.MANAGER, by=admin)
        message = _db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        path = re.search(r"(/reset-password/\S+)", message.text_body).group(1)
        invited = find_user("new.manager@cloudcodes.example")
        set_active(invited, False, by=admin)
        set_active(invited, True, by=admin)
        _db.session.commit()
    assert app.test_client().get(path).status_code == 410
