"""The reviewer's side, through the console's pages: the queue, an application's page and its actions."""

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.applications.models import ApplicationMessage, PartnerApplication
from cloudcodes.applications.rules import ApplicationInput
from cloudcodes.applications.services import ApplicationChanged, approve, assign_manager, reject, submit_application
from cloudcodes.audit.models import AuditEvent
from cloudcodes.auth.models import User
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.money import Money
from cloudcodes.partners.models import Partner, PartnerLevel, PartnerMembership, PartnerRequirement
from tests.conftest import make_test_app
from tests.factories import StaffFactory, UserFactory
from tests.support.web import login, make_staff, staff_client, submit

# --- Helpers ----------------------------------------------------------------------------------


def application_input(level="reseller", *, name="Acme Cloud", email="olivia@acme-cloud.example", **changes):
    data = {
        "level": level,
        "company_name": name,
        "website": "https://acme-cloud.example",
        "country": "United Kingdom",
        "contact_name": "Olivia Owner",
        "contact_email": email,
        "contact_phone": "+44 20 7946 0000",
        "is_workspace_reseller": True,
        "workspace_reseller_id": "C01abc234",
        "sales_team_size": 4,
        "technical_team_size": 2,
        "expected_customers": 25,
        "heard_from": "A customer",
    }
    if level == "premier":
        data |= {
            "committed_revenue": Money(2_500_000, "USD"),
            "trained_sales_staff": 2,
            "agrees_to_business_plan": True,
            "product_page_url": "https://acme-cloud.example/cloudcodes",
            "marketing_campaign": "A webinar series for our Workspace customers.",
        }
    return ApplicationInput(**(data | changes))


def create_application(app, level="reseller", **kwargs) -> int:
    with app.app_context():
        return submit_application(application_input(level, **kwargs), "127.0.0.1").id


def create_many(app, count, *, start=0, level="reseller") -> list[int]:
    return [
        create_application(app, level, name=f"Northwind {n}", email=f"contact{n}@northwind{n}.example")
        for n in range(start, start + count)
    ]


def load(app, application_id) -> PartnerApplication:
    with app.app_context():
        application = _db.session.get(PartnerApplication, application_id)
        _db.session.expunge(application)
        return application


def count(app, model, *where) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def mails(app, template):
    with app.app_context():
        messages = list(
            _db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
            )
        )
        _db.session.expunge_all()
        return messages


