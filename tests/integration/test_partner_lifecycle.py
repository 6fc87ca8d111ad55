"""A partner's lifecycle in the console: its manager, notes, owner e-mail corrections, "view as" and adjustments."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import LoginSession, User
from cloudcodes.billing.models import LedgerEntry, LedgerKind, PayoutStatement
from cloudcodes.billing.payouts import close_month, statement_csv
from cloudcodes.extensions import db as _db
from cloudcodes.money import Money
from cloudcodes.partners.console_models import EmailChange, PartnerNote
from cloudcodes.partners.models import MemberRole, Partner, PartnerMembership
from cloudcodes.partners.services import add_member, create_partner
from cloudcodes.web import VIEWING_AS
from tests.factories import UserFactory
from tests.support.mail import run_mail_job
from tests.support.web import csrf_token, login, make_staff, staff_client

OWNER_EMAIL = "olivia@acme-cloud.example"
NEW_EMAIL = "olivia.owner@acme-cloud.example"


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Max manages Acme Cloud (an owner and a sales member) and Beta Net; Oscar manages Bravo; Nina manages none."""
    max_ = make_staff(app, role="manager", full_name="Max Manager", email="max@cloudcodes.example")
    oscar = make_staff(app, role="manager", full_name="Oscar Other", email="oscar@cloudcodes.example")
    nina = make_staff(app, role="manager", full_name="Nina New", email="nina@cloudcodes.example")
    admin = make_staff(app, role="admin", full_name="Ada Admin", email="ada@cloudcodes.example")
    with app.app_context():

        def partner(name: str, manager) -> Partner:
            return create_partner(
                name=name,
                website=f"https://{name.lower().replace(' ', '-')}.example",
                country="France",
                level="reseller",
                channel_manager=_db.session.get(User, manager.id),
                effective_from=clock.today() - timedelta(days=30),
            )

        acme = partner("Acme Cloud", max_)
        beta = partner("Beta Net", max_)
        bravo = partner("Bravo", oscar)
        owner = UserFactory(email=OWNER_EMAIL, full_name="Olivia Owner")
        add_member(acme, owner, MemberRole.OWNER)
        add_member(acme, UserFactory(email="sam@acme-cloud.example", full_name="Sam Sales"), MemberRole.SALES)
        add_member(beta, UserFactory(email="bea@beta.example", full_name="Bea Owner"), MemberRole.OWNER)
        add_member(bravo, UserFactory(email="bob@bravo.example", full_name="Bob Owner"), MemberRole.OWNER)
        _db.session.commit()
        owner_membership = _db.session.scalar(select(PartnerMembership).where(PartnerMembership.user_id == owner.id))
        return SimpleNamespace(
            acme=acme.id,
            beta=beta.id,
            bravo=bravo.id,
            owner=owner.id,
            owner_membership=owner_membership.id,
            manager=max_,
            oscar=oscar,
            nina=nina,
            admin=admin,
        )


def detail(partner_id: int) -> str:
    return f"/admin/partners/{partner_id}"


def post(client, page: str, path: str, data: dict, prefix: str):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={f"{prefix}-csrf_token": token, **data})


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def manager_of(app, partner_id: int) -> int | None:
    with app.app_context():
        return _db.session.get(Partner, partner_id).channel_manager_id


# --- The channel manager ----------------------------------------------------------------------


