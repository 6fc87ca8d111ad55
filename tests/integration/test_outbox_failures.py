"""The outbox gives up: a permanent refusal or too many attempts marks a message failed; admins retry it."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db as _db
from cloudcodes.mail.models import MailStatus, OutboxMessage
from cloudcodes.mail.outbox import MAX_ATTEMPTS, MAX_ERROR_LENGTH, is_permanent, queue_email
from tests import factories
from tests.support.smtp import SmtpServer, free_port
from tests.support.web import csrf_token, login, make_staff, staff_client, submit

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
NO_SUCH_USER = "550 5.1.1 <nobody@acme.example>: Recipient address rejected: User unknown"
TRY_LATER = "451 4.3.0 Mailbox temporarily unavailable, try again later"


def queue(app, to="ana@acme.example", title="Welcome to the program") -> int:
    with app.app_context():
        message = queue_email(to=to, template="test_message", context={"title": title, "name": "Ana", "note": "-"})
        _db.session.commit()
        return message.id


def send(runner) -> str:
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def stored(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = _db.session.get(OutboxMessage, message_id)
        _db.session.expunge(message)
        return message


# --- Delivery outcomes ------------------------------------------------------------------------


@pytest.mark.smtp
def test_a_550_for_the_recipient_fails_the_message_at_once_and_it_is_never_tried_again(app, runner):
    with SmtpServer(refuse={"nobody@acme.example": NO_SUCH_USER}) as server:
        app.config["SMTP_URL"] = server.url
        with time_machine.travel(START, tick=False):
            refused = queue(app, to="nobody@acme.example")
            good = queue(app, to="ana@acme.example")
            output = send(runner)

        assert "Sent 1, failed 0, gave up on 1 (see Mail in the console), 0 still queued." in output
        message = stored(app, refused)
        assert (message.status, message.attempts, message.failed_at) == (MailStatus.FAILED, 1, START)
        assert message.last_error == f"Recipient refused: {NO_SUCH_USER}"
        assert message.sent_at is None
        assert stored(app, good).status == MailStatus.SENT  # the refusal did not hold up the next message

        with time_machine.travel(START + timedelta(days=3), tick=False):
            assert "Sent 0, failed 0, 0 still queued." in send(runner)
        assert [received.rcpt_tos for received in server.received] == [["ana@acme.example"]]
    assert stored(app, refused).attempts == 1


@pytest.mark.smtp
def test_a_message_whose_content_is_refused_with_a_5xx_fails_with_the_reason(app, runner):
    with SmtpServer(refuse_data="554 5.6.0 Message\r\n rejected by content filter") as server:
        app.config["SMTP_URL"] = server.url
        message_id = queue(app)
        assert "gave up on 1" in send(runner)
        assert server.received == []

    message = stored(app, message_id)
    assert message.status == MailStatus.FAILED
    assert message.last_error.startswith("Message refused: 554 5.6.0 Message")
    assert "\n" not in message.last_error and len(message.last_error) <= MAX_ERROR_LENGTH


@pytest.mark.smtp
def test_a_451_is_retried_with_backoff_and_the_message_fails_at_the_last_attempt(app, runner):
    with SmtpServer(refuse={"ana@acme.example": TRY_LATER}) as server:
        app.config["SMTP_URL"] = server.url
        with time_machine.travel(START, tick=False):
            message_id = queue(app)
        now = START
        for attempt in range(1, MAX_ATTEMPTS):
            with time_machine.travel(now, tick=False):
                assert "Sent 0, failed 1 (will retry), 0 still queued." in send(runner)
            message = stored(app, message_id)
            assert (message.status, message.attempts) == (MailStatus.QUEUED, attempt)
            assert message.last_error == f"Recipient refused: {TRY_LATER}"
            assert message.next_attempt_at > now
            now = message.next_attempt_at

        with time_machine.travel(now, tick=False):
            assert "Sent 0, failed 0, gave up on 1 (see Mail in the console), 0 still queued." in send(runner)
        message = stored(app, message_id)
        assert (message.status, message.attempts, message.failed_at) == (MailStatus.FAILED, MAX_ATTEMPTS, now)
        assert "451 4.3.0" in message.last_error
        # Giving up took almost two days of retrying, not minutes.
        assert now - START > timedelta(hours=36)

        with time_machine.travel(now + timedelta(days=1), tick=False):
            assert "Sent 0, failed 0, 0 still queued." in send(runner)
        assert stored(app, message_id).attempts == MAX_ATTEMPTS
        assert server.received == []


@pytest.mark.smtp
def test_a_refused_connection_is_retried_and_the_message_goes_out_once_the_server_is_back(app, runner):
    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    with time_machine.travel(START, tick=False):
        message_id = queue(app)
    now = START
    for attempt in range(1, MAX_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            assert "failed 1 (will retry)" in send(runner)
        message = stored(app, message_id)
        assert (message.status, message.attempts) == (MailStatus.QUEUED, attempt)
        assert "Cannot connect" in message.last_error
        now = message.next_attempt_at

    with SmtpServer(port=port) as server, time_machine.travel(now, tick=False):
        assert "Sent 1, failed 0, 0 still queued." in send(runner)
        assert server.messages[0]["Subject"] == "Welcome to the program"
    message = stored(app, message_id)
    assert (message.status, message.attempts, message.last_error) == (MailStatus.SENT, MAX_ATTEMPTS, None)


@pytest.mark.smtp
def test_a_server_down_for_every_attempt_leaves_the_message_failed_with_the_last_reason(app, runner):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    with time_machine.travel(START, tick=False):
        message_id = queue(app)
    now = START
    for _ in range(MAX_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            output = send(runner)
        now = stored(app, message_id).next_attempt_at
    assert "gave up on 1" in output
    message = stored(app, message_id)
    assert (message.status, message.attempts) == (MailStatus.FAILED, MAX_ATTEMPTS)
    assert message.last_error.startswith("Cannot connect to the SMTP server 127.0.0.1:")


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"a@acme.example": (550, b"No such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@acme.example": (452, b"Mailbox full")}), False),
        (smtplib.SMTPRecipientsRefused({"a@acme.example": (421, b"Closing connection")}), False),
        (smtplib.SMTPDataError(554, b"Message rejected"), True),
        (smtplib.SMTPDataError(451, b"Local error"), False),
        # Our own From address refused: the settings are at fault, for every message alike.
        (smtplib.SMTPSenderRefused(553, b"Sender not allowed", "partners@cloudcodes.example"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False),
        (TimeoutError("timed out"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
    ],
)
def test_only_a_5xx_answer_to_the_message_is_permanent(error, permanent):
    assert is_permanent(error) is permanent


# --- The console ------------------------------------------------------------------------------


def failed_message(app, runner, to="nobody@acme.example", title="Your invitation") -> int:
    """A message the outbox gave up on, the real way: a server that answers 550 for its recipient."""
    with SmtpServer(refuse={to: NO_SUCH_USER}) as server:
        app.config["SMTP_URL"] = server.url
        message_id = queue(app, to=to, title=title)
        assert "gave up on 1" in send(runner)
    return message_id


@pytest.mark.smtp
def test_admins_see_the_failed_mail_retry_it_and_the_next_run_sends_it(app, runner):
    # A domain in Unicode is stored in ASCII and shown as people write it.
    message_id = failed_message(app, runner, to="ana@xn--bcher-kva.example")
    admin = make_staff(app, role="admin")
    client = staff_client(app, admin)

    home = client.get("/admin/").get_data(as_text=True)
    assert "1 e-mail could not be delivered" in home
    assert 'href="/admin/mail"' in home

    page = client.get("/admin/mail")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1 failed message, the latest failure first." in html
    assert "ana@bücher.example" in html
    assert "Your invitation" in html
    assert "Recipient refused: 550 5.1.1" in html
    assert f'action="/admin/mail/{message_id}/retry"' in html
    assert 'aria-current="page" href="/admin/mail">Mail</a>' in html

    response = client.post(f"/admin/mail/{message_id}/retry", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/mail"
    after = client.get("/admin/mail").get_data(as_text=True)
    assert "The message “Your invitation” to ana@bücher.example is back in the queue" in after
    assert "No failed mail" in after

    message = stored(app, message_id)
    assert (message.status, message.attempts, message.failed_at) == (MailStatus.QUEUED, 0, None)
    with app.app_context():
        [event] = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.retried"))
        assert (event.actor_id, event.target_type, event.target_id) == (admin.id, "outbox_messages", str(message_id))
        assert event.details["to"] == "ana@xn--bcher-kva.example"
        assert event.details["last_error"].startswith("Recipient refused: 550")

    # A second tab still showing the button: nothing happens twice.
    again = client.post(f"/admin/mail/{message_id}/retry", data={"csrf_token": csrf_token(html)})
    assert again.status_code == 303
    assert "no longer failed" in client.get("/admin/mail").get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).where(AuditEvent.action == "mail.retried")) == 1

    with SmtpServer() as good_server:
        app.config["SMTP_URL"] = good_server.url
        assert "Sent 1, failed 0, 0 still queued." in send(runner)
        assert good_server.received[0].rcpt_tos == ["ana@xn--bcher-kva.example"]
    message = stored(app, message_id)
    assert (message.status, message.attempts) == (MailStatus.SENT, 1)
    assert "could not be delivered" not in client.get("/admin/").get_data(as_text=True)


def test_the_mail_page_has_an_empty_state_and_needs_a_token_to_retry(app):
    client = staff_client(app, make_staff(app, role="admin"))
    html = client.get("/admin/mail").get_data(as_text=True)
    assert "No failed mail: every message was delivered or is still on its way." in html
    assert "could not be delivered" not in client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/mail/999999/retry", data={"csrf_token": csrf_token(html)}).status_code == 404
    assert client.post("/admin/mail/999999/retry").status_code == 400  # no CSRF token


def test_the_failed_mail_is_listed_25_to_a_page(app):
    with app.app_context():
        now = clock.now()
        for number in range(26):
            _db.session.add(
                OutboxMessage(
                    to_address=f"gone{number}@acme.example",
                    subject=f"Notice {number}",
                    text_body="t",
                    html_body="h",
                    template="test_message",
                    status=MailStatus.FAILED,
                    attempts=1,
                    last_error="Recipient refused: 550 No such user",
                    failed_at=now - timedelta(minutes=number),
                )
            )
        _db.session.commit()
    client = staff_client(app, make_staff(app, role="admin"))

    first = client.get("/admin/mail").get_data(as_text=True)
    assert "26 failed messages, the latest failure first." in first
    assert first.count(">Retry<") == 25
    assert "gone0@acme.example" in first and "gone25@acme.example" not in first
    assert 'href="/admin/mail?page=2"' in first
    second = client.get("/admin/mail?page=2").get_data(as_text=True)
    assert second.count(">Retry<") == 1 and "gone25@acme.example" in second
    assert 'id="csrf_token"' not in first  # one token per row, without repeating an id


@pytest.mark.smtp
def test_a_channel_manager_may_neither_see_nor_retry_failed_mail(app, runner):
    message_id = failed_message(app, runner)
    client = staff_client(app, make_staff(app, role="manager"))

    assert client.get("/admin/mail").status_code == 403
    home = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/mail"' not in home and "could not be delivered" not in home
    response = submit(client, f"/admin/mail/{message_id}/retry", {}, page="/admin/")
    assert response.status_code == 403
    assert stored(app, message_id).status == MailStatus.FAILED


@pytest.mark.smtp
def test_partner_users_and_visitors_never_reach_the_mail_page(app, runner):
    message_id = failed_message(app, runner)
    with app.app_context():
        factories.make_partner("Alpha", owner_email="owner@alpha.example")
    partner = app.test_client()
    assert login(partner, "owner@alpha.example").status_code == 303
    assert partner.get("/admin/mail").status_code == 404
    assert submit(partner, f"/admin/mail/{message_id}/retry", {}, page="/dashboard/").status_code == 404

    visitor = app.test_client()
    response = visitor.get("/admin/mail")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert stored(app, message_id).status == MailStatus.FAILED


# --- The migration ----------------------------------------------------------------------------


def test_the_migration_keeps_the_messages_and_allows_failed_both_ways(app):
    with app.app_context():
        engine = _db.engine
        _db.session.remove()
        downgrade(revision="0009")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO outbox_messages (to_address, to_name, subject, text_body, html_body, template,"
                    " status, attempts, last_error, created_at, next_attempt_at)"
                    " VALUES ('ana@acme.example', 'Ana', 'Hello', 't', 'h', 'test_message', 'queued', 3,"
                    " 'Cannot connect', :now, :now)"
                ),
                {"now": START},
            )

        upgrade(revision="0010")
        with engine.begin() as connection:
            row = connection.execute(text("SELECT to_address, status, attempts, last_error FROM outbox_messages"))
            assert row.one() == ("ana@acme.example", "queued", 3, "Cannot connect")
            connection.execute(text("UPDATE outbox_messages SET status = 'failed', failed_at = :now"), {"now": START})

        downgrade(revision="0009")
        assert "failed_at" not in {column["name"] for column in inspect(engine).get_columns("outbox_messages")}
        with engine.connect() as connection:
            # A failed message goes back in the queue rather than break the older constraint.
            assert connection.scalar(text("SELECT status FROM outbox_messages")) == "queued"
        upgrade()