def audit_actions(app):
    with app.app_context():
        return [event.action for event in _db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def references(html) -> list[str]:
    return re.findall(r">(APP-\d{6})</a>", html)


def detail_path(application_id) -> str:
    return f"/admin/applications/{application_id}"


def act(client, application_id, action, data):
    """POST one of the page's forms, with the CSRF token read from the application's page."""
    return submit(client, f"{detail_path(application_id)}/{action}", data, page=detail_path(application_id))


def flashed(client, response, category):
    assert response.status_code == 303, response.get_data(as_text=True)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(rf'<div class="alert alert-{category}[^"]*">\s*(.*?)\s*<button', html, re.S)
    assert match, f"no {category} message on the page"
    return match.group(1)


staff = make_staff
logged_in = staff_client


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def manager(app):
    return staff(app, email="max@cloudcodes.example", full_name="Max Manager")


@pytest.fixture
def reviewer(app, manager):
    """A test client logged in as the channel sales manager, two-factor done."""
    return logged_in(app, manager)


@pytest.fixture
def admin(app):
    return staff(app, role="admin", email="ada@cloudcodes.example", full_name="Ada Admin")


@pytest.fixture
def admin_client(app, admin):
    return logged_in(app, admin)


# --- The queue --------------------------------------------------------------------------------


def test_the_queue_lists_open_applications_oldest_first(app, reviewer, manager):
    html = reviewer.get("/admin/applications").get_data(as_text=True)
    assert "No open applications: the queue is empty." in html
    assert 'aria-current="page" href="/admin/applications">Applications</a>' in html

    first = create_application(app, name="Acme Cloud", email="olivia@acme-cloud.example")
    second = create_application(app, "premier", name="Globex", email="hank@globex.example")
    rejected = create_application(app, name="Initech", email="bill@initech.example")
    with app.app_context():
        reject(_db.session.get(PartnerApplication, rejected), "Not a reseller.", by=_db.session.get(User, manager.id))

    response = reviewer.get("/admin/applications")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert references(html) == [f"APP-{first:06d}", f"APP-{second:06d}"]
    assert "2 applications, oldest first." in html
    assert "Acme Cloud" in html and "Globex" in html and "Initech" not in html
    assert "Premier" in html and "Olivia Owner" in html and "hank@globex.example" in html
    assert '<span class="badge text-bg-primary">Submitted</span>' in html
    assert "Not assigned" in html and "today" in html
    for label in ("Search", "Level requested", "State", "Submitted", "Only applications assigned to me"):
        assert f">{label}</label>" in html

    decided = reviewer.get("/admin/applications?state=rejected").get_data(as_text=True)
    assert references(decided) == [f"APP-{rejected:06d}"]
    assert "Rejected</span>" in decided
    everything = reviewer.get("/admin/applications?state=all").get_data(as_text=True)
    assert references(everything) == [f"APP-{n:06d}" for n in (rejected, second, first)]  # newest first


def test_the_queue_filters_by_level_state_age_assignment_and_search(app, reviewer, manager):
    with time_machine.travel(clock.now() - timedelta(days=10)):
        old = create_application(app, name="Old Timers", email="pat@old-timers.example", contact_name="Pat Past")
    reseller = create_application(app, name="Acme Cloud", email="olivia@acme-cloud.example")
    premier = create_application(app, "premier", name="Globex 100%", email="hank@globex.example")
    other_manager = staff(app, email="mia@cloudcodes.example", full_name="Mia Manager")
    with app.app_context():
        me = _db.session.get(User, manager.id)
        assign_manager(_db.session.get(PartnerApplication, reseller), me, by=me)
        assign_manager(_db.session.get(PartnerApplication, premier), _db.session.get(User, other_manager.id), by=me)

    def listed(query):
        response = reviewer.get("/admin/applications", query_string=query)
        assert response.status_code == 200
        return {int(ref.removeprefix("APP-")) for ref in references(response.get_data(as_text=True))}

    assert listed({}) == {old, reseller, premier}
    assert listed({"level": "premier"}) == {premier}
    assert listed({"level": "reseller"}) == {old, reseller}
    assert listed({"state": "in_review"}) == {reseller, premier}
    assert listed({"state": "submitted"}) == {old}
    assert listed({"state": "approved"}) == set()
    assert listed({"age": "7"}) == {old}
    assert listed({"age": "30"}) == set()
    assert listed({"mine": "y"}) == {reseller}
    assert listed({"q": "GLOBEX"}) == {premier}  # company, case-insensitive
    assert listed({"q": "pat past"}) == {old}  # contact name
    assert listed({"q": "@acme-cloud"}) == {reseller}  # contact e-mail
    assert listed({"q": "100%"}) == {premier}
    assert listed({"q": "%"}) == {premier}  # a wildcard is searched for, not obeyed
    assert listed({"q": "_"}) == set()
    assert listed({"level": "gold", "state": "nonsense", "age": "2"}) == {old, reseller, premier}  # ignored

    html = reviewer.get("/admin/applications?level=premier").get_data(as_text=True)
    assert '<option selected value="premier">Premier</option>' in html
    assert "Mia Manager" in html
    assert "No applications match these filters." in reviewer.get("/admin/applications?q=nobody").get_data(as_text=True)


def test_the_queue_is_paginated_and_keeps_the_filters_in_the_links(app, reviewer):
    create_many(app, 27)
    html = reviewer.get("/admin/applications?level=reseller").get_data(as_text=True)
    assert len(references(html)) == 25
    assert "27 applications, oldest first." in html
    assert 'href="/admin/applications?page=2&amp;level=reseller"' in html
    second = reviewer.get("/admin/applications?level=reseller&page=2").get_data(as_text=True)
    assert len(references(second)) == 2
    assert 'aria-current="page">2</a>' in second


def test_the_queue_is_for_staff_with_two_factor_only(app, client):
    with app.app_context():
        UserFactory(email="olivia@partner.example")
        StaffFactory(email="nofactor@cloudcodes.example")
    login(client, "olivia@partner.example")
    assert client.get("/admin/applications").status_code == 404
    staff_client = app.test_client()
    login(staff_client, "nofactor@cloudcodes.example")
    assert staff_client.get("/admin/applications").headers["Location"] == "/account/two-factor"


def test_the_queue_sends_as_many_queries_for_30_applications_as_for_5(app, reviewer, count_queries):
    def assign_each_to_its_own_manager(ids):
        with app.app_context():
            for application_id in ids:
                # No password: hashing one per manager would only slow the test down.
                person = StaffFactory(password_hash=None)
                assign_manager(_db.session.get(PartnerApplication, application_id), person, by=person)

    assign_each_to_its_own_manager(create_many(app, 5))
    reviewer.get("/admin/applications")
    with count_queries() as few:
        assert reviewer.get("/admin/applications").status_code == 200
    assign_each_to_its_own_manager(create_many(app, 25, start=5))
    with count_queries() as many:
        html = reviewer.get("/admin/applications").get_data(as_text=True)
    assert len(references(html)) == 25
    assert many.count == few.count, many.statements


# --- An application's page --------------------------------------------------------------------


def test_the_page_shows_the_whole_application(app, reviewer):
    premier = create_application(app, "premier", name="Globex", email="hank@globex.example")
    reseller = create_application(app, name="Acme Cloud", email="olivia@acme-cloud.example")

    html = reviewer.get(detail_path(premier)).get_data(as_text=True)
    assert f"APP-{premier:06d}" in html
    for text in (
        "Globex",
        "hank@globex.example",
        "+44 20 7946 0000",
        "United Kingdom",
        "C01abc234",
        "4 people",
        "A customer",
        "Premier commitments",
        "$25,000.00",
        "https://acme-cloud.example/cloudcodes",
        "A webinar series for our Workspace customers.",
        "No questions asked yet.",
    ):
        assert text in html, text
    for heading in ("Assign to a manager", "Ask the applicant a question", "Approve", "Reject"):
        assert f">{heading}</h3>" in html
    assert '<option selected value="premier">Premier</option>' in html
    assert '<option value="reseller">Reseller</option>' in html
    assert 'aria-current="true" href="/admin/applications">Applications</a>' in html
    assert "<script>" not in html  # the Content-Security-Policy forbids inline scripts

    html = reviewer.get(detail_path(reseller)).get_data(as_text=True)
    assert "Premier commitments" not in html
    assert 'value="premier"' not in html  # a Reseller application is only approved as Reseller

    assert reviewer.get("/admin/applications/999999").status_code == 404


def test_admins_review_too(app, admin_client):
    application = create_application(app)
    assert admin_client.get("/admin/applications").status_code == 200
    assert admin_client.get(detail_path(application)).status_code == 200


# --- The actions ------------------------------------------------------------------------------


def test_assigning_takes_the_application_into_review(app, reviewer, manager):
    application = create_application(app)
    response = act(reviewer, application, "assign", {"assign-manager": str(manager.id)})
    assert flashed(reviewer, response, "success") == f"APP-{application:06d} is assigned to Max Manager."
    assert response.headers["Location"] == detail_path(application)
    stored = load(app, application)
    assert (stored.state, stored.assigned_manager_id) == ("in_review", manager.id)
    assert "application.assigned" in audit_actions(app)
    assert '<span class="badge text-bg-info">In review</span>' in reviewer.get(detail_path(application)).get_data(
        as_text=True
    )

    refused = act(reviewer, application, "assign", {"assign-manager": ""})
    assert refused.status_code == 400
    assert "Choose the channel sales manager who reviews this application." in refused.get_data(as_text=True)


def test_asking_a_question_waits_on_the_applicant_and_e_mails_it(app, reviewer):
    application = create_application(app)
    question = "Which regions do your technical team cover?\nAnd in which languages?"
    response = act(reviewer, application, "ask", {"ask-question": question})
    assert "The application waits on the applicant." in flashed(reviewer, response, "success")
    assert load(app, application).state == "waiting_on_applicant"
    with app.app_context():
        message = _db.session.scalar(select(ApplicationMessage))
        assert (message.application_id, message.author_kind, message.body) == (application, "staff", question)
    mail = mails(app, "application_question")[-1]
    assert mail.to_address == "olivia@acme-cloud.example"
    assert "Which regions do your technical team cover?" in mail.text_body
    assert re.search(r"https?://\S+/apply/status/\S+", mail.text_body)
    html = reviewer.get(detail_path(application)).get_data(as_text=True)
    assert "Question from Max Manager" in html
    assert "Which regions do your technical team cover?<br>\nAnd in which languages?" in html
    assert "Waiting on the applicant</span>" in html

    empty = act(reviewer, application, "ask", {"ask-question": "   "})
    assert empty.status_code == 400
    assert "Write the question for the applicant." in empty.get_data(as_text=True)


def test_rejecting_needs_a_reason_and_a_confirmation(app, reviewer):
    application = create_application(app)
    response = act(reviewer, application, "reject", {"reject-reason": "", "reject-confirm": "y"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(
        r'id="reject-reason-error" class="invalid-feedback d-block">Give the reason: the applicant receives it by',
        html,
    )
    response = act(reviewer, application, "reject", {"reject-reason": "We need a reseller ID we can check."})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Tick the box to confirm that you have checked the application." in html
    assert "We need a reseller ID we can check.</textarea>" in html  # what was typed is kept
    assert load(app, application).state == "submitted"
    assert mails(app, "application_rejected") == []


def test_rejecting_e_mails_the_reason(app, reviewer, manager):
    application = create_application(app)
    reason = "We could not confirm your Google Workspace reseller status."
    response = act(reviewer, application, "reject", {"reject-reason": reason, "reject-confirm": "y"})
    assert "is rejected" in flashed(reviewer, response, "success")
    stored = load(app, application)
    assert (stored.state, stored.decision_note, stored.decided_by_id) == ("rejected", reason, manager.id)
    mail = mails(app, "application_rejected")[-1]
    assert mail.to_address == "olivia@acme-cloud.example" and reason in mail.text_body
    assert audit_actions(app)[-1] == "application.rejected"
    html = reviewer.get(detail_path(application)).get_data(as_text=True)
    assert "Reason given" in html and reason in html
    assert "there is nothing left to do on it" in html
    assert "/reject" not in html and "/approve" not in html


def test_approving_a_reseller_application_creates_the_partner(app, reviewer, manager):
    application = create_application(app)
    act(reviewer, application, "assign", {"assign-manager": str(manager.id)})
    # The channel manager is left at "the assigned one".
    response = act(
        reviewer,
        application,
        "approve",
        {"approve-level": "reseller", "approve-manager": "", "approve-note": "", "approve-confirm": "y"},
    )
    assert "Acme Cloud is a Reseller partner" in flashed(reviewer, response, "success")

    with app.app_context():
        stored = _db.session.get(PartnerApplication, application)
        assert (stored.state, stored.approved_level, stored.decided_by_id) == ("approved", "reseller", manager.id)
        partner = _db.session.scalar(select(Partner))
        assert (partner.name, partner.application_id, partner.channel_manager_id) == (
            "Acme Cloud",
            application,
            manager.id,
        )
        owner = _db.session.scalar(select(User).where(User.email == "olivia@acme-cloud.example"))
        assert (owner.role, owner.full_name, owner.password_hash) == ("partner", "Olivia Owner", None)
        membership = _db.session.scalar(select(PartnerMembership))
        assert (membership.partner_id, membership.user_id, membership.role) == (partner.id, owner.id, "owner")
        levels = list(_db.session.scalars(select(PartnerLevel)))
        assert [(lv.partner_id, lv.level, lv.effective_from) for lv in levels] == [
            (partner.id, "reseller", clock.today())
        ]
        kinds = set(_db.session.scalars(select(PartnerRequirement.kind)))
        assert kinds == {"workspace_reseller", "sales_team", "technical_team"}
        partner_label = f"{partner.name} (partner #{partner.id})"

    invitation = mails(app, "partner_invitation")[-1]
    assert invitation.to_address == "olivia@acme-cloud.example"
    assert (invitation.from_name, invitation.reply_to) == ("Max Manager", "max@cloudcodes.example")
    assert re.search(r"https?://\S+/reset-password/\S+", invitation.text_body)
    assert {"application.approved", "partner.created"} <= set(audit_actions(app))

    html = reviewer.get(detail_path(application)).get_data(as_text=True)
    assert partner_label in html and "Level approved" in html


def test_what_the_application_declared_waits_for_verification_instead_of_being_missing(app, reviewer, manager):
    """#13: a new partner whose application declared its teams was told "Still missing: a sales team"."""
    application = create_application(app)
    act(reviewer, application, "assign", {"assign-manager": str(manager.id)})
    act(
        reviewer,
        application,
        "approve",
        {"approve-level": "reseller", "approve-manager": "", "approve-note": "", "approve-confirm": "y"},
    )
    link = re.search(r"https?://\S+(/reset-password/\S+)", mails(app, "partner_invitation")[-1].text_body).group(1)
    owner = app.test_client()
    passphrase = {"new_password": "our new partner passphrase", "confirm_password": "our new partner passphrase"}
    assert submit(owner, link, passphrase).status_code == 303

    page = owner.get("/dashboard/").get_data(as_text=True)
    waiting = page.split("Declared, waiting for verification", 1)[1].split("</ul>", 1)[0]
    assert "a sales team" in waiting and "a technical team" in waiting
    assert "Google Workspace reseller status verified" in waiting
    missing = page.split("Still missing", 1)[1].split("</ul>", 1)[0]
    assert "a sales team" not in missing and "a technical team" not in missing
    assert "more net revenue" in missing

    with app.app_context():
        partner_id = _db.session.scalar(select(Partner.id))
    console = reviewer.get(f"/admin/partners/{partner_id}").get_data(as_text=True)
    declared = "Declared, waiting for verification:</strong> Google Workspace reseller status verified; a sales team"
    assert declared in console


def test_a_reseller_application_cannot_be_approved_as_premier(app, reviewer, manager):
    application = create_application(app)
    response = act(
        reviewer,
        application,
        "approve",
        {"approve-level": "premier", "approve-manager": str(manager.id), "approve-confirm": "y"},
    )
    assert response.status_code == 400
    assert re.search(r'id="approve-level-error"[^>]*>This is a Reseller application', response.get_data(as_text=True))

    # Without a channel manager chosen or assigned, the service names that field.
    response = act(reviewer, application, "approve", {"approve-level": "reseller", "approve-confirm": "y"})
    assert response.status_code == 400
    assert re.search(r'id="approve-manager-error"[^>]*>Choose the partner', response.get_data(as_text=True))

    # And approving needs the confirmation.
    response = act(reviewer, application, "approve", {"approve-level": "reseller", "approve-manager": str(manager.id)})
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)

    assert load(app, application).state == "submitted"
    assert count(app, Partner) == 0 and count(app, User, User.role == "partner") == 0


def test_a_premier_application_is_approved_as_reseller_only_with_a_note(app, reviewer, manager):
    application = create_application(app, "premier")
    form = {"approve-level": "reseller", "approve-manager": str(manager.id), "approve-confirm": "y"}
    response = act(reviewer, application, "approve", form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'id="approve-note-error"[^>]*>Say in the note why', html)
    assert '<option selected value="reseller">Reseller</option>' in html  # the choice is kept
    assert count(app, Partner) == 0

    note = "Revenue plan not credible yet; reconsider at qualification."
    response = act(reviewer, application, "approve", {**form, "approve-note": note})
    assert "is a Reseller partner" in flashed(reviewer, response, "success")
    stored = load(app, application)
    assert (stored.state, stored.approved_level, stored.decision_note) == ("approved", "reseller", note)
    with app.app_context():
        assert list(_db.session.scalars(select(PartnerLevel.level))) == ["reseller"]
    assert count(app, PartnerRequirement) == 7  # the Premier commitments it declared, still to verify


def test_an_action_the_state_does_not_allow_is_refused_with_a_warning(app, reviewer, manager):
    application = create_application(app)
    page = detail_path(application)
    html_before = reviewer.get(page)  # the reviewer opened the page, then someone else decided
    assert html_before.status_code == 200
    with app.app_context():
        reject(_db.session.get(PartnerApplication, application), "Not now.", by=_db.session.get(User, manager.id))

    response = act(
        reviewer,
        application,
        "approve",
        {"approve-level": "reseller", "approve-manager": str(manager.id), "approve-confirm": "y"},
    )
    assert flashed(reviewer, response, "warning") == "This application is rejected, so it cannot be approved now."
    response = act(reviewer, application, "ask", {"ask-question": "Still there?"})
    assert "cannot be sent a question now" in flashed(reviewer, response, "warning")
    response = act(reviewer, application, "assign", {"assign-manager": str(manager.id)})
    assert "it cannot be assigned" in flashed(reviewer, response, "warning")

    stored = load(app, application)
    assert (stored.state, stored.decision_note, stored.assigned_manager_id) == ("rejected", "Not now.", None)
    assert count(app, Partner) == 0 and count(app, ApplicationMessage) == 0
    assert "application.approved" not in audit_actions(app)


# --- Two reviewers at the same moment ---------------------------------------------------------


@pytest.mark.postgres
def test_two_approvals_racing_make_one_partner(postgres_database):
    app = make_test_app(postgres_database)
    try:
        with app.app_context():
            manager_id = StaffFactory(password_hash=None, full_name="Max Manager").id
        application_id = create_application(app)

        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def approve_it() -> None:
            with app.app_context():
                application = _db.session.get(PartnerApplication, application_id)
                manager = _db.session.get(User, manager_id)
                try:
                    barrier.wait(timeout=10)
                    outcomes.append(approve(application, level="reseller", manager=manager, note="", by=manager).id)
                except ApplicationChanged as refused:
                    outcomes.append(refused)
                except Exception as error:  # noqa: BLE001 - reported by the assertions below
                    outcomes.append(error)

        threads = [threading.Thread(target=approve_it) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert len(outcomes) == 2, outcomes
        winners = [outcome for outcome in outcomes if isinstance(outcome, int)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, ApplicationChanged)]
        assert len(winners) == 1 and len(refused) == 1, outcomes
        assert "Someone else changed this application" in str(refused[0])
        with app.app_context():
            assert _db.session.scalar(select(func.count()).select_from(Partner)) == 1
            assert _db.session.scalar(select(func.count()).select_from(PartnerLevel)) == 1
            assert _db.session.scalar(select(func.count()).select_from(User).where(User.role == "partner")) == 1
            assert (
                len(
                    _db.session.scalars(
                        select(OutboxMessage.id).where(OutboxMessage.template == "partner_invitation")
                    ).all()
                )
                == 1
            )
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_the_console_front_page_counts_the_open_work(app):
    manager = staff(app)
    create_many(app, 3)
    client = logged_in(app, manager)
    page = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="applications-figure">Open applications</h2>\s*<p class="fs-2 fw-semibold mb-1">3<', page)
    assert "0 assigned to you" in page
