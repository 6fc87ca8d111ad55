"""``flask --app wsgi notices digest`` and ``notices reminders --as-of YYYY-MM-DD``."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from cloudcodes import clock, formatting
from cloudcodes.notices.services import send_digests, send_reminders

notices_cli = AppGroup("notices", help="Partner users' e-mail notices.")


def _day(value: str | None) -> date:
    if value is None:
        return clock.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2027-03-01.") from None


@notices_cli.command("digest")
def digest_command() -> None:
    """Send each user one mail with the notices waiting for its daily digest. Safe to run again."""
    report = send_digests()
    click.echo(
        f"Sent {formatting.plural(report.mails, 'digest')} holding {formatting.plural(report.notices, 'notice')}."
    )


@notices_cli.command("reminders")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Treat this UTC day as today (default: today).")
def reminders_command(as_of: str | None) -> None:
    """Remind partners of registrations ending in 14 and in 3 days. Each reminder is sent once."""
    day = _day(as_of)
    report = send_reminders(day)
    click.echo(
        f"Reminded {formatting.plural(report.notices, 'user')} of "
        f"{formatting.plural(report.registrations, 'registration')} ending soon, as of {formatting.date(day)}."
    )
