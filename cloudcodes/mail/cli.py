"""``flask --app wsgi outbox send``: deliver the queued e-mail that is due."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cloudcodes.mail.outbox import MailSettingsError, deliver_due

outbox_cli = AppGroup("outbox", help="The e-mail outbox.")


@outbox_cli.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Most messages to send.")
def send_command(limit: int) -> None:
    """Deliver the queued e-mail that is due.

    A temporary failure is retried later; a permanent refusal (5xx), or the last of the attempts,
    marks the message failed: staff see it under Mail in the console and may retry it there.
    """
    try:
        report = deliver_due(limit=limit)
    except MailSettingsError as error:
        raise click.ClickException(str(error)) from error
    click.echo(report.summary())
