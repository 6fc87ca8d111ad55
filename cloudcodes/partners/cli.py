"""``flask --app wsgi payout-keys rotate``: re-encrypt the stored payout details under the first key."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cloudcodes import formatting
from cloudcodes.partners.company import rotate_payout_keys

payout_keys_cli = AppGroup("payout-keys", help="The keys the partners' bank numbers and tax IDs are encrypted with.")


@payout_keys_cli.command("rotate")
def rotate_command() -> None:
    """Encrypt every stored bank number and tax ID with the first key of CLOUDCODES_PAYOUT_ENCRYPTION_KEY.

    Run it after putting the new key first (``new,old``); then the old key can be removed. Safe to run again.
    """
    count = rotate_payout_keys()
    click.echo(f"Re-encrypted the payout details of {formatting.plural(count, 'partner')} with the first key.")