def test_the_manager_hands_a_partner_to_another_manager_and_its_owners_are_told(app, world):
    client = staff_client(app, world.manager)
    response = post(
        client, detail(world.acme), f"{detail(world.acme)}/manager", {"manager-manager": world.nina.id}, "manager"
    )
    assert response.status_code == 303
    assert "Nina New is now Acme Cloud's channel sales manager" in text(client.get(detail(world.acme)))
    assert manager_of(app, world.acme) == world.nina.id
    [event] = events(app, "partner.manager_changed")
    assert event.actor_id == world.manager.id and event.target_id == str(world.acme)
    assert event.details["before"] == {"manager_id": world.manager.id, "manager": world.manager.email}
    assert event.details["after"] == {"manager_id": world.nina.id, "manager": world.nina.email}
    sent = run_mail_job(app)
    assert [m["To"] for m in sent] == [f"Olivia Owner <{OWNER_EMAIL}>"]
    assert "Nina New" in sent[0]["Subject"] or "Nina New" in sent[0].get_body(("plain",)).get_content()
    # Max no longer manages it: acting on it is now refused.
    refused = post(client, detail(world.acme), f"{detail(world.acme)}/notes", {"note-body": "Hello"}, "note")
    assert refused.status_code == 403


def test_changing_the_manager_is_refused_for_others_and_for_bad_choices(app, world):
    oscar = staff_client(app, world.oscar)
    refused = post(
        oscar, detail(world.acme), f"{detail(world.acme)}/manager", {"manager-manager": world.oscar.id}, "manager"
    )
    assert refused.status_code == 403
    max_ = staff_client(app, world.manager)
    for choice, message in (
        (world.admin.id, "Choose an active channel sales manager."),
        ("0", "Choose an active channel sales manager."),
        (world.manager.id, "Max Manager already manages Acme Cloud"),
        ("not-a-number", "Choose an active channel sales manager."),
    ):
        response = post(
            max_, detail(world.acme), f"{detail(world.acme)}/manager", {"manager-manager": choice}, "manager"
        )
        assert response.status_code == 400, choice
        assert message in text(response), choice
    assert manager_of(app, world.acme) == world.manager.id
    assert events(app, "partner.manager_changed") == []


def test_an_admin_moves_every_partner_of_a_manager_at_once(app, world):
    admin = staff_client(app, world.admin)
    page = f"/admin/staff/{world.manager.id}"
    assert "Move all 2 partners to another manager" in text(admin.get(page))
    unconfirmed = post(admin, page, f"{page}/partners/move", {"move-manager": world.nina.id}, "move")
    assert unconfirmed.status_code == 400 and "Tick the box" in text(unconfirmed)
    response = post(admin, page, f"{page}/partners/move", {"move-manager": world.nina.id, "move-confirm": "y"}, "move")
    assert response.status_code == 303
    assert "2 partners moved from Max Manager" in text(admin.get(page))
    assert (manager_of(app, world.acme), manager_of(app, world.beta), manager_of(app, world.bravo)) == (
        world.nina.id,
        world.nina.id,
        world.oscar.id,
    )
    moved = events(app, "partner.manager_changed")
    assert sorted(e.target_id for e in moved) == sorted([str(world.acme), str(world.beta)])
    assert all(e.details["before"]["manager_id"] == world.manager.id for e in moved)
    assert all(e.details["after"]["manager_id"] == world.nina.id for e in moved)
    assert sorted(m["To"] for m in run_mail_job(app)) == sorted(
        [f"Olivia Owner <{OWNER_EMAIL}>", "Bea Owner <bea@beta.example>"]
    )
    # A manager may not use it (the staff pages are for administrators).
    max_ = staff_client(app, world.manager)
    token = csrf_token(max_.get(detail(world.acme)).get_data(as_text=True))
    data = {"move-csrf_token": token, "move-manager": world.manager.id, "move-confirm": "y"}
    assert max_.post(f"/admin/staff/{world.oscar.id}/partners/move", data=data).status_code == 403
    assert manager_of(app, world.bravo) == world.oscar.id


# --- Notes ------------------------------------------------------------------------------------


