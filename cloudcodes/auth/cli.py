"""``flask --app wsgi users create --email E --role admin|manager``; the password comes on standard input."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from cloudcodes.auth.models import Role
from cloudcodes.auth.services import AccountError, create_user

users_cli = AppGroup("users", help="Staff accounts.")


def read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("create")
@click.option("--email", required=True, help="The staff member's e-mail address (their login).")
@click.option("--role", required=True, type=click.Choice([Role.ADMIN.value, Role.MANAGER.value]))
@click.option("--name", "full_name", default="", help="Their full name, shown to partners.")
def create_command(email: str, role: str, full_name: str) -> None:
    """Create a staff account. Two-factor authentication is set up at its first login."""
    password = read_password()
    try:
        user = create_user(email, password, Role(role), full_name=full_name)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {Role(role).label.lower()} {user.email}.")
    click.echo("Two-factor authentication is set up at the first login.")
