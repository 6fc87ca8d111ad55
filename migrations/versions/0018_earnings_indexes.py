"""Indexes for the earnings filters and the performance tables

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:30:00

(An empty slot, filled by the change that needs it, or left empty.)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import cloudcodes.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
