"""Demo accounts for ``demo seed``: one of each role, with passwords printed for the developer."""

from __future__ import annotations

from cloudcodes.auth.models import Role
from cloudcodes.auth.services import create_user, find_user

DEMO_USERS = [
    (Role.ADMIN, "admin@cloudcodes.example", "Ada Admin", "demo-admin-password-2026"),
    (Role.MANAGER, "manager@cloudcodes.example", "Max Manager", "demo-manager-password-2026"),
    (Role.PARTNER, "owner@acme-cloud.example", "Olivia Owner", "demo-partner-password-2026"),
]


def seed_users() -> list[tuple[str, str, str]]:
    logins = []
    for role, email, name, password in DEMO_USERS:
        if find_user(email) is None:
            create_user(email, password, role, full_name=name)
        logins.append((role.value, email, password))
    return logins
