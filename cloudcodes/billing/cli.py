"""``flask --app wsgi checkouts expire``: end the open checkouts past their 24 hours."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cloudcodes import formatting
from cloudcodes.billing.checkout import expire_checkouts

checkouts_cli = AppGroup("checkouts", help="The customers' checkouts (/redeem).")


@checkouts_cli.command("expire")
def expire_command() -> None:
    """Mark the open checkouts older than 24 hours as expired: they earn nothing. Safe to run again."""
    ended = expire_checkouts()
    click.echo(f"Expired {formatting.plural(ended, 'open checkout')} older than 24 hours.")
