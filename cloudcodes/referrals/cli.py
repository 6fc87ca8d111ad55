"""``flask --app wsgi domains expire --as-of YYYY-MM-DD``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import click
from flask.cli import AppGroup

from cloudcodes import clock, formatting
from cloudcodes.referrals.proof import recheck_unverified
from cloudcodes.referrals.services import expire_registrations

domains_cli = AppGroup("domains", help="Customer domain registrations.")


def parse_as_of(value: str | None) -> datetime:
    """The end of the given UTC day: a registration that ends during that day is past its lifetime."""
    if value is None:
        return clock.now()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-26.") from None
    if day.year < 2000 or day > clock.today().replace(year=clock.today().year + 10):
        raise click.BadParameter(f"{value} is not a date this program could have reached.")
    return datetime.combine(day, time.max, tzinfo=UTC)


@domains_cli.command("expire")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Treat this UTC day as today (default: now).")
def expire_command(as_of: str | None) -> None:
    """End registrations past their lifetime, and the referral codes made for them. Safe to run again."""
    moment = parse_as_of(as_of)
    report = expire_registrations(moment)
    click.echo(
        f"Expired {formatting.plural(report.registrations, 'registration')} "
        f"and {formatting.plural(report.codes, 'referral code')} as of {formatting.date(moment)}."
    )


@domains_cli.command("verify")
def verify_command() -> None:
    """Look again for the DNS proof and evidence of unverified registrations not checked in six hours."""
    report = recheck_unverified()
    click.echo(
        f"Checked {formatting.plural(report.checked, 'registration')}: {formatting.number(report.verified)} "
        f"verified, {formatting.number(report.unavailable)} not checked (DNS did not answer)."
    )
