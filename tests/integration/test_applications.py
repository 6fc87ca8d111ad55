"""The applicant's side, through the pages: apply, follow the status link, answer, withdraw, get invited."""

import re

import pytest
from sqlalchemy import func, select

from cloudcodes import clock
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.services import approve, ask_question
from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.partners.models import Partner
from tests.factories import StaffFactory
from tests.support.web import csrf_token, submit

RESELLER_FORM = {
    "company_name": "Acme Cloud Ltd",
    "website": "acme-cloud.example.com",
    "country": "United Kingdom",
    "contact_name": "Olivia Owner",
    "contact_email": "olivia@acme-cloud.example.com",
    "contact_phone": "+44 20 7946 0000",
    "is_workspace_reseller": "y",
    "workspace_reseller_id": "C01abc234",
    "sales_team_size": "4",
    "technical_team_size": "2",
    "expected_customers": "25",
    "heard_from": "customer",
}
PREMIER_FORM = {
    **RESELLER_FORM,
    "committed_revenue": "30000.00",
    "trained_sales_staff": "2",
    "agrees_to_business_plan": "y",
    "product_page_url": "https://acme-cloud.example.com/cloudcodes",
    "marketing_campaign": "A webinar series for our Google Workspace customers in the spring, with CloudCodes.",
}


