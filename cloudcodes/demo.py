"""``flask --app wsgi demo seed``: demo data to explore the portal with, safe to run again.

Each feature adds a step to demo_steps(); a step returns the demo logins it made, if any.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from cloudcodes import formatting
from cloudcodes.applications.demo import seed_applications
from cloudcodes.auth.demo import demo_code_command, seed_users
from cloudcodes.billing.demo import seed_purchases
from cloudcodes.notices.demo import seed_notice_preferences
from cloudcodes.partners.demo import seed_level_stories, seed_partners
from cloudcodes.program.services import program_terms
from cloudcodes.referrals.demo import seed_claims, seed_referrals
from cloudcodes.services import transactional

DemoLogin = tuple[str, str, str]  # (role, e-mail, password)
DemoStep = Callable[[], list[DemoLogin]]


def seed_program() -> list[DemoLogin]:
    # The migration stores the published terms; reading them here proves they are there.
    terms = program_terms()
    reseller, premier = formatting.percent(terms.reseller_margin_pct), formatting.percent(terms.premier_margin_pct)
    click.echo(f"Program: Reseller {reseller}, Premier {premier}.")
    return []


def demo_steps() -> list[DemoStep]:
    return [
        seed_program,
        seed_users,
        seed_partners,
        seed_referrals,
        seed_purchases,
        seed_notice_preferences,
        seed_level_stories,
        seed_claims,
        seed_applications,
    ]


demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
def seed_command() -> None:
    """Load the demo data (idempotent) and print the demo logins."""
    logins: list[DemoLogin] = []
    for step in demo_steps():
        logins.extend(transactional(step)())
    if logins:
        click.echo("Demo logins:")
        for role, email, password in logins:
            click.echo(f"  {role:<10} {email:<36} {password}")
        click.echo("Staff log in with two-factor authentication; in development, get the current code with")
        click.echo("  .venv/bin/flask --app wsgi demo code admin@cloudcodes.example")
    else:
        click.echo("No demo logins yet.")


demo_cli.add_command(demo_code_command)
