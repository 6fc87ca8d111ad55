"""The applicant's side, through the pages: apply, follow the status link, answer, withdraw, get invited."""

import html
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text, update

from cloudcodes import clock, formatting
from cloudcodes.applications.models import PartnerApplication
from cloudcodes.applications.rules import HEARD_FROM_OPTIONS, ApplicationInput
from cloudcodes.applications.services import DuplicateApplication, approve, ask_question, submit_application
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


def apply(client, level="reseller", *, environ_base=None, **changes):
    data = {**(PREMIER_FORM if level == "premier" else RESELLER_FORM), **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return submit(client, f"/apply/{level}", data, **({"environ_base": environ_base} if environ_base else {}))


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
    assert "Thank you for applying" in page and "sent the next steps by e-mail" in page
    assert "olivia@" not in page  # the same page whether or not an application was open already
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


def test_every_attempt_uses_up_the_allowance_refused_or_repeated_alike(app, client):
    """The review: only applications sent counted, so one client could try names and addresses at will."""
    assert apply(client, company_name="").status_code == 400  # a format error
    assert apply(client, is_workspace_reseller=None).status_code == 400  # a rule of the program
    assert apply(client).status_code == 303
    assert apply(client, contact_email="someone-else@acme-cloud.example.com").status_code == 303  # the same company
    assert apply(client, company_name="", contact_email="x@example.com").status_code == 400
    refused = apply(client, company_name="Globex", contact_email="gina@globex.example")
    assert refused.status_code == 429
    assert count(app, PartnerApplication) == 1
    # Another client is not held back by the first one's tries.
    other = apply(
        app.test_client(),
        company_name="Globex",
        contact_email="gina@globex.example",
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 303


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def field_error(response, name: str) -> str:
    """The message shown next to a field ("" when there is none)."""
    match = re.search(rf'<div id="{name}-error"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    return " ".join(html.unescape(match.group(1)).split()) if match else ""


def test_a_second_open_application_is_answered_as_a_new_one_and_the_link_goes_to_the_address_on_file(app, client):
    new = apply(client)
    assert new.status_code == 303
    again = apply(client, company_name="ACME cloud, Inc.", contact_email="someone-else@acme-cloud.example.com")
    assert again.status_code == 303 and again.headers["Location"] == new.headers["Location"]
    assert client.get(again.headers["Location"]).get_data() == client.get(new.headers["Location"]).get_data()
    assert count(app, PartnerApplication) == 1
    with time_machine.travel(clock.now() + timedelta(hours=25), tick=False):
        assert apply(app.test_client(), company_name="Acme Cloud").status_code == 303
    message = last_mail(app)
    assert message.template == "application_status_link"
    assert message.to_address == "olivia@acme-cloud.example.com"
    assert status_path(app, message) == status_path(app, last_mail(app, "application_received"))


def test_a_stranger_typing_an_existing_company_learns_nothing_and_floods_no_mailbox(app, client):
    """The review: ten tries showed the reference, date, state and address, and sent ten e-mails."""
    assert apply(client).status_code == 303
    with app.app_context():
        existing = _db.session.scalar(select(PartnerApplication))
        reference, sent_on = existing.reference, formatting.date(existing.submitted_at)
    mails_before = count(app, OutboxMessage)
    new_page = text_of(app.test_client().get("/apply/received"))

    pages = []
    for n in range(10):  # from ten addresses, so that the limit per client does not stop them first
        stranger = app.test_client()
        response = apply(
            stranger,
            company_name="ACME Cloud Limited",
            contact_name="Sam Stranger",
            contact_email=f"sam{n}@stranger.example",
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        assert response.status_code == 303
        pages.append(text_of(stranger.get(response.headers["Location"])))

    assert all(page == new_page for page in pages)
    for secret in (reference, sent_on, "olivia", "Submitted", "Acme", "already open"):
        assert secret not in pages[0]
    assert "If this company can apply" in pages[0]
    with app.app_context():
        sent = _db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()[mails_before:]
        assert [(m.template, m.to_address) for m in sent] == []  # the confirmation went minutes ago: enough
        assert not _db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address.like("%stranger%")))
        assert _db.session.scalar(select(func.count()).select_from(PartnerApplication)) == 1

    # A day later, the applicant who lost the e-mail gets the link again, once.
    with time_machine.travel(clock.now() + timedelta(hours=24, minutes=1), tick=False):
        for n in range(3):
            apply(app.test_client(), company_name="Acme Cloud", environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
    with app.app_context():
        sent = _db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()[mails_before:]
        assert [(m.template, m.to_address) for m in sent] == [
            ("application_status_link", "olivia@acme-cloud.example.com")
        ]


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


# --- Findings of the outside review: the form itself ----------------------------------------------


def test_a_name_with_a_line_break_is_refused_next_to_its_field_not_with_a_500(app, client):
    """The review: "Ana\\r\\nBcc: x@evil" as the contact name answered 500 (the mail header refused it)."""
    response = apply(client, contact_name="Ana\r\nBcc: x@evil.example", company_name="Acme\tCloud")
    assert response.status_code == 400
    assert field_error(response, "contact_name") == "This must be on one line: remove the line breaks and tabs from it."
    assert field_error(response, "company_name") == "This must be on one line: remove the line breaks and tabs from it."
    assert "The application cannot be sent yet." in text_of(response)
    assert count(app, PartnerApplication) == 0
    assert count(app, OutboxMessage) == 0
    # A text area keeps its lines.
    assert (
        apply(client, "premier", marketing_campaign="Webinars in spring.\r\nA newsletter in autumn.").status_code == 303
    )


def test_the_countries_are_cldrs_with_one_name_each_and_none_gone(client):
    """The review: Czechia and Czech Republic, Eswatini and Swaziland, and the Netherlands Antilles."""
    options = re.findall(r'<option value="([^"]*)"', client.get("/apply/reseller").get_data(as_text=True))
    countries = [html.unescape(value) for value in options if value and value not in HEARD_FROM_OPTIONS]
    assert countries.count("Czechia") == 1 and "Czech Republic" not in countries
    assert "Eswatini" in countries and "Swaziland" not in countries
    assert "Netherlands Antilles" not in countries and "Curaçao" in countries
    assert "United Kingdom" in countries and "Kosovo" in countries
    assert not {"European Union", "Eurozone", "United Nations", "Unknown Region", "Outlying Oceania"} & set(countries)
    assert not any(name.startswith("Pseudo") for name in countries)
    assert len(countries) == len(set(countries)) == 250
    assert countries.index("Åland Islands") < countries.index("Albania")  # accents sort with their letter


def test_format_errors_and_the_programs_rules_are_shown_in_one_round(app, client):
    """The review: the rules (reseller, teams, commitment, training, plan) only came once the format was right."""
    response = apply(
        client,
        "premier",
        contact_email="not-an-address",
        is_workspace_reseller=None,
        technical_team_size="0",
        committed_revenue="10000",
        trained_sales_staff="0",
        agrees_to_business_plan=None,
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "Enter a valid e-mail address." in page
    assert "Every CloudCodes partner resells Google Workspace" in page
    assert "Partners need a technical team of at least one person" in page
    assert "at least $25,000.00 of revenue a year" in page
    assert "at least 1 member of their sales staff" in page
    assert "agree a joint business plan" in page
    assert count(app, PartnerApplication) == 0


def test_a_field_that_cannot_be_read_gets_its_own_message_and_no_rule_beside_it(client):
    response = apply(
        client, "premier", sales_team_size="many", trained_sales_staff="3", committed_revenue="NaN", website="x y"
    )
    assert response.status_code == 400
    assert field_error(response, "sales_team_size") == "Not a valid integer value. Enter 0 to 100,000."
    assert (
        field_error(response, "committed_revenue") == "Enter an amount in dollars and cents, such as 25000 or 25000.50."
    )
    assert field_error(response, "website") == "Enter a web address such as https://www.example.com."
    # Nothing judged from what could not be read: neither the team's size nor the amount.
    assert field_error(response, "trained_sales_staff") == ""
    page = text_of(response)
    assert "cannot train more sales staff" not in page and "Commit to that amount" not in page
    listed = re.findall(r'<a href="#(\w+)" class="alert-link">', response.get_data(as_text=True))
    assert listed == ["website", "sales_team_size", "committed_revenue"]


def test_the_migration_gives_stored_countries_cldrs_names(seeded_app):
    with seeded_app.app_context():
        downgrade(revision="0010")
        with _db.engine.begin() as connection:
            connection.execute(text("UPDATE partner_applications SET country = 'Czech Republic'"))
            connection.execute(
                text("UPDATE partner_applications SET country = 'Netherlands Antilles' WHERE state = 'rejected'")
            )
            connection.execute(text("UPDATE partners SET country = 'Swaziland'"))
        upgrade()
        with _db.engine.connect() as connection:
            applications = set(connection.scalars(text("SELECT country FROM partner_applications")))
            partners = set(connection.scalars(text("SELECT country FROM partners")))
            sent = set(connection.scalars(text("SELECT status_link_sent_at FROM partner_applications")))
    assert applications == {"Czechia", "Netherlands Antilles"}  # a country that is gone stays as it was
    assert partners == {"Eswatini"}
    assert sent == {None}  # not known for the applications already there: the next repeat sends the link


def test_repeated_applications_at_the_same_moment_send_the_status_link_once(app, client):
    """A compare-and-set on the time it was last sent: of ten tries released together, one e-mails it."""
    assert apply(client).status_code == 303
    with app.app_context():
        _db.session.execute(update(PartnerApplication).values(status_link_sent_at=None))
        _db.session.commit()
    threads_count = 10
    barrier = threading.Barrier(threads_count)
    outcomes, failures = [], []

    def try_again(n: int) -> None:
        with app.app_context():
            try:
                data = ApplicationInput(
                    level="reseller",
                    company_name="ACME Cloud",
                    website="https://stranger.example",
                    country="United Kingdom",
                    contact_name="Sam Stranger",
                    contact_email=f"sam{n}@stranger.example",
                    contact_phone="+44 20 7946 0000",
                    is_workspace_reseller=True,
                    workspace_reseller_id="C01abc234",
                    sales_team_size=4,
                    technical_team_size=2,
                    expected_customers=0,
                    heard_from="",
                )
                barrier.wait(timeout=30)
                submit_application(data, f"198.51.100.{n + 1}")
            except DuplicateApplication:
                outcomes.append("repeated")
            except BaseException as error:  # noqa: BLE001 - reported below, in the test's own thread
                failures.append(error)
                barrier.abort()
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=try_again, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if failures:
        raise failures[0]
    assert outcomes == ["repeated"] * threads_count
    with app.app_context():
        links = _db.session.scalars(
            select(OutboxMessage.to_address).where(OutboxMessage.template == "application_status_link")
        ).all()
    assert links == ["olivia@acme-cloud.example.com"]
