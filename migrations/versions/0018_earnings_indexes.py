"""An index for the earnings filters

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:30:00

The earnings page lists a partner's ledger entries by the day they count for, newest first, and
filters them by period: an index on (partner_id, effective_on) serves both.
"""

from alembic import op

import cloudcodes.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_partner_effective", "ledger_entries", ["partner_id", "effective_on"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_partner_effective", table_name="ledger_entries")
