"""The dashboard overview's needs

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:30:00

(An empty slot, filled by the change that needs it, or left empty.)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import cloudcodes.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
