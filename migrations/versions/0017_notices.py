"""Partner notices by e-mail and each user's choice per kind

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 19:30:00

(An empty slot, filled by the change that needs it, or left empty.)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import cloudcodes.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
