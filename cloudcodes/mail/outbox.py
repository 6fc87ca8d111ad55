"""The mail outbox: ``queue_email`` writes a message in the caller's transaction, ``deliver_due`` sends it.

Queuing never talks to a mail server, so a change and the e-mail announcing it commit (or roll
back) together; once it is committed, the worker is asked for a delivery a moment later (the job
``outbox.deliver``, ``cloudcodes.mail.tasks``, which also sweeps every minute). A delivery (the job,
or ``flask outbox send``) sends what is due over SMTP (``SMTP_URL``) or, when no server is
configured, writes ``.eml`` files under ``instance/mail/``. A temporary failure (a 4xx
answer, a server that is down or slow) leaves the message queued, retried later with a growing
pause between attempts, up to ``MAX_ATTEMPTS``; a permanent answer (5xx: no such user, message
refused) or the last attempt marks it ``failed`` with the reason. Staff see the failed messages in
the console and may put one back in the queue (``retry_failed``).
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import css_inline
from blinker import Namespace
from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template, render_template_string
from sqlalchemy import Select, func, select

from cloudcodes import clock, formatting
from cloudcodes.audit.services import record
from cloudcodes.extensions import db
from cloudcodes.jobs.queue import enqueue
from cloudcodes.mail.models import MailStatus, OutboxMessage
from cloudcodes.services import ChangedMeanwhile, after_commit, transactional

if TYPE_CHECKING:
    from cloudcodes.auth.models import User

SUBJECT_PREFIX = "Subject: "
SMTP_TIMEOUT = 10  # seconds, for connecting and for each reply
# The pause after the 1st, 2nd, ... failed attempt; the last one repeats.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
)
MAX_ERROR_LENGTH = 500
# Temporary failures give up at this attempt: with BACKOFF, some 43 hours after the first one, so a
# mail server that is down for a day loses nothing, and an address that never works ends up failed.
MAX_ATTEMPTS = 12
# A commit that queued e-mail asks the worker for a delivery this many seconds later (the sweep
# every minute catches up on anything this misses, such as a commit while the broker was down).
DELIVER_AFTER_COMMIT = 2  # seconds

log = logging.getLogger(__name__)
# True while a delivery runs: what it queues itself (password resets) leaves in this very run.
_delivering: contextvars.ContextVar[bool] = contextvars.ContextVar("cloudcodes_outbox_delivering", default=False)


# Sent at the start of each delivery run: packages that queue their mail out of the request (the
# password resets of auth) add it now, so it leaves in this run.
delivery_starting = Namespace().signal("outbox-delivery-starting")


class MailSettingsError(ValueError):
    """SMTP_URL or MAIL_FROM cannot be used; the message says what is wrong."""


# --- Queuing ----------------------------------------------------------------------------------


def queue_email(
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    to_name: str = "",
    from_name: str | None = None,
    reply_to: str | None = None,
) -> OutboxMessage:
    """Render ``templates/mail/<template>.txt`` and ``.html`` and add the message to the session.

    Nothing is committed here: the caller's commit sends the e-mail together with the change
    that caused it. The subject is the .txt template's first line when it starts with
    ``Subject: ``, otherwise ``context["subject"]``. Raises ValueError for an invalid address or
    for control characters (CR, LF, ...) in any header value.
    """
    to_address = _checked_address(to, "recipient address")
    reply_to_address = _checked_address(reply_to, "Reply-To address") if reply_to else None
    to_name = _checked_header(to_name, "recipient name", max_length=200)
    from_name = _checked_header(from_name, "sender name", max_length=200) or None

    # The house style, not the formats of whoever's request queued it: the reader is someone else.
    with formatting.default_locale():
        subject, text_body = _render_text(template, context)
        subject = _checked_header(subject, "subject", max_length=300)
        if not subject:
            raise ValueError(f"mail/{template}.txt has no 'Subject: ' first line and the context no 'subject'.")
        html_body = render_template(f"mail/{template}.html", **{**context, "subject": subject})
    # Many mail clients drop <style> blocks: the layout's CSS goes onto the elements themselves.
    # The media queries (phones) cannot be inlined and stay in a <style> for the clients that read it.
    html_body = css_inline.inline(html_body, keep_at_rules=True)

    now = clock.now()
    message = OutboxMessage(
        to_address=to_address,
        to_name=to_name,
        from_name=from_name,
        reply_to=reply_to_address,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        template=template,
        status=MailStatus.QUEUED,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(message)
    _deliver_after_commit()
    return message


def _deliver_after_commit() -> None:
    if _delivering.get():
        return
    # Queued outside a service (RuntimeError): the caller commits it itself, and the next sweep sends it.
    with contextlib.suppress(RuntimeError):
        after_commit(request_delivery, once=True)


def request_delivery() -> None:
    """Ask the worker to deliver the outbox in a moment; never fails: the sweep catches up when the broker is down."""
    try:
        enqueue("outbox.deliver", countdown=DELIVER_AFTER_COMMIT, trigger="commit")
    except Exception as error:  # noqa: BLE001 - the change is committed: its e-mail must not turn it into an error
        log.warning("Could not ask for a delivery of the outbox (the next sweep will send the e-mail): %s", error)


def _render_text(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """The subject (from a ``Subject: `` first line, else the context) and the plain-text body."""
    name = f"mail/{template}.txt"
    text = render_template(name, **context)
    source, _, _ = current_app.jinja_env.loader.get_source(current_app.jinja_env, name)  # type: ignore[union-attr]
    first_line = source.split("\n", 1)[0].rstrip("\r")
    if not first_line.startswith(SUBJECT_PREFIX):
        return str(context.get("subject") or ""), text
    # Render the subject line on its own: a value with a line break in it would otherwise
    # silently spill into the body instead of being refused.
    # Autoescaping is for HTML: "A & B" stays "A & B" in a subject.
    unescaped = "{% autoescape false %}" + first_line + "{% endautoescape %}"
    subject = render_template_string(unescaped, **context)[len(SUBJECT_PREFIX) :]
    body = text.split("\n", 1)[1] if "\n" in text else ""
    return subject, body.lstrip("\n")


def _checked_header(value: str | None, what: str, *, max_length: int) -> str:
    """The value stripped of surrounding spaces; ValueError if it could break out of its header."""
    value = value or ""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise ValueError(f"The {what} contains a line break or another control character.")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"The {what} is longer than {max_length} characters.")
    return value


def _checked_address(value: str, what: str) -> str:
    """A syntactically valid address (the domain in ASCII, so any SMTP server accepts it)."""
    _checked_header(value, what, max_length=254)
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(f"The {what} {value!r} is not valid: {error}") from error
    return result.ascii_email or result.normalized


# --- Delivery ---------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # failed this time, to be retried later
    given_up: int = 0  # refused for good, or at their last attempt: now ``failed``
    queued: int = 0  # still waiting, not tried in this run: not due yet, or over the limit
    written_to: Path | None = None  # the folder, when no SMTP server is configured

    def summary(self) -> str:
        failed = f"failed {self.failed} (will retry)" if self.failed else "failed 0"
        given_up = f", gave up on {self.given_up} (see Mail in the console)" if self.given_up else ""
        line = f"Sent {self.sent}, {failed}{given_up}, {self.queued} still queued."
        if self.written_to is not None:
            line += f"\nSMTP_URL is not set: messages are written to {self.written_to}."
        return line


@dataclass(frozen=True)
class SmtpSettings:
    use_ssl: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str | None) -> SmtpSettings | None:
    """``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://...``; None when unset."""
    if not url:
        return None
    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError as error:
        raise MailSettingsError(f"SMTP_URL is malformed: {error}.") from error
    if parts.scheme not in ("smtp", "smtps"):
        raise MailSettingsError(
            f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme + '://' if parts.scheme else '(none)'}."
        )
    if not parts.hostname:
        raise MailSettingsError("SMTP_URL has no host name: use smtp://user:password@host:port.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MailSettingsError("SMTP_URL takes no path or query: use smtp://user:password@host:port.")
    use_ssl = parts.scheme == "smtps"
    return SmtpSettings(
        use_ssl=use_ssl,
        host=parts.hostname,
        port=port or (465 if use_ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def site_sender() -> Address:
    """The From address configured as MAIL_FROM, e.g. ``CloudCodes Partner Program <partners@...>``."""
    configured = str(current_app.config.get("MAIL_FROM") or "")
    name, addr_spec = parseaddr(configured)
    try:
        _checked_header(configured, "MAIL_FROM setting", max_length=500)
        if "@" not in addr_spec:
            raise ValueError("it has no address")
        return Address(display_name=name, addr_spec=addr_spec)
    except ValueError as error:
        raise MailSettingsError(f"MAIL_FROM {configured!r} is not a usable From address: {error}.") from error


def build_email(message: OutboxMessage, sender: Address, now: datetime) -> EmailMessage:
    """The MIME message: multipart/alternative with the text part first, then the HTML."""
    email = EmailMessage()
    if message.from_name:
        sender = Address(display_name=message.from_name, username=sender.username, domain=sender.domain)
    email["From"] = sender
    email["To"] = Address(display_name=message.to_name or "", addr_spec=message.to_address)
    if message.reply_to:
        email["Reply-To"] = Address(addr_spec=message.reply_to)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now)
    # The same on every attempt, so a message delivered twice (a lost reply) is recognisably one.
    created = int(message.created_at.timestamp())
    email["Message-ID"] = f"<outbox-{message.id}-{created}@{sender.domain}>"
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    return email


def backoff(attempts: int) -> timedelta:
    """The pause before the next try after ``attempts`` failed attempts."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _due(now: datetime) -> Select[tuple[OutboxMessage]]:
    return select(OutboxMessage).where(OutboxMessage.status == MailStatus.QUEUED, OutboxMessage.next_attempt_at <= now)


@transactional
def _due_ids(now: datetime, limit: int) -> list[int]:
    # Its own (short) transaction: nothing stays locked while the mail server is talked to.
    query = _due(now).with_only_columns(OutboxMessage.id).order_by(OutboxMessage.id).limit(limit)
    return list(db.session.scalars(query))


@transactional
def _deliver_one(
    message_id: int, transport: _Transport, sender: Address, now: datetime, report: DeliveryReport
) -> bool:
    """Send one message, recording the outcome in its own transaction; True when the server is unreachable."""
    # Lock the row (PostgreSQL) so that two runs at once never send the same message.
    message = db.session.scalars(
        _due(now).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    if message is None:  # sent meanwhile by another run
        return False
    message.attempts += 1
    try:
        transport.send(build_email(message, sender, now), message.id)
    except (smtplib.SMTPException, OSError) as error:
        message.last_error = _trimmed(_describe(error))
        if is_permanent(error) or message.attempts >= MAX_ATTEMPTS:
            message.status = MailStatus.FAILED
            message.failed_at = now
            report.given_up += 1
        else:
            message.next_attempt_at = now + backoff(message.attempts)
            report.failed += 1
        # The rest would fail the same way: they wait for the next run.
        return isinstance(error, _Unreachable | smtplib.SMTPSenderRefused)
    message.status = MailStatus.SENT
    message.sent_at = now
    message.last_error = None
    report.sent += 1
    return False


@transactional
def _still_queued() -> int:
    waiting = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == MailStatus.QUEUED)
    return db.session.scalar(waiting) or 0


def deliver_due(now: datetime | None = None, limit: int = 100) -> DeliveryReport:
    """Send the queued messages that are due, oldest first, each one's outcome committed on its own."""
    delivering = _delivering.set(True)
    try:
        return _deliver_due(now, limit)
    finally:
        _delivering.reset(delivering)


def _deliver_due(now: datetime | None, limit: int) -> DeliveryReport:
    delivery_starting.send(current_app._get_current_object(), limit=limit)  # type: ignore[attr-defined]
    now = now or clock.now()
    settings = parse_smtp_url(current_app.config.get("SMTP_URL"))
    sender = site_sender()
    report = DeliveryReport()
    ids = _due_ids(now, limit)

    if settings is None:
        transport: _Transport = _FolderTransport(Path(current_app.instance_path) / "mail", now)
        report.written_to = transport.folder
    else:
        transport = _SmtpTransport(settings)
    try:
        for message_id in ids:
            if _deliver_one(message_id, transport, sender, now, report):
                break  # unreachable, or our sender refused: the rest wait for the next run
    finally:
        transport.close()
    report.queued = max(_still_queued() - report.failed, 0)
    return report


def is_permanent(error: BaseException) -> bool:
    """Whether the server refused this message for good (a 5xx answer to its recipient or its content).

    A refused sender (MAIL FROM) is not: that is the site's configuration, the same for every
    message, so the messages wait (and are retried) rather than all failing at once. Nor is anything
    said while connecting or logging in (``_Unreachable``), a 4xx answer, a timeout or a lost connection.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(error, smtplib.SMTPSenderRefused | _Unreachable):
        return False
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(error: BaseException) -> str:
    if isinstance(error, _Unreachable) and error.__cause__ is not None:
        return f"{error}: {_describe(error.__cause__)}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refusals = "; ".join(f"{code} {_reply_text(reply)}" for code, reply in error.recipients.values())
        return f"Recipient refused: {refusals}"
    if isinstance(error, smtplib.SMTPSenderRefused):
        return f"Sender {error.sender} refused: {error.smtp_code} {_reply_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPDataError):
        return f"Message refused: {error.smtp_code} {_reply_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}: {error.smtp_code} {_reply_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _trimmed(reason: str) -> str:
    """One line (a multi-line SMTP reply joined with spaces), at most MAX_ERROR_LENGTH characters."""
    line = " ".join(reason.split())
    return line if len(line) <= MAX_ERROR_LENGTH else line[: MAX_ERROR_LENGTH - 1] + "…"


# --- Failed messages --------------------------------------------------------------------------


def failed_messages() -> Select[tuple[OutboxMessage]]:
    """The messages the outbox gave up on, the latest first (for the console's list)."""
    return (
        select(OutboxMessage)
        .where(OutboxMessage.status == MailStatus.FAILED)
        .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
    )


def failed_count() -> int:
    failed = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == MailStatus.FAILED)
    return db.session.scalar(failed) or 0


@transactional
def retry_failed(message_id: int, *, by: User) -> OutboxMessage:
    """Put a failed message back in the queue, due now, with a fresh count of attempts; audited.

    ChangedMeanwhile when it is no longer failed (another tab, another admin retried it already).
    """
    # Locked and read afresh: the caller may hold the row as it was before another admin's retry.
    locked = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    message = db.session.scalars(locked.execution_options(populate_existing=True)).first()
    if message is None or message.status != MailStatus.FAILED:
        raise ChangedMeanwhile("This message is no longer failed: it has been retried already.")
    record(
        "mail.retried",
        actor=by,
        target=message,
        details={
            "to": message.to_address,
            "subject": message.subject,
            "attempts": message.attempts,
            "last_error": message.last_error,
        },
    )
    message.status = MailStatus.QUEUED
    message.attempts = 0
    message.failed_at = None
    message.next_attempt_at = clock.now()
    return message


class _Unreachable(OSError):
    """Connecting, STARTTLS or logging in failed: no message can go out in this run."""


class _Transport:
    def send(self, email: EmailMessage, message_id: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _FolderTransport(_Transport):
    """Development without SMTP: one .eml file per message."""

    def __init__(self, folder: Path, now: datetime) -> None:
        self.folder = folder
        self.stamp = now.strftime("%Y%m%dT%H%M%S%fZ")

    def send(self, email: EmailMessage, message_id: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{message_id:06d}-{self.stamp}.eml", "xb") as file:
            file.write(email.as_bytes())


class _SmtpTransport(_Transport):
    """One connection for the whole run, opened at the first message and reopened after an error."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def send(self, email: EmailMessage, message_id: int) -> None:
        if self.connection is None:
            self.connection = self._connect()
        try:
            self.connection.send_message(email)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        server = f"the SMTP server {settings.host}:{settings.port}"
        try:
            if settings.use_ssl:
                context = ssl.create_default_context()
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=SMTP_TIMEOUT, context=context
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT)
        except (smtplib.SMTPException, OSError) as error:
            raise _Unreachable(f"Cannot connect to {server}") from error
        try:
            connection.ehlo()
            encrypted = settings.use_ssl
            if not settings.use_ssl and connection.has_extn("starttls"):
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
                encrypted = True
            if settings.username:
                if not encrypted and not _is_loopback(settings.host):
                    # Never send the mail password in clear text across a network.
                    connection.close()
                    raise _Unreachable(f"{server} offers no encryption (STARTTLS): refusing to send the password")
                connection.login(settings.username, settings.password or "")
        except (smtplib.SMTPException, OSError) as error:
            connection.close()
            raise _Unreachable(f"STARTTLS or login failed at {server}") from error
        return connection

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.quit()
        connection.close()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