def test_notes_are_dated_newest_first_audited_and_never_shown_to_the_partner(app, world):
    client = staff_client(app, world.manager)
    assert (
        post(client, detail(world.acme), f"{detail(world.acme)}/notes", {"note-body": "First call."}, "note")
    ).status_code == 303
    with app.app_context():
        _db.session.scalar(select(PartnerNote)).created_at = clock.now() - timedelta(days=2)
        _db.session.commit()
    assert (
        post(client, detail(world.acme), f"{detail(world.acme)}/notes", {"note-body": "Second call."}, "note")
    ).status_code == 303
    page = client.get(detail(world.acme)).get_data(as_text=True)
    assert page.index("Second call.") < page.index("First call.")
    assert "Max Manager" in page
    empty = post(client, detail(world.acme), f"{detail(world.acme)}/notes", {"note-body": "  "}, "note")
    assert empty.status_code == 400 and "Write the note first." in text(empty)
    oscar = staff_client(app, world.oscar)
    assert "Second call." in text(oscar.get(detail(world.acme)))  # every staff member may read
    assert post(oscar, detail(world.acme), f"{detail(world.acme)}/notes", {"note-body": "x"}, "note").status_code == 403
    assert len(events(app, "partner.note_added")) == 2
    owner = app.test_client()
    login(owner, OWNER_EMAIL)
    for path in ("/dashboard/", "/dashboard/earnings", "/dashboard/referrals"):
        assert "First call." not in owner.get(path).get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(func.count(PartnerNote.id))) == 2


# --- Correcting the owner's e-mail ------------------------------------------------------------


def ask_email_change(client, world, email: str = NEW_EMAIL):
    return post(
        client,
        detail(world.acme),
        f"{detail(world.acme)}/members/{world.owner_membership}/email",
        {f"email-{world.owner_membership}-email": email},
        f"email-{world.owner_membership}",
    )


def confirmation_link(app) -> str:
    [message] = [m for m in run_mail_job(app) if NEW_EMAIL in m["To"]]
    body = message.get_body(("plain",)).get_content()
    return re.search(r"http://[^\s]+/account/confirm-email/[^\s]+", body).group(0).split("localhost", 1)[-1]


def test_the_owners_address_changes_only_once_the_new_address_confirms(app, world):
    owner = app.test_client()
    assert login(owner, OWNER_EMAIL).status_code == 303
    manager = staff_client(app, world.manager)
    assert ask_email_change(manager, world).status_code == 303
    page = text(manager.get(detail(world.acme)))
    assert f"Waiting for confirmation: {NEW_EMAIL}" in page
    with app.app_context():
        assert _db.session.get(User, world.owner).email == OWNER_EMAIL
        change = _db.session.scalar(select(EmailChange))
        assert len(change.token_hash) == 64  # only the hash is stored
    [requested] = events(app, "user.email_change_requested")
    assert requested.details["before"] == {"email": OWNER_EMAIL}
    assert requested.details["after"] == {"email": NEW_EMAIL, "pending": True}

    link = confirmation_link(app)
    link = link[link.index("/account/") :]
    visitor = app.test_client()
    shown = visitor.get(link)
    assert shown.status_code == 200 and "Confirm your new e-mail address" in text(shown)
    confirmed = visitor.post(link, data={"csrf_token": csrf_token(shown.get_data(as_text=True))})
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/login"
    with app.app_context():
        assert _db.session.get(User, world.owner).email == NEW_EMAIL
        assert (
            _db.session.scalar(
                select(func.count(LoginSession.id)).where(
                    LoginSession.user_id == world.owner, LoginSession.ended_at.is_(None)
                )
            )
            == 0
        )
    [changed] = events(app, "user.email_changed")
    assert changed.details["before"] == {"email": OWNER_EMAIL} and changed.details["after"] == {"email": NEW_EMAIL}
    # The old browser session is over; the old address no longer logs in, the new one does.
    assert owner.get("/dashboard/").status_code == 302
    assert login(app.test_client(), OWNER_EMAIL).status_code != 303
    assert login(app.test_client(), NEW_EMAIL).status_code == 303
    # The old address was told.
    assert [m["To"] for m in run_mail_job(app)] == [f"Olivia Owner <{OWNER_EMAIL}>"]
    # The link works once.
    again = app.test_client().get(link)
    assert again.status_code == 410 and "This link no longer works" in text(again)


