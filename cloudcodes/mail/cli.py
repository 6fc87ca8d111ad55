"""``flask --app wsgi outbox send``: deliver the queued e-mail that is due."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cloudcodes.mail.outbox import MailSettingsError, deliver_due

outbox_cli = AppGroup("outbox", help="The e-mail outbox.")


@outbox_cli.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Most messages to send.")
def send_command(limit: int) -> None:
    """Deliver the queued e-mail that is due; a failed message stays queued and is retried later."""
    try:
        report = deliver_due(limit=limit)
    except MailSettingsError as error:
        raise click.ClickException(str(error)) from error
    click.echo(report.summary())
