"""Notices by e-mail: the rules of who is told what, and the one responsive HTML layout with its CSS inlined."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cloudcodes.auth.models import User
from cloudcodes.billing.payouts import close_month
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import OutboxMessage
from cloudcodes.mail.outbox import queue_email
from cloudcodes.notices.models import Notice
from cloudcodes.notices.rules import (
    DEFAULT_DELIVERY,
    Delivery,
    NoticeKind,
    delivery_for,
    may_receive,
    reminder_due,
)
from cloudcodes.notices.services import save_preferences, send_digests, send_reminders
from cloudcodes.partners.models import MemberRole, Partner
from cloudcodes.partners.services import add_member
from cloudcodes.referrals.models import DomainRegistration
from tests.factories import UserFactory
from tests.integration.test_payouts import (
    admin_user,
    buy,
    code_for,
    make_partner,
    on,
    partner_client,
    refund,
)
from tests.support.web import csrf_token


def test_money_notices_never_go_to_a_technical_member():
    for kind in (NoticeKind.PURCHASE, NoticeKind.REFUND, NoticeKind.STATEMENT_READY):
        assert may_receive("owner", kind)
        assert may_receive("sales", kind)
        assert not may_receive("technical", kind)
    for kind in (NoticeKind.REGISTRATION_ENDING, NoticeKind.LEVEL_CHANGE):
        assert all(may_receive(role, kind) for role in ("owner", "sales", "technical"))
    assert not may_receive("intruder", NoticeKind.LEVEL_CHANGE)


def test_a_missing_choice_means_the_default_and_purchases_default_to_the_digest():
    assert DEFAULT_DELIVERY[NoticeKind.PURCHASE] == Delivery.DIGEST
    assert delivery_for(NoticeKind.REFUND, {}) == Delivery.IMMEDIATELY
    assert delivery_for(NoticeKind.REFUND, {NoticeKind.REFUND: Delivery.OFF}) == Delivery.OFF


@pytest.mark.parametrize(
    ("days_left", "reminder"),
    [(30, None), (15, None), (14, 14), (10, 14), (4, 14), (3, 3), (1, 3), (0, None), (-2, None)],
)
def test_a_registration_is_reminded_at_14_then_at_3_days(days_left, reminder):
    assert reminder_due(days_left) == reminder


def test_the_html_part_has_its_css_inlined_and_a_text_part_exists(app, db):
    queue_email(
        to="ana@acme.example",
        template="test_message",
        context={"title": "Welcome to the program", "name": "Ana", "note": "Fish & chips"},
    )
    db.session.commit()
    message = db.session.scalars(select(OutboxMessage)).one()
    html = message.html_body
    assert 'class="wrapper" style="' in html
    assert "max-width: 600px" in html.split('class="wrapper"', 1)[1].split(">", 1)[0]
    # Only what cannot be inlined (the phone layout's media query) is left in a <style> block.
    style_blocks = html.split("<style>")[1:]
    assert all(block.lstrip().startswith("@media") for block in style_blocks)
    assert "Ana" in message.text_body
    assert "<" not in message.text_body.split("\n", 1)[0]


# --- Notices raised by what happens -----------------------------------------------------------------

OWNER = "owner@alpha.example"


def mails(template, to=None):
    query = select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    if to is not None:
        query = query.where(OutboxMessage.to_address == to)
    return list(_db.session.scalars(query))


def user(email):
    return _db.session.scalar(select(User).where(User.email == email))


def choose(email, **deliveries):
    save_preferences(user(email), {NoticeKind(kind): Delivery(value) for kind, value in deliveries.items()})


@pytest.fixture
def team(app):
    """Alpha (owner, a salesperson, a technical member), a code for acme.com; nothing bought yet."""
    with app.app_context(), on(2026, 1, 2):
        alpha = make_partner("Alpha", OWNER)
        partner = _db.session.get(Partner, alpha)
        add_member(partner, UserFactory(email="sam@alpha.example", full_name="Sam Sales"), MemberRole.SALES)
        add_member(partner, UserFactory(email="tess@alpha.example"), MemberRole.TECHNICAL)
        _db.session.commit()
        code = code_for(alpha, "acme.com")
    return {"alpha": alpha, "code": code}


def test_a_purchase_goes_to_the_digest_by_default_and_at_once_when_chosen(app, team):
    with app.app_context():
        choose("sam@alpha.example", purchase="immediately")
        with on(2026, 1, 10):
            buy("A-1", "acme.com", "1000.00", datetime(2026, 1, 10, 9, tzinfo=UTC), code=team["code"])
        # The salesperson chose "immediately": one mail with the purchase, now.
        [mail] = mails("notice", to="sam@alpha.example")
        assert mail.subject == "New purchase by acme.com: $1,000.00"
        assert "acme.com bought CloudCodes Access Control (10 seats) for $1,000.00, order A-1" in mail.text_body
        assert "your commission is $150.00" in mail.text_body
        assert "/dashboard/earnings" in mail.text_body and "/account#notices" in mail.text_body
        assert "your commission is $150.00" in mail.html_body
        # The owner has the default (the digest): nothing yet. The technical member sees no money.
        assert mails("notice", to=OWNER) == []
        kinds = {(n.user.email, n.delivery, n.sent_at is not None) for n in _db.session.scalars(select(Notice))}
        assert kinds == {("sam@alpha.example", Delivery.IMMEDIATELY, True), (OWNER, Delivery.DIGEST, False)}


def test_the_digest_sends_once_and_only_the_chosen_kinds(app, team):
    with app.app_context():
        choose(OWNER, refund="digest")
        choose("sam@alpha.example", purchase="off", refund="off")
        with on(2026, 1, 10):
            buy("A-1", "acme.com", "1000.00", datetime(2026, 1, 10, 9, tzinfo=UTC), code=team["code"])
            buy("A-2", "acme.com", "200.00", datetime(2026, 1, 10, 10, tzinfo=UTC), code=team["code"])
            refund("A-1", "R-1", "400.00", datetime(2026, 1, 10, 11, tzinfo=UTC))
        with on(2026, 1, 11, hour=7):
            report = send_digests()
            assert (report.mails, report.notices) == (1, 3)
            [digest] = mails("notice_digest")
            assert digest.to_address == OWNER
            assert digest.subject == "Your CloudCodes partner digest: 3 notices"
            text = digest.text_body
            assert text.count("acme.com bought") == 2 and "order A-2" in text
            assert "acme.com was refunded $400.00 of order A-1; $60.00 of your commission is taken back." in text
            assert "New attributed purchase" in text and "Refund" in text
            # Sent once: a second run (the job retried, an operator's command) finds nothing left.
            assert send_digests() == type(report)(mails=0, notices=0)
        assert len(mails("notice_digest")) == 1
        # The salesperson turned both kinds off: no notice, no mail at all.
        assert mails("notice", to="sam@alpha.example") == [] and mails("notice_digest", to="sam@alpha.example") == []
        assert _db.session.scalar(select(func.count()).select_from(Notice).where(Notice.sent_at.is_(None))) == 0


def test_a_statement_ready_notice_goes_to_the_money_roles_at_once(app, team):
    with app.app_context():
        with on(2026, 1, 10):
            buy("A-1", "acme.com", "1000.00", datetime(2026, 1, 10, 9, tzinfo=UTC), code=team["code"])
        with on(2026, 3, 2):
            close_month(date(2026, 2, 1), by=admin_user())
        ready = mails("notice")
        assert {m.to_address for m in ready} == {OWNER, "sam@alpha.example"}
        assert ready[0].subject == "Your payout statement for February 2026 is ready: $150.00"


def test_registrations_are_reminded_14_then_3_days_before_they_end_once_each(app, team, runner):
    with app.app_context():
        registration = _db.session.scalar(select(DomainRegistration).where(DomainRegistration.domain == "acme.com"))
        ends_on = registration.expires_at.date()
        with on(*(ends_on - timedelta(days=20)).timetuple()[:3]):
            assert send_reminders().notices == 0  # too early
        fourteen = ends_on - timedelta(days=14)
        result = runner.invoke(args=["notices", "reminders", "--as-of", fourteen.isoformat()])
        assert result.exit_code == 0, result.output
        assert "Reminded 3 users of 1 registration ending soon" in result.output
        reminders = mails("notice")
        assert {m.to_address for m in reminders} == {OWNER, "sam@alpha.example", "tess@alpha.example"}
        assert reminders[0].subject == "Your registration of acme.com ends in 14 days"
        assert "/dashboard/referrals" in reminders[0].text_body
        # Again the same day, and the next (the job ran twice, or late): nothing more.
        assert send_reminders(fourteen).notices == 0
        assert send_reminders(fourteen + timedelta(days=1)).notices == 0
        three = send_reminders(ends_on - timedelta(days=3))
        assert three.notices == 3
        assert mails("notice")[-1].subject == "Your registration of acme.com ends in 3 days"
        assert send_reminders(ends_on - timedelta(days=2)).notices == 0
        assert len(mails("notice")) == 6


def test_the_reminders_command_refuses_a_wrong_date(runner):
    result = runner.invoke(args=["notices", "reminders", "--as-of", "2027-02-30"])
    assert result.exit_code != 0 and "is not a date: write it as YYYY-MM-DD" in result.output


# --- Choosing on /account -----------------------------------------------------------------------------


def checked(section, kind):
    """The value of the radio button checked for ``kind``."""
    import re

    tags = re.findall(rf'<input[^>]*name="notices-notice_{kind}"[^>]*>', section)
    assert len(tags) == 3, tags
    [value] = [re.search(r'value="([^"]*)"', tag).group(1) for tag in tags if " checked" in tag]
    return value


def notices_section(page):
    return page.split('id="notices"', 1)[1].split("</section>", 1)[0]


def test_each_user_chooses_per_kind_the_kinds_its_role_may_get(app, team):
    with on(2026, 1, 5):
        owner = partner_client(app, OWNER)
        page = owner.get("/account").get_data(as_text=True)
        section = notices_section(page)
        for label in (
            "New attributed purchase",
            "Refund",
            "Registration ending",
            "Payout statement ready",
            "Level change",
        ):
            assert label in section
        # Each kind preset to its default: purchases to the digest, the rest at once.
        assert checked(section, "purchase") == "digest" and checked(section, "refund") == "immediately"
        technical = partner_client(app, "tess@alpha.example")
        section = notices_section(technical.get("/account").get_data(as_text=True))
        assert "Registration ending" in section and "Level change" in section
        assert "New attributed purchase" not in section and "Payout statement ready" not in section

        data = {
            "notices-csrf_token": csrf_token(page),
            "notices-notice_purchase": "immediately",
            "notices-notice_refund": "off",
            "notices-notice_registration_ending": "digest",
            "notices-notice_statement_ready": "immediately",
            "notices-notice_level_change": "immediately",
        }
        response = owner.post("/account/notices", data=data)
        assert response.status_code == 303 and response.headers["Location"].endswith("/account#notices")
        page = owner.get("/account").get_data(as_text=True)
        assert "Your e-mail notices are saved." in page
        assert owner.post("/account/notices", data={**data, "notices-csrf_token": csrf_token(page)}).status_code == 303
        assert "nothing changed" in owner.get("/account").get_data(as_text=True)
    with app.app_context():
        from cloudcodes.notices.services import preferences_of

        chosen = preferences_of(user(OWNER))
        assert chosen[NoticeKind.PURCHASE] == Delivery.IMMEDIATELY and chosen[NoticeKind.REFUND] == Delivery.OFF


@pytest.mark.parametrize("value", ["always", "", "digest\r\nBcc: x@evil.example", "\u202edigest"])
def test_a_choice_that_is_none_of_the_three_is_refused_and_nothing_changes(app, team, value):
    with on(2026, 1, 5):
        owner = partner_client(app, OWNER)
        page = owner.get("/account").get_data(as_text=True)
        data = {
            "notices-csrf_token": csrf_token(page),
            "notices-notice_purchase": "immediately",
            "notices-notice_refund": value,
            "notices-notice_registration_ending": "digest",
            "notices-notice_statement_ready": "immediately",
            "notices-notice_level_change": "immediately",
        }
        response = owner.post("/account/notices", data=data)
        assert response.status_code == 400
        section = notices_section(response.get_data(as_text=True))
        assert 'id="notices-notice_refund-error"' in section
    with app.app_context():
        from cloudcodes.notices.models import NoticePreference

        assert _db.session.scalar(select(func.count()).select_from(NoticePreference)) == 0


def test_staff_and_users_without_a_partner_have_no_notices(app, team):
    from tests.support.web import make_staff, staff_client

    staff = staff_client(app, make_staff(app, role="admin"))
    assert 'id="notices"' not in staff.get("/account").get_data(as_text=True)
    page = staff.get("/account").get_data(as_text=True)
    assert staff.post("/account/notices", data={"notices-csrf_token": csrf_token(page)}).status_code == 404


# --- Two digest runs at the same moment -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_app(request):
    from tests.conftest import make_test_app

    application = make_test_app(request.getfixturevalue(f"{request.param}_database"))
    try:
        yield application
    finally:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_two_digest_runs_at_once_send_each_user_one_digest(race_app):
    with race_app.app_context(), on(2026, 1, 2):
        alpha = make_partner("Alpha", OWNER)
        partner = _db.session.get(Partner, alpha)
        for n in range(5):
            add_member(partner, UserFactory(email=f"sales{n}@alpha.example"), MemberRole.SALES)
        _db.session.commit()
        code = code_for(alpha, "acme.com")
    with race_app.app_context(), on(2026, 1, 10):
        for n in range(4):
            buy(f"A-{n}", "acme.com", "100.00", datetime(2026, 1, 10, 9, n, tzinfo=UTC), code=code)
        _db.session.remove()

    threads = 6
    barrier = threading.Barrier(threads)
    reports, failures = [], []

    def run():
        try:
            with race_app.app_context(), on(2026, 1, 11, hour=7):
                barrier.wait()
                reports.append(send_digests())
                _db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    with race_app.app_context():
        digests = mails("notice_digest")
        # Six users, four purchases each: one digest each, whichever run sent it.
        assert sorted(m.to_address for m in digests) == sorted([OWNER] + [f"sales{n}@alpha.example" for n in range(5)])
        assert all("4 notices" in m.subject for m in digests)
        assert sum(r.mails for r in reports) == 6 and sum(r.notices for r in reports) == 24