def test_an_email_change_can_be_cancelled_and_bad_addresses_are_refused(app, world):
    manager = staff_client(app, world.manager)
    for address, message in (
        ("not an address", "Enter a valid e-mail address"),
        (OWNER_EMAIL, "already the member's address"),
        ("bob@bravo.example", "Another account already uses this address."),
    ):
        response = ask_email_change(manager, world, address)
        assert response.status_code == 400 and message in text(response), address
    assert ask_email_change(manager, world).status_code == 303
    link = confirmation_link(app)
    link = link[link.index("/account/") :]
    with app.app_context():
        change_id = _db.session.scalar(select(EmailChange.id))
    oscar = staff_client(app, world.oscar)
    path = f"{detail(world.acme)}/email-changes/{change_id}/cancel"
    assert post(oscar, detail(world.acme), path, {}, f"cancel-{change_id}").status_code == 403
    assert ask_email_change(oscar, world).status_code == 403
    cancelled = post(manager, detail(world.acme), path, {}, f"cancel-{change_id}")
    assert cancelled.status_code == 303
    assert "is cancelled" in text(manager.get(detail(world.acme)))
    assert app.test_client().get(link).status_code == 410
    [event] = events(app, "user.email_change_cancelled")
    assert event.details["after"] == {"email": OWNER_EMAIL}
    with app.app_context():
        assert _db.session.get(User, world.owner).email == OWNER_EMAIL


# --- View as the partner ----------------------------------------------------------------------


def start_viewing(client, partner_id: int):
    return post(client, detail(partner_id), f"{detail(partner_id)}/view-as", {}, "view-as")


def test_viewing_as_the_partner_is_read_only_bannered_and_audited(app, world):
    client = staff_client(app, world.manager)
    response = start_viewing(client, world.acme)
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/"
    [event] = events(app, "partner.viewed_as")
    assert event.actor_id == world.manager.id and event.target_id == str(world.acme)
    banner = "You are viewing Acme Cloud's dashboard as staff — read only."
    for path in ("/dashboard/", "/dashboard/earnings", "/dashboard/referrals", "/dashboard/earnings/ledger.csv"):
        page = client.get(path)
        assert page.status_code == 200, path
        if path.endswith(".csv"):
            continue
        assert banner in text(page), path
        assert "Stop viewing" in text(page)
        assert "<fieldset disabled" in page.get_data(as_text=True)
    assert "Acme Cloud" in text(client.get("/dashboard/"))
    # Every page of the dashboard, whoever added it, opens as the owner sees it, with the banner.
    pages = [
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("dashboard.") and "GET" in r.methods and not r.arguments
    ]
    assert "/dashboard/earnings" in pages
    for path in pages:
        page = client.get(path)
        assert page.status_code in (200, 404), path  # 404: a page with nothing to show yet (no tax form)
        if page.status_code == 200 and page.mimetype == "text/html":
            assert banner in text(page), path
    # Every action of the dashboard is refused, whatever the form.
    token = csrf_token(client.get("/dashboard/referrals").get_data(as_text=True))
    for path in ("/dashboard/referrals", "/dashboard/referrals/domains", "/dashboard/team/invite", "/dashboard/x"):
        assert client.post(path, data={"csrf_token": token, "domain": "new.com"}).status_code in (403, 404, 405), path
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("dashboard.") and "POST" in r.methods]
    for rule in rules:
        url = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        assert client.post(url, data={"csrf_token": token}).status_code in (403, 404), url
    # Stop viewing: back to the console, and the dashboard sends staff there again.
    stopped = client.post("/admin/view-as/stop", data={"csrf_token": token})
    assert stopped.status_code == 303 and stopped.headers["Location"] == detail(world.acme)
    assert client.get("/dashboard/earnings").status_code == 302
    assert banner not in text(client.get(detail(world.acme)))


