"""Demo accounts for ``demo seed``: one of each role, with passwords printed for the developer.

Demo staff get two-factor authentication already on, so the console can be tried at once:
``flask --app wsgi demo code EMAIL`` prints the current code (development only).
"""

from __future__ import annotations

import click
import pyotp
from flask.cli import with_appcontext

from cloudcodes import clock
from cloudcodes.auth.models import Role
from cloudcodes.auth.services import create_user, find_user, new_totp_secret

DEMO_USERS = [
    (Role.ADMIN, "admin@cloudcodes.example", "Ada Admin", "demo-admin-password-2026"),
    (Role.MANAGER, "manager@cloudcodes.example", "Max Manager", "demo-manager-password-2026"),
    (Role.PARTNER, "owner@acme-cloud.example", "Olivia Owner", "demo-partner-password-2026"),
]


def seed_users() -> list[tuple[str, str, str]]:
    logins = []
    for role, email, name, password in DEMO_USERS:
        user = find_user(email) or create_user(email, password, role, full_name=name)
        if user.is_staff and not user.two_factor_enabled:
            user.totp_secret = new_totp_secret()
            user.totp_enabled_at = clock.now()
        logins.append((role.value, email, password))
    return logins


@click.command("code")
@click.argument("email")
@with_appcontext
def demo_code_command(email: str) -> None:
    """Print the current two-factor code of a demo account (development only)."""
    from flask import current_app

    if current_app.config["ENV"] != "development":
        raise click.ClickException("demo code works only with CLOUDCODES_ENV=development.")
    user = find_user(email)
    if user is None or not user.totp_secret:
        raise click.ClickException(f"{email} has no two-factor authentication set up.")
    click.echo(pyotp.TOTP(user.totp_secret).now())
