"""E-mail addresses stored with their domain in ASCII

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:40:00

Logins compare one canonical form of an address: the domain in its ASCII (IDNA) form, lower case.
Accounts stored with a Unicode domain (``ana@bücher-söhne.de``) are rewritten to it
(``ana@xn--bcher-shne-kcb9d.de``); nothing else changes. An address that cannot be converted, or
whose ASCII form another account already has, is left as it is.
"""

import idna
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _ascii(email: str) -> str | None:
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return None
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}".lower()
    except (idna.IDNAError, UnicodeError):
        return None


def upgrade():
    connection = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
    taken = {email for (email,) in connection.execute(sa.select(users.c.email))}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)).all():
        converted = _ascii(email)
        if converted and converted not in taken:
            connection.execute(users.update().where(users.c.id == user_id).values(email=converted))
            taken.add(converted)


def downgrade():
    # The ASCII form is a correct address too: nothing to undo.
    pass
