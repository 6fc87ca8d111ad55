"""Fast FAQ: a version on the published questions

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:30:00

``program_settings.faq_version`` moves whenever a question is added, changed, moved or deleted, so
each process keeps the FAQ it read (its answers already filled in) until then. It is read in the
same statement as ``terms_version``.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("faq_version", sa.String(length=32), server_default=sa.text("'initial'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.drop_column("faq_version")