def apply(client, level="reseller", **changes):
    data = {**(PREMIER_FORM if level == "premier" else RESELLER_FORM), **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return submit(client, f"/apply/{level}", data)


def count(app, model):
    with app.app_context():
        return _db.session.scalar(select(func.count()).select_from(model))


def last_mail(app, template=None):
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
        if template:
            query = query.where(OutboxMessage.template == template)
        message = _db.session.scalar(query)
        _db.session.expunge_all()
        return message


def status_path(app, message):
    link = re.search(r"(https?://\S+/apply/status/\S+)", message.text_body).group(1)
    return link.removeprefix(app.config["SITE_URL"])


@pytest.fixture
def manager(app):
    with app.app_context():
        user = StaffFactory(email="max@cloudcodes.example", full_name="Max Manager")
        return user.id


def test_the_apply_page_offers_both_levels_with_the_settings(client):
    html = client.get("/apply/").get_data(as_text=True)
    assert "Apply as Reseller" in html and "Apply as Premier" in html
    assert "15 % margin" in html and "30 % margin" in html
    assert "$25,000.00" in html
    assert client.get("/apply/gold").status_code == 404


@pytest.mark.parametrize("level", ["reseller", "premier"])
def test_applying_sends_a_confirmation_with_a_working_status_link(app, client, level):
    response = apply(client, level)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Acme Cloud Ltd" in page and "olivia@acme-cloud.example.com" in page
    message = last_mail(app)
    assert message.template == "application_received"
    assert message.to_address == "olivia@acme-cloud.example.com"
    status = client.get(status_path(app, message))
    assert status.status_code == 200
    assert "Submitted." in status.get_data(as_text=True)
    with app.app_context():
        application = _db.session.scalar(select(PartnerApplication))
        assert application.level_requested == level
        assert application.website == "https://acme-cloud.example.com"
        if level == "premier":
            assert application.committed_revenue.minor == 3_000_000
        assert _db.session.scalar(select(AuditEvent.action)) == "application.submitted"


def test_missing_and_bad_fields_are_named_and_what_was_typed_is_kept(app, client):
    response = apply(
        client, company_name="", contact_email="not-an-address", website="no spaces allowed", sales_team_size="-3"
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Enter your company&#39;s name." in html
    assert "Enter a valid e-mail address." in html
    assert "Enter a web address such as https://www.example.com." in html
    assert "Enter 0 to 100,000." in html
    assert 'value="Olivia Owner"' in html  # kept
    assert 'value="not-an-address"' in html
    assert count(app, PartnerApplication) == 0


def test_an_applicant_that_is_not_a_workspace_reseller_is_told_why_it_cannot_apply(app, client):
    response = apply(client, is_workspace_reseller=None)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Every CloudCodes partner resells Google Workspace" in html
    assert "The application cannot be sent yet." in html
    assert count(app, PartnerApplication) == 0


def test_premier_needs_the_full_commitment_and_says_how_much(app, client):
    response = apply(
        client, "premier", committed_revenue="10000", agrees_to_business_plan=None, trained_sales_staff="0"
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "at least $25,000.00 of revenue a year" in html
    assert "agree a joint business plan" in html
    assert "at least 1 member of their sales staff" in html
    assert count(app, PartnerApplication) == 0


def test_the_honeypot_pretends_to_accept_and_stores_nothing(app, client):
    response = apply(client, fax_number="+1 555 0100")
    assert response.status_code == 303
    assert "Thank you" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert count(app, PartnerApplication) == 0
    assert count(app, OutboxMessage) == 0


def test_five_applications_an_hour_per_address(app, client):
    for n in range(5):
        response = apply(client, company_name=f"Company {n}", contact_email=f"c{n}@example.com")
        assert response.status_code == 303
    assert apply(client, company_name="", contact_email="x@example.com").status_code == 429
    assert count(app, PartnerApplication) == 5


def test_errors_do_not_use_up_the_allowance(client):
    for _ in range(6):
        assert apply(client, company_name="").status_code == 400
    assert apply(client).status_code == 303


def test_a_second_open_application_is_refused_and_the_status_link_sent_again(app, client):
    apply(client)
    response = apply(client, company_name="ACME cloud, Inc.", contact_email="someone-else@acme-cloud.example.com")
    assert response.status_code == 409
    assert "already open" in response.get_data(as_text=True)
    assert count(app, PartnerApplication) == 1
    assert last_mail(app).template == "application_status_link"
    assert last_mail(app).to_address == "olivia@acme-cloud.example.com"


def test_a_forged_status_link_finds_nothing(app, client):
    apply(client)
    path = status_path(app, last_mail(app))
    assert client.get(path[:-3] + "abc").status_code == 404


def test_the_applicant_answers_a_question_on_the_status_page(app, client, manager):
    apply(client)
    path = status_path(app, last_mail(app))
    with app.app_context():
        application = _db.session.scalar(select(PartnerApplication))
        reviewer = _db.session.get(StaffFactory._meta.model, manager)
        application.assigned_manager_id = reviewer.id
        ask_question(application, "How many Workspace customers do you have today?", by=reviewer)
    page = client.get(path).get_data(as_text=True)
    assert "Waiting on the applicant." in page
    assert "How many Workspace customers do you have today?" in page
    question = last_mail(app, "application_question")
    assert "How many Workspace customers" in question.text_body

    empty = submit(client, path + "/answer", {"answer": ""}, page=path)
    assert empty.status_code == 400
    response = submit(client, path + "/answer", {"answer": "About forty, mostly schools."}, page=path)
    assert response.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "In review." in page and "About forty, mostly schools." in page
    answered = last_mail(app, "application_answered")
    assert answered.to_address == "max@cloudcodes.example"
    assert "/admin/applications/" in answered.text_body


def test_withdrawing_needs_a_confirmation_and_ends_the_application(app, client):
    apply(client)
    path = status_path(app, last_mail(app))
    unconfirmed = submit(client, path + "/withdraw", {}, page=path)
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert submit(client, path + "/withdraw", {"confirm": "y"}, page=path).status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "Withdrawn." in page and "Withdraw my application" not in page
    # Withdrawn is not open: the company may apply again.
    assert apply(client).status_code == 303


def test_approval_invites_the_owner_who_sets_a_password_and_lands_on_the_dashboard(app, client, manager):
    apply(client, "premier")
    with app.app_context():
        application = _db.session.scalar(select(PartnerApplication))
        reviewer = _db.session.get(StaffFactory._meta.model, manager)
        approve(application, level="premier", manager=reviewer, note="", by=reviewer)
    invitation = last_mail(app, "partner_invitation")
    assert invitation.to_address == "olivia@acme-cloud.example.com"
    assert invitation.from_name == "Max Manager" and invitation.reply_to == "max@cloudcodes.example"
    assert "Premier partner" in invitation.text_body and "30 %" in invitation.text_body
    link = re.search(r"(https?://\S+/reset-password/\S+)", invitation.text_body).group(1)
    path = link.removeprefix(app.config["SITE_URL"])

    browser = app.test_client()
    page = browser.get(path).get_data(as_text=True)
    assert "Set your password" in page
    response = browser.post(
        path,
        data={
            "csrf_token": csrf_token(page),
            "new_password": "acme partner passphrase",
            "confirm_password": "acme partner passphrase",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/"
    dashboard = browser.get("/dashboard/").get_data(as_text=True)
    assert "Acme Cloud Ltd" in dashboard and "Premier" in dashboard and "Max Manager" in dashboard
    assert browser.get(path).status_code == 410  # the invitation works once
    status = client.get(status_path(app, last_mail(app, "application_received"))).get_data(as_text=True)
    assert "Approved." in status
    with app.app_context():
        partner = _db.session.scalar(select(Partner))
        assert [level.level for level in partner.levels] == ["premier"]
        assert partner.levels[0].effective_from == clock.today()
        assert {r.kind for r in partner.requirements} >= {"workspace_reseller", "joint_business_plan"}
        assert all(r.verified_at is None for r in partner.requirements)


def test_a_new_partner_user_is_not_made_to_set_up_two_factor(app, client, manager):
    apply(client)
    with app.app_context():
        application = _db.session.scalar(select(PartnerApplication))
        reviewer = _db.session.get(StaffFactory._meta.model, manager)
        approve(application, level="reseller", manager=reviewer, note="", by=reviewer)
    invitation = last_mail(app, "partner_invitation")
    path = re.search(r"(/reset-password/\S+)", invitation.text_body).group(1)
    page = client.get(path).get_data(as_text=True)
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(page),
            "new_password": "reseller passphrase",
            "confirm_password": "reseller passphrase",
        },
    )
    assert response.headers["Location"] == "/dashboard/"


def test_demo_seed_loads_applications_in_several_states_once(app, runner):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        states = sorted(_db.session.scalars(select(PartnerApplication.state)))
        assert states == ["in_review", "rejected", "submitted", "waiting_on_applicant"]
        partner = _db.session.scalar(select(Partner))
        assert partner.name == "Acme Cloud"
        assert [m.user.email for m in partner.memberships] == ["owner@acme-cloud.example"]
        assert partner.channel_manager.email == "manager@cloudcodes.example"
