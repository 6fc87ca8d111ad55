"""Enumerations as enums: the levels kept on purchases and approvals are checked too

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:12:31.402117

The enumerated columns are now SQLAlchemy ``Enum(native_enum=False, create_constraint=True)``
types. Such a type is stored as the VARCHAR it replaces, of the same length, and brings its own
CHECK constraint, named as before (``ck_<table>_known_<what>``) and with the very text of the
hand-written one it replaces (``channel IN ('direct', 'reseller')``), so the existing columns,
their data and their constraints stay exactly as they are on SQLite and PostgreSQL alike.

Two level columns had no constraint so far and get one: ``purchases.level`` (the level fixed on
an attributed purchase) and ``partner_applications.approved_level``. Both are only ever written
from a level, and NULL passes a CHECK, so the rows already there satisfy them.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEVELS = "('reseller', 'premier')"


def upgrade():
    # Alembic does not detect CHECK constraints: added by hand. On SQLite the batch copies each
    # table with its data, indexes (partial ones included) and the constraints it had.
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_purchases_known_level"), f"level IN {LEVELS}")

    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_partner_applications_known_approved_level"), f"approved_level IN {LEVELS}"
        )


def downgrade():
    with op.batch_alter_table("partner_applications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_partner_applications_known_approved_level"), type_="check")

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_purchases_known_level"), type_="check")