def test_view_as_is_refused_to_another_manager_and_to_partner_users(app, world):
    oscar = staff_client(app, world.oscar)
    assert start_viewing(oscar, world.acme).status_code == 403
    assert events(app, "partner.viewed_as") == []
    # A key set by hand for someone else's partner counts for nothing.
    with oscar.session_transaction() as session:
        session[VIEWING_AS] = world.acme
    assert oscar.get("/dashboard/earnings").status_code == 302
    owner = app.test_client()
    login(owner, "bob@bravo.example")
    token = csrf_token(owner.get("/dashboard/").get_data(as_text=True))
    assert owner.post(f"{detail(world.acme)}/view-as", data={"view-as-csrf_token": token}).status_code == 404
    with owner.session_transaction() as session:
        session[VIEWING_AS] = world.acme
    page = text(owner.get("/dashboard/"))
    assert "Bravo" in page and "Acme Cloud" not in page and "viewing" not in page


def test_the_view_ends_when_the_manager_no_longer_manages_the_partner_and_at_logout(app, world):
    client = staff_client(app, world.manager)
    start_viewing(client, world.acme)
    assert client.get("/dashboard/earnings").status_code == 200
    with app.app_context():
        _db.session.get(Partner, world.acme).channel_manager_id = world.oscar.id
        _db.session.commit()
    assert client.get("/dashboard/earnings").status_code == 302
    admin = staff_client(app, world.admin)
    start_viewing(admin, world.acme)
    token = csrf_token(admin.get("/dashboard/").get_data(as_text=True))
    admin.post("/logout", data={"csrf_token": token})
    with admin.session_transaction() as session:
        assert VIEWING_AS not in session


# --- Ledger adjustments -----------------------------------------------------------------------


def adjust(client, world, amount: str, reason: str = "Goodwill for the October outage", confirm: bool = True):
    data = {"adjustment-amount": amount, "adjustment-reason": reason}
    if confirm:
        data["adjustment-confirm"] = "y"
    return post(client, detail(world.acme), f"{detail(world.acme)}/adjustments", data, "adjustment")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("NaN", "is not an amount"),
        ("0", "cannot be zero"),
        ("0.00", "cannot be zero"),
        ("1e9", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("100000.01", "at most 100,000"),
        ("-5000000", "at most 100,000"),
        ("12.345", "at most 2 decimals"),
        ("", "Enter the amount"),
    ],
)
def test_bad_adjustment_amounts_are_refused_clearly(app, world, amount, message):
    client = staff_client(app, world.manager)
    response = adjust(client, world, amount)
    assert response.status_code == 400
    assert message in text(response)
    with app.app_context():
        assert _db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_a_wrong_amount_is_named_with_the_missing_reason_in_one_round(app, world):
    shown = text(adjust(staff_client(app, world.manager), world, "NaN", reason=""))
    assert "is not an amount" in shown and "Say why" in shown


