"""Running the mail job as the scheduler does: ``flask outbox send`` against a real SMTP server on loopback."""

from __future__ import annotations

from email.message import EmailMessage

from tests.support.smtp import SmtpServer


def run_mail_job(app) -> list[EmailMessage]:
    """One run of the outbox job; returns the messages the server accepted."""
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        try:
            result = app.test_cli_runner().invoke(args=["outbox", "send"])
        finally:
            app.config["SMTP_URL"] = None
        assert result.exit_code == 0, result.output
        return server.messages
