"""The mail outbox: queue in the caller's transaction, deliver with ``flask outbox send``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import time_machine
from sqlalchemy import func, select

from cloudcodes.mail.models import OutboxMessage
from cloudcodes.mail.outbox import SmtpSettings, parse_smtp_url, queue_email
from tests.support.smtp import SmtpServer, free_port

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def queue_test_message(**overrides):
    arguments = {
        "to": "ana@acme.example",
        "to_name": "Ana Pérez",
        "template": "test_message",
        "context": {"title": "Welcome to the program", "name": "Ana", "note": "Fish & chips <b>"},
    }
    arguments.update(overrides)
    return queue_email(**arguments)


def queued_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def send(runner):
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.smtp
def test_a_queued_message_arrives_with_its_headers_and_both_parts(app, db, runner):
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        message = queue_test_message(from_name="María López", reply_to="maria.lopez@cloudcodes.example")
        db.session.commit()

        output = send(runner)

    assert "Sent 1, failed 0, 0 still queued." in output
    [received] = server.received
    assert received.mail_from == "partners@cloudcodes.example"
    assert received.rcpt_tos == ["ana@acme.example"]
    email = received.message
    [sender] = email["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("María López", "partners@cloudcodes.example")
    [recipient] = email["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("Ana Pérez", "ana@acme.example")
    assert email["Reply-To"].addresses[0].addr_spec == "maria.lopez@cloudcodes.example"
    assert email["Subject"] == "Welcome to the program"
    assert email["Date"] and email["Message-ID"]
    assert email.get_content_type() == "multipart/alternative"
    text, html = email.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "Hello Ana," in text.get_content()
    assert "Fish & chips <b>" in text.get_content()
    assert "Subject:" not in text.get_content()
    assert html.get_content_type() == "text/html"
    assert "Fish &amp; chips &lt;b&gt;" in html.get_content()
    assert "CloudCodes" in html.get_content()

    message = db.session.get(OutboxMessage, message.id)
    assert message.status == "sent"
    assert message.attempts == 1
    assert message.sent_at is not None


@pytest.mark.smtp
def test_without_a_sender_name_the_site_name_is_the_display_name(app, db, runner):
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        queue_test_message()
        db.session.commit()
        send(runner)

    email = server.messages[0]
    assert email["From"].addresses[0].display_name == "CloudCodes Partner Program"
    assert email["Reply-To"] is None


@pytest.mark.smtp
def test_several_messages_go_out_over_one_connection_in_id_order(app, db, runner):
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        for number in range(3):
            queue_test_message(to=f"partner{number}@acme.example")
        db.session.commit()

        output = send(runner)

    assert "Sent 3, failed 0, 0 still queued." in output
    assert [received.rcpt_tos for received in server.received] == [[f"partner{n}@acme.example"] for n in range(3)]
    assert len({received.peer for received in server.received}) == 1


@pytest.mark.smtp
def test_a_server_that_is_down_leaves_the_message_queued_until_the_backoff_has_passed(app, db, runner):
    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    with time_machine.travel(START, tick=False):
        message = queue_test_message()
        db.session.commit()
        output = send(runner)

    assert "Sent 0, failed 1 (will retry), 0 still queued." in output
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts) == ("queued", 1)
    assert "Cannot connect" in message.last_error
    assert message.next_attempt_at == START + timedelta(minutes=1)

    with SmtpServer(port=port) as server:
        with time_machine.travel(START + timedelta(seconds=59), tick=False):
            output = send(runner)
        assert "Sent 0, failed 0, 1 still queued." in output
        assert server.received == []

        with time_machine.travel(START + timedelta(minutes=1), tick=False):
            output = send(runner)
        assert "Sent 1, failed 0, 0 still queued." in output
        assert server.messages[0]["Subject"] == "Welcome to the program"

    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    assert message.sent_at == START + timedelta(minutes=1)


@pytest.mark.smtp
def test_repeated_failures_wait_longer_each_time_up_to_six_hours(app, db, runner):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    with time_machine.travel(START, tick=False):
        message = queue_test_message()
        db.session.commit()
    expected = [timedelta(minutes=m) for m in (1, 5, 15, 60, 360, 360)]
    now = START
    for attempt, pause in enumerate(expected, start=1):
        with time_machine.travel(now, tick=False):
            assert "failed 1 (will retry)" in send(runner)
        db.session.expire_all()
        message = db.session.get(OutboxMessage, message.id)
        assert message.attempts == attempt
        assert message.next_attempt_at == now + pause
        now = message.next_attempt_at


@pytest.mark.smtp
def test_when_the_server_is_down_the_rest_of_the_batch_waits_for_the_next_run(app, db, runner):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    first = queue_test_message(to="first@acme.example")
    second = queue_test_message(to="second@acme.example")
    db.session.commit()

    assert "Sent 0, failed 1 (will retry), 1 still queued." in send(runner)
    assert db.session.get(OutboxMessage, first.id).attempts == 1
    assert db.session.get(OutboxMessage, second.id).attempts == 0


def test_without_smtp_each_message_is_written_to_an_eml_file(app, db, runner, tmp_path):
    app.config["SMTP_URL"] = None
    app.instance_path = str(tmp_path)
    message = queue_test_message(from_name="María López")
    db.session.commit()

    output = send(runner)

    assert "Sent 1, failed 0, 0 still queued." in output
    assert "SMTP_URL is not set" in output
    [path] = (tmp_path / "mail").glob("*.eml")
    assert str(message.id) in path.name
    email = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert email["Subject"] == "Welcome to the program"
    assert email["To"].addresses[0].addr_spec == "ana@acme.example"
    assert email["From"].addresses[0].display_name == "María López"
    assert "Hello Ana," in email.get_body(("plain",)).get_content()
    assert db.session.get(OutboxMessage, message.id).status == "sent"


def test_queuing_commits_nothing_by_itself(app, db):
    queue_test_message()
    db.session.rollback()
    assert queued_count(db) == 0


INJECTION = "\r\nBcc: x@evil.example"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"context": {"title": "Hello" + INJECTION}}, id="subject-crlf"),
        pytest.param({"context": {"title": "Hello\nBcc: x@evil.example"}}, id="subject-lf"),
        pytest.param({"to_name": "Ana" + INJECTION}, id="to-name"),
        pytest.param({"from_name": "María" + INJECTION}, id="from-name"),
        pytest.param({"to": "ana@acme.example" + INJECTION}, id="to-address"),
        pytest.param({"reply_to": "maria@cloudcodes.example" + INJECTION}, id="reply-to"),
        pytest.param({"to_name": "Ana\x00"}, id="nul-in-name"),
    ],
)
def test_header_injection_is_refused_and_nothing_is_queued(db, overrides):
    with pytest.raises(ValueError):
        queue_test_message(**overrides)
    db.session.commit()
    assert queued_count(db) == 0


@pytest.mark.parametrize("address", ["not-an-address", "ana@", "ana@@acme.example", ""])
def test_an_invalid_address_is_refused(db, address):
    with pytest.raises(ValueError):
        queue_test_message(to=address)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://mail.example:25", "smtp:// or smtps://"),
        ("mail.example:25", "smtp:// or smtps://"),
        ("smtp://mail.example:port", "malformed"),
        ("smtp://:25", "no host"),
    ],
)
def test_a_malformed_smtp_url_makes_send_fail_with_a_message(app, db, runner, url, complaint):
    app.config["SMTP_URL"] = url
    message = queue_test_message()
    db.session.commit()

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code != 0
    assert complaint in result.output
    assert db.session.get(OutboxMessage, message.id).attempts == 0


def test_smtp_urls_are_parsed_with_their_credentials_decoded():
    assert parse_smtp_url(None) is None
    assert parse_smtp_url("") is None
    assert parse_smtp_url("smtp://mail.example") == SmtpSettings(use_ssl=False, host="mail.example", port=25)
    assert parse_smtp_url("smtps://user%40example.com:p%3Ass%2Fw@Mail.Example:2465") == SmtpSettings(
        use_ssl=True, host="mail.example", port=2465, username="user@example.com", password="p:ss/w"
    )
    assert parse_smtp_url("smtps://mail.example").port == 465