def test_an_adjustment_needs_a_reason_the_confirmation_and_the_partners_manager(app, world):
    client = staff_client(app, world.manager)
    assert "Say why" in text(adjust(client, world, "10", reason=""))
    assert "Tick the box" in text(adjust(client, world, "10", confirm=False))
    assert adjust(staff_client(app, world.oscar), world, "10").status_code == 403
    with app.app_context():
        assert _db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_an_adjustment_lands_on_the_next_statement_and_the_earnings_page(app, world):
    client = staff_client(app, world.manager)
    response = adjust(client, world, "120.50")
    assert response.status_code == 303
    assert "The adjustment of $120.50 is in the ledger" in text(client.get(detail(world.acme)))
    [event] = events(app, "ledger.adjusted")
    assert event.actor_id == world.manager.id and event.target_id == str(world.acme)
    assert event.details["after"]["amount"] == "120.50"
    assert event.details["after"]["reason"] == "Goodwill for the October outage"
    with app.app_context():
        entry = _db.session.scalar(select(LedgerEntry))
        assert entry.kind == LedgerKind.ADJUSTMENT and entry.payable
        assert entry.description == "Adjustment: Goodwill for the October outage"
        assert entry.created_by_id == world.manager.id
    owner = app.test_client()
    login(owner, OWNER_EMAIL)
    earnings = text(owner.get("/dashboard/earnings"))
    assert "Adjustment Adjustment: Goodwill for the October outage $120.50" in earnings

    month = clock.today().replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    with app.app_context(), time_machine.travel(datetime(next_month.year, next_month.month, 2, 12, tzinfo=UTC)):
        admin = _db.session.get(User, world.admin.id)
        [statement] = close_month(month, by=admin)
        assert statement.partner_id == world.acme and statement.total == Money(12050, "USD")
        assert "Adjustment: Goodwill for the October outage" in statement_csv(statement)
    admin_client = staff_client(app, world.admin)
    with app.app_context():
        statement_id = _db.session.scalar(select(PayoutStatement.id))
    assert "Adjustment: Goodwill for the October outage" in text(admin_client.get(f"/admin/payouts/{statement_id}"))


def test_a_negative_adjustment_larger_than_the_balance_carries_over(app, world):
    client = staff_client(app, world.manager)
    assert adjust(client, world, "50").status_code == 303
    assert adjust(client, world, "-80", reason="Commission paid twice in error").status_code == 303
    month = clock.today().replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    with app.app_context(), time_machine.travel(datetime(next_month.year, next_month.month, 2, 12, tzinfo=UTC)):
        assert close_month(month, by=_db.session.get(User, world.admin.id)) == []
        assert _db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.statement_id.is_(None))) == 2
    owner = app.test_client()
    login(owner, OWNER_EMAIL)
    assert "Adjustment: Commission paid twice in error" in text(owner.get("/dashboard/earnings"))


def test_the_ledger_refuses_a_zero_adjustment_by_its_constraint(app, world):
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        _db.session.add(
            LedgerEntry(
                partner_id=world.acme,
                kind=LedgerKind.ADJUSTMENT,
                payable=True,
                amount=Money(0, "USD"),
                effective_on=date.today(),
                payable_on=date.today(),
                description="Adjustment: nothing",
            )
        )
        with pytest.raises(IntegrityError):
            _db.session.commit()
        _db.session.rollback()


def test_what_only_owners_and_admins_open_is_not_shown_to_a_viewing_manager(app, world):
    from cloudcodes.partners.access import Area
    from cloudcodes.web import partner_required

    @partner_required(area=Area.COMPANY, viewed_by_admins_only=True)
    def owners_and_admins(partner):
        return f"the tax form of {partner.name}"

    app.add_url_rule("/dashboard-test/owners-and-admins", "owners_and_admins", owners_and_admins)
    manager = staff_client(app, world.manager)
    start_viewing(manager, world.acme)
    assert manager.head("/dashboard/earnings").status_code == 200
    assert manager.get("/dashboard-test/owners-and-admins").status_code == 404
    admin = staff_client(app, world.admin)
    start_viewing(admin, world.acme)
    assert admin.get("/dashboard-test/owners-and-admins").get_data(as_text=True) == "the tax form of Acme Cloud"
    owner = app.test_client()
    login(owner, OWNER_EMAIL)
    assert owner.get("/dashboard-test/owners-and-admins").status_code == 200


def test_an_email_change_link_expires_after_seven_days(app, world):
    manager = staff_client(app, world.manager)
    assert ask_email_change(manager, world).status_code == 303
    link = confirmation_link(app)
    link = link[link.index("/account/") :]
    with time_machine.travel(clock.now() + timedelta(days=7, minutes=1)):
        assert app.test_client().get(link).status_code == 410
    with app.app_context():
        assert _db.session.get(User, world.owner).email == OWNER_EMAIL
