"""``flask --app wsgi program qualify --year Y``, ``program upgrades --as-of YYYY-MM-DD`` and ``program totals``."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from cloudcodes import formatting
from cloudcodes.billing import totals
from cloudcodes.extensions import db
from cloudcodes.qualification.services import (
    ChangeLine,
    QualificationError,
    booked_upgrades,
    late_annual_run,
    run_annual_qualification,
    run_upgrades,
)

program_cli = AppGroup("program", help="Partner levels: the annual qualification and mid-year upgrades.")


def _report(lines: list[ChangeLine], dry_run: bool, what: str) -> None:
    for line in lines:
        click.echo(("Would change " if dry_run else "Changed ") + line.describe())
    verb = "would change" if dry_run else "changed"
    click.echo(f"{what}: {formatting.plural(len(lines), 'partner')} {verb}.")
    if dry_run:
        click.echo("Dry run: nothing was written and no e-mail was queued.")


@program_cli.command("qualify")
@click.option("--year", required=True, type=int, help="The year to qualify levels for (run on or after 1 January).")
@click.option("--dry-run", is_flag=True, help="Show what would change without writing anything.")
def qualify_command(year: int, dry_run: bool) -> None:
    """Annual qualification: each partner's level for YEAR from its results in the year before."""
    try:
        lines = run_annual_qualification(year, dry_run=dry_run)
    except QualificationError as error:
        raise click.BadParameter(str(error), param_hint="--year") from None
    late = late_annual_run(year)
    if late is not None:
        click.echo(f"Warning: {late.headline}. {late.explain()}")
    _report(lines, dry_run, f"Annual qualification for {year}")


@program_cli.command("upgrades")
@click.option("--as-of", "as_of", required=True, metavar="YYYY-MM-DD", help="The day to check the requirements on.")
@click.option("--dry-run", is_flag=True, help="Show what would change without writing anything.")
def upgrades_command(as_of: str, dry_run: bool) -> None:
    """Mid-year upgrades: Resellers that meet every Premier requirement become Premier next month."""
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date: write it as YYYY-MM-DD.", param_hint="--as-of") from None
    try:
        lines = run_upgrades(day, dry_run=dry_run)
    except QualificationError as error:
        raise click.BadParameter(str(error), param_hint="--as-of") from None
    _report(lines, dry_run, f"Mid-year upgrades as of {formatting.date(day)}")
    if dry_run:
        booked = booked_upgrades(day)
        for line in booked:
            click.echo("Already booked " + line.describe())
        if booked:
            click.echo(
                f"{formatting.plural(len(booked), 'upgrade')} already booked, "
                f"taking effect after {formatting.date(day)}."
            )


@program_cli.command("totals")
@click.option("--check", is_flag=True, help="Only compare the kept totals with the rows; change nothing.")
def totals_command(check: bool) -> None:
    """The partners' monthly totals, which pages and the level rules read: check them, or sum them again.

    The portal keeps them as it writes purchases, refunds and ledger entries; rows written around
    it (a bulk load, a hand-made SQL fix) need them summed again.
    """
    found = totals.differences(db.session)
    for (partner_id, month), kept, summed in found:
        click.echo(f"Partner #{partner_id}, {formatting.date(month, 'month')}: kept {kept}, the rows say {summed}")
    if check:
        click.echo(f"{formatting.plural(len(found), 'month')} differ from the rows.")
        if found:
            raise SystemExit(1)
        return
    totals.rebuild(db.session)
    db.session.commit()
    click.echo(f"Summed again from the rows: {formatting.plural(len(found), 'month')} corrected.")
