"""The partner's team page: owners invite, resend, withdraw, change roles and remove; everyone reads.

Driven through the pages and forms, on both databases; the last-owner race on PostgreSQL with real
threads released together by a barrier.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.partners.models import MemberRole, Partner, PartnerMembership
from cloudcodes.partners.services import add_member
from cloudcodes.partners.team import change_role, remove_member
from cloudcodes.qualification.services import facts_by_partner
from cloudcodes.services import ServiceError
from tests import factories
from tests.conftest import make_test_app
from tests.factories import UserFactory
from tests.support.mail import run_mail_job
from tests.support.web import csrf_token, login

OWNER = "olga@alpha.example"
SALES = "sam@alpha.example"
TECHNICAL = "theo@alpha.example"
NEW_PASSWORD = "a long new password for nina 2026"
TEAM = "/dashboard/team"


def text(response) -> str:
    """The page's text as a person reads it: no tags, entities turned back, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def on(year, month, day, hour=12):
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=UTC), tick=False)


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Alpha with an owner (Olga), a sales member (Sam) and a technical one (Theo); Beta, another partner."""
    with app.app_context():
        partner = factories.make_partner("Alpha", owner_email=OWNER)
        partner.memberships[0].user.full_name = "Olga Owner"
        sam = add_member(partner, UserFactory(email=SALES, full_name="Sam Sales"), MemberRole.SALES)
        theo = add_member(partner, UserFactory(email=TECHNICAL, full_name="Theo Tech"), MemberRole.TECHNICAL)
        beta = factories.make_partner("Beta", owner_email="bob@beta.example")
        _db.session.commit()
        return SimpleNamespace(
            partner=partner.id,
            olga=partner.memberships[0].id,
            sam=sam.id,
            theo=theo.id,
            beta_owner=beta.memberships[0].id,
        )


def logged_in(app, email: str, password: str = factories.DEFAULT_PASSWORD):
    client = app.test_client()
    response = login(client, email, password)
    assert response.status_code == 303, text(response)
    return client


def post(client, path: str, prefix: str, **fields):
    token = csrf_token(client.get("/account").get_data(as_text=True))
    data = {f"{prefix}-csrf_token": token, **{f"{prefix}-{key}": value for key, value in fields.items()}}
    return client.post(path, data=data)


def invite(client, email: str, full_name: str = "Nina New", role: str = "sales"):
    return post(client, f"{TEAM}/invitations", "invite", email=email, full_name=full_name, role=role)


def membership_id(app, email: str) -> int | None:
    with app.app_context():
        return _db.session.scalar(select(PartnerMembership.id).join(User).where(User.email == email))


def invitation_path(app, email: str) -> str:
    """The path of the latest invitation link e-mailed to ``email``."""
    with app.app_context():
        message = _db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == email, OutboxMessage.template == "member_invitation")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None, f"no invitation to {email}"
        return re.search(r"https?://[^/\s]+(/reset-password/\S+)", message.text_body).group(1)


def accept(app, path: str, password: str = NEW_PASSWORD):
    """Open the invitation link in a fresh browser and choose a password; returns the logged-in client."""
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200, text(page)
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "new_password": password,
            "confirm_password": password,
        },
    )
    assert response.status_code == 303, text(response)
    return client


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        _db.session.expunge_all()
        return rows


# --- Reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", [SALES, TECHNICAL], ids=["sales", "technical"])
def test_every_member_reads_the_team_but_only_owners_see_the_forms(app, world, email):
    with app.app_context():
        _db.session.get(PartnerMembership, world.sam).sales_training_completed_on = date(2026, 3, 2)
        _db.session.commit()
    page = logged_in(app, email).get(TEAM)
    assert page.status_code == 200
    body = text(page)
    assert "Olga Owner" in body and "Sam Sales" in body and "Theo Tech" in body
    assert "Completed on 2 March 2026" in body and "Not yet" in body
    assert "Invite a member" not in body and "Remove" not in body and "Change the role" not in body
    assert "bob@beta.example" not in body  # another partner's member
    overview = logged_in(app, email).get("/dashboard/").get_data(as_text=True)
    assert 'href="/dashboard/team"' in overview

    owner_page = text(logged_in(app, OWNER).get(TEAM))
    assert "Invite a member" in owner_page and "Change the role" in owner_page


@pytest.mark.parametrize("email", [SALES, TECHNICAL], ids=["sales", "technical"])
def test_a_non_owners_team_actions_are_404_and_change_nothing(app, world, email):
    client = logged_in(app, email)
    answers = [
        invite(client, "nina@alpha.example").status_code,
        post(client, f"{TEAM}/{world.theo}/role", f"role-{world.theo}", role="owner").status_code,
        post(client, f"{TEAM}/{world.olga}/remove", f"remove-{world.olga}", confirm="y").status_code,
        post(client, f"{TEAM}/{world.olga}/resend", f"resend-{world.olga}").status_code,
        post(client, f"{TEAM}/{world.olga}/withdraw", f"withdraw-{world.olga}", confirm="y").status_code,
    ]
    assert answers == [404] * 5
    assert membership_id(app, "nina@alpha.example") is None
    with app.app_context():
        assert _db.session.get(PartnerMembership, world.theo).role == MemberRole.TECHNICAL
        assert _db.session.get(PartnerMembership, world.olga) is not None


def test_a_user_without_a_partner_is_told_so_and_cannot_act(app, world):
    with app.app_context():
        UserFactory(email="loner@example.com")
    page = logged_in(app, "loner@example.com").get(TEAM)
    assert page.status_code == 200 and "not part of a partner organisation yet" in text(page)
    assert invite(logged_in(app, "loner@example.com"), "nina@alpha.example").status_code == 404


def test_another_partners_member_is_not_found(app, world):
    client = logged_in(app, OWNER)
    beta = world.beta_owner
    assert post(client, f"{TEAM}/{beta}/remove", f"remove-{beta}", confirm="y").status_code == 404
    assert post(client, f"{TEAM}/{beta}/role", f"role-{beta}", role="sales").status_code == 404
    assert post(client, f"{TEAM}/999999/remove", "remove-999999", confirm="y").status_code == 404


def test_the_team_page_queries_do_not_grow_with_the_team(app, world, count_queries):
    owner = logged_in(app, OWNER)
    assert invite(owner, "pia@alpha.example", "Pia Pending").status_code == 303
    with count_queries() as few:
        assert owner.get(TEAM).status_code == 200
    for number in range(6):
        assert invite(owner, f"new{number}@alpha.example", f"New {number}", "technical").status_code == 303
    with app.app_context():
        partner = _db.session.get(Partner, world.partner)
        for number in range(4):
            add_member(partner, UserFactory(email=f"active{number}@alpha.example"), MemberRole.SALES)
        _db.session.commit()
    with count_queries() as many:
        assert owner.get(TEAM).status_code == 200
    assert few.count == many.count, many.statements
    assert many.count <= 10, many.statements


# --- Invitations -------------------------------------------------------------------------------


def test_an_owner_invites_a_sales_member_who_sets_a_password_and_sees_what_sales_may(app, world):
    owner = logged_in(app, OWNER)
    response = invite(owner, "  Nina@Alpha.Example ", "Nina  New", "sales")
    assert response.status_code == 303
    page = text(owner.get(response.headers["Location"]))
    assert "Nina New is invited as a sales member." in page and "nina@alpha.example a link" in page
    assert "Invitation pending" in page and "the link works until" in page

    (message,) = [m for m in run_mail_job(app) if m["To"].addresses[0].addr_spec == "nina@alpha.example"]
    assert "Olga Owner" in message["Subject"] and "Alpha" in message["Subject"]
    assert message["Reply-To"].addresses[0].addr_spec == OWNER
    body = message.get_body(("plain",)).get_content()
    assert "/reset-password/" in body and "as a sales member" in body
    assert message.get_body(("html",)) is not None

    nina = accept(app, invitation_path(app, "nina@alpha.example"))
    overview = nina.get("/dashboard/")
    assert overview.status_code == 200 and "Welcome, Nina New" in text(overview)
    assert nina.get("/dashboard/earnings").status_code == 200  # sales sees money
    team = text(nina.get(TEAM))
    assert "Nina New (you)" in team and "Invite a member" not in team
    assert invite(nina, "other@alpha.example").status_code == 404
    assert "Active" in text(owner.get(TEAM))

    (event,) = events(app, "member.invited")
    assert event.actor_email == OWNER and event.target_type == "users"
    assert event.details["before"] is None
    assert event.details["after"]["email"] == "nina@alpha.example" and event.details["after"]["role"] == "sales"
    assert event.details["partner"] == "Alpha"


def test_an_invited_technical_member_sees_no_money(app, world):
    owner = logged_in(app, OWNER)
    assert invite(owner, "tina@alpha.example", "Tina Tech", "technical").status_code == 303
    tina = accept(app, invitation_path(app, "tina@alpha.example"))
    assert tina.get("/dashboard/referrals").status_code == 200
    assert tina.get("/dashboard/earnings").status_code == 404
    assert tina.get(TEAM).status_code == 200


def test_resending_makes_the_earlier_link_stop_working(app, world):
    owner = logged_in(app, OWNER)
    invite(owner, "nina@alpha.example")
    first = invitation_path(app, "nina@alpha.example")
    nina = membership_id(app, "nina@alpha.example")
    response = post(owner, f"{TEAM}/{nina}/resend", f"resend-{nina}")
    assert response.status_code == 303
    assert "the link sent before no longer works" in text(owner.get(response.headers["Location"]))
    second = invitation_path(app, "nina@alpha.example")
    assert second != first
    assert app.test_client().get(first).status_code == 410
    accept(app, second)
    (event,) = events(app, "member.invitation_resent")
    assert event.details["before"]["status"] == "pending" and event.details["after"]["status"] == "pending"
    # Accepted now: nothing to resend any more.
    again = post(owner, f"{TEAM}/{nina}/resend", f"resend-{nina}")
    assert again.status_code == 303
    assert "has already accepted the invitation" in text(owner.get(TEAM))


def test_withdrawing_asks_for_confirmation_and_the_link_stops_working(app, world):
    owner = logged_in(app, OWNER)
    invite(owner, "nina@alpha.example")
    link = invitation_path(app, "nina@alpha.example")
    nina = membership_id(app, "nina@alpha.example")
    unconfirmed = post(owner, f"{TEAM}/{nina}/withdraw", f"withdraw-{nina}")
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm that you withdraw the invitation." in text(unconfirmed)
    response = post(owner, f"{TEAM}/{nina}/withdraw", f"withdraw-{nina}", confirm="y")
    assert response.status_code == 303
    page = text(owner.get(TEAM))
    assert "The invitation of Nina New is withdrawn" in page and "nina@alpha.example" not in page.split("withdrawn")[1]
    assert app.test_client().get(link).status_code == 410
    assert membership_id(app, "nina@alpha.example") is None
    (event,) = events(app, "member.invitation_withdrawn")
    assert event.details["before"]["email"] == "nina@alpha.example" and event.details["after"] is None
    # The address can be invited again; the new link works.
    assert invite(owner, "nina@alpha.example", "Nina Again").status_code == 303
    accept(app, invitation_path(app, "nina@alpha.example"))


@pytest.mark.parametrize(
    ("email", "full_name", "role", "message"),
    [
        ("not-an-address", "Nina New", "sales", "Enter a valid e-mail address"),
        ("", "Nina New", "sales", "Enter their work e-mail address."),
        ("nina@alpha.example", "   ", "sales", "Enter their full name."),
        ("nina@alpha.example", "Nina New", "boss", "Choose owner, sales or technical."),
        (SALES, "Sam Again", "sales", "Sam Sales is already on your team."),
        ("bob@beta.example", "Bob", "sales", "An account with this e-mail address already exists"),
        ("staff0@cloudcodes.example", "Staff", "sales", "An account with this e-mail address already exists"),
    ],
    ids=["bad-address", "no-address", "no-name", "bad-role", "on-the-team", "other-partner", "staff"],
)
def test_a_refused_invitation_says_why_on_the_form(app, world, email, full_name, role, message):
    with app.app_context():
        factories.StaffFactory(email="staff0@cloudcodes.example")
    owner = logged_in(app, OWNER)
    response = invite(owner, email, full_name, role)
    assert response.status_code == 400
    assert message in text(response)
    assert events(app, "member.invited") == []


def test_a_wrong_address_and_a_missing_name_are_both_named_in_one_round(app, world):
    owner = logged_in(app, OWNER)
    shown = text(invite(owner, "not an email", ""))
    assert "Enter a valid e-mail address" in shown and "Enter their full name." in shown
    assert events(app, "member.invited") == []


HOSTILE = [
    "\x00",
    "a\x00b",
    "\u202eelgoog.com",
    "line\u2028break",
    "Ana\r\nBcc: victim@example.com",
    "' OR 1=1; --",
    "<script>alert(1)</script>",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢@𝔢𝔵𝔞𝔪𝔭𝔩𝔢.𝔠𝔬𝔪",
    "ünïcödé@bücher.example",
    "x" * 300,
    "-1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_in_the_team_forms_is_answered_never_a_server_error(app, world, value):
    owner = logged_in(app, OWNER)
    for fields in ({"email": value}, {"full_name": value}, {"role": value}):
        data = {"email": "nina@alpha.example", "full_name": "Nina New", "role": "sales", **fields}
        assert invite(owner, **data).status_code in (303, 400)
    role = post(owner, f"{TEAM}/{world.theo}/role", f"role-{world.theo}", role=value)
    assert role.status_code == 400
    remove = post(owner, f"{TEAM}/{world.theo}/remove", f"remove-{world.theo}", confirm=value)
    assert remove.status_code in (303, 400)


# --- Roles ---------------------------------------------------------------------------------------


def test_changing_a_role_changes_what_the_member_opens_and_is_audited(app, world):
    theo = logged_in(app, TECHNICAL)
    assert theo.get("/dashboard/earnings").status_code == 404
    owner = logged_in(app, OWNER)
    response = post(owner, f"{TEAM}/{world.theo}/role", f"role-{world.theo}", role="sales")
    assert response.status_code == 303
    assert "Theo Tech is now a sales member: they see customer domains" in text(owner.get(response.headers["Location"]))
    assert theo.get("/dashboard/earnings").status_code == 200
    (event,) = events(app, "member.role_changed")
    assert event.details["before"]["role"] == "technical" and event.details["after"]["role"] == "sales"

    same = post(owner, f"{TEAM}/{world.theo}/role", f"role-{world.theo}", role="sales")
    assert same.status_code == 400 and "Theo Tech already has the sales role." in text(same)
    unknown = post(owner, f"{TEAM}/{world.theo}/role", f"role-{world.theo}", role="boss")
    assert unknown.status_code == 400 and "Choose owner, sales or technical." in text(unknown)


def test_the_last_active_owner_is_never_demoted_nor_removed(app, world):
    owner = logged_in(app, OWNER)
    # An owner whose invitation is pending does not count.
    assert invite(owner, "pat@alpha.example", "Pat Pending", "owner").status_code == 303
    demote = post(owner, f"{TEAM}/{world.olga}/role", f"role-{world.olga}", role="sales")
    assert demote.status_code == 400
    assert "You are the last active owner of Alpha" in text(demote) and "Make another member an owner first." in text(
        demote
    )
    remove = post(owner, f"{TEAM}/{world.olga}/remove", f"remove-{world.olga}", confirm="y")
    assert remove.status_code == 303  # no field can fix it: a warning on the list
    assert "Make another member an owner first." in text(owner.get(TEAM))
    with app.app_context():
        assert _db.session.get(PartnerMembership, world.olga).role == MemberRole.OWNER
    # With a second active owner, Olga may step down.
    assert post(owner, f"{TEAM}/{world.sam}/role", f"role-{world.sam}", role="owner").status_code == 303
    assert post(owner, f"{TEAM}/{world.olga}/role", f"role-{world.olga}", role="sales").status_code == 303
    assert owner.get(TEAM).status_code == 200 and "Invite a member" not in text(owner.get(TEAM))
    sam = logged_in(app, SALES)
    refused = post(sam, f"{TEAM}/{world.sam}/remove", f"remove-{world.sam}", confirm="y")
    assert refused.status_code == 303 and "You are the last active owner" in text(sam.get(TEAM))


# --- Removal -------------------------------------------------------------------------------------


def test_a_removed_member_loses_access_at_once_and_can_be_invited_again(app, world):
    sam = logged_in(app, SALES)
    assert sam.get("/dashboard/earnings").status_code == 200
    owner = logged_in(app, OWNER)
    unconfirmed = post(owner, f"{TEAM}/{world.sam}/remove", f"remove-{world.sam}")
    assert unconfirmed.status_code == 400 and "Tick the box to confirm that you remove this member." in text(
        unconfirmed
    )
    response = post(owner, f"{TEAM}/{world.sam}/remove", f"remove-{world.sam}", confirm="y")
    assert response.status_code == 303
    assert "Sam Sales is removed from the team" in text(owner.get(TEAM))

    gone = sam.get("/dashboard/earnings")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert app.test_client().get(TEAM).status_code == 302
    assert login(app.test_client(), SALES).status_code != 303  # the password no longer logs in
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == SALES))
        assert user.active is False
    assert membership_id(app, SALES) is None
    (event,) = events(app, "member.removed")
    assert event.details["before"]["email"] == SALES and event.details["before"]["role"] == "sales"
    assert event.details["after"] is None

    # Invited again (here, as technical): a fresh invitation, the old password does not work.
    assert invite(owner, SALES, "Sam Back", "technical").status_code == 303
    assert login(app.test_client(), SALES).status_code != 303
    back = accept(app, invitation_path(app, SALES))
    assert back.get("/dashboard/referrals").status_code == 200 and back.get("/dashboard/earnings").status_code == 404


def test_an_owner_may_leave_when_another_owner_remains(app, world):
    owner = logged_in(app, OWNER)
    assert post(owner, f"{TEAM}/{world.sam}/role", f"role-{world.sam}", role="owner").status_code == 303
    response = post(owner, f"{TEAM}/{world.olga}/remove", f"remove-{world.olga}", confirm="y")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert owner.get(TEAM).status_code == 302


# --- Trained sales staff counts the judged year's trainings of active members ---------------------


def test_trained_sales_staff_counts_trainings_of_the_judged_year_and_active_members(app, world):
    with app.app_context():
        nina = add_member(
            _db.session.get(Partner, world.partner), UserFactory(email="nina@alpha.example"), MemberRole.SALES
        )
        _db.session.get(PartnerMembership, world.olga).sales_training_completed_on = date(2025, 12, 20)
        _db.session.get(PartnerMembership, world.sam).sales_training_completed_on = date(2026, 3, 1)
        _db.session.get(PartnerMembership, world.theo).sales_training_completed_on = date(2026, 4, 1)
        nina.sales_training_completed_on = date(2026, 5, 1)
        nina.user.active = False  # removed, or disabled
        _db.session.commit()

        def trained(start: date, end: date) -> int:
            return facts_by_partner([world.partner], start, end)[world.partner].trained_sales_staff

        assert trained(date(2026, 1, 1), date(2026, 12, 31)) == 2  # Sam and Theo; not last year's, not Nina
        assert trained(date(2026, 1, 1), date(2026, 3, 15)) == 1  # up to the period's end
        assert trained(date(2025, 1, 1), date(2025, 12, 31)) == 1  # Olga's counts for 2025


# --- The last-owner race -------------------------------------------------------------------------


@pytest.fixture
def race_app(postgres_database: str) -> Iterator[Flask]:
    app = make_test_app(postgres_database)
    with app.app_context():
        partner = factories.make_partner("Alpha", owner_email=OWNER)
        second = add_member(partner, UserFactory(email=SALES), MemberRole.OWNER)
        _db.session.commit()
        app.config["TEST_PARTNER"] = partner.id
        app.config["TEST_OWNERS"] = (partner.memberships[0].id, second.id)
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("action", ["remove", "demote"])
def test_two_owners_removing_or_demoting_each_other_at_once_leave_one_owner(race_app, action):
    app = race_app
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []
    failures: list[BaseException] = []
    first, second = app.config["TEST_OWNERS"]

    def act(mine: int, theirs: int) -> None:
        with app.app_context():
            try:
                partner = _db.session.get(Partner, app.config["TEST_PARTNER"])
                me = _db.session.get(PartnerMembership, mine).user
                other = _db.session.get(PartnerMembership, theirs)
                _db.session.commit()  # no transaction held at the barrier
                barrier.wait(timeout=30)
                try:
                    if action == "remove":
                        remove_member(partner, other, by=me)
                    else:
                        change_role(partner, other, MemberRole.SALES, by=me)
                    outcomes.append(True)
                except ServiceError:
                    outcomes.append(False)
            except BaseException as error:  # noqa: BLE001 - reported below, in the test's own thread
                failures.append(error)
                barrier.abort()
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=act, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if failures:
        raise failures[0]
    assert sorted(outcomes) == [False, True]
    with app.app_context():
        owners = _db.session.scalars(
            select(PartnerMembership)
            .join(User)
            .where(PartnerMembership.role == MemberRole.OWNER, User.active.is_(True))
        ).all()
        assert len(owners) == 1
