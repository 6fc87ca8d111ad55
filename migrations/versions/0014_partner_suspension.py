"""Partner suspension: why and since when a partner is suspended

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:00:00

A manager suspends a partner from the console with a reason; ``partners.suspension_reason`` and
``partners.suspended_at`` hold it while the partner is suspended (the audit log keeps the history).
Both are new nullable columns: the partners already there keep their status, and one already
suspended (there was no way to do it in the product) simply shows no reason or date.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite the batch copies the table with its data, its indexes and its constraints.
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspension_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suspended_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("suspension_reason")
