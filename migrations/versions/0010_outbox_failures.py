"""Outbox failures: a message the outbox gave up on is ``failed``, with the time it gave up

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00

``outbox_messages.status`` is a VARCHAR(10) with a CHECK constraint (a non-native enum, see 0007) on
SQLite and PostgreSQL alike, so the new member ``failed`` is a new text for that constraint, not an
``ALTER TYPE``. ``failed_at`` is a new nullable column. The rows already there are queued or sent
and keep their values; a downgrade turns failed messages back into queued ones (retried once more)
before the constraint forbids ``failed`` again.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WITH_FAILED = "status IN ('queued', 'sent', 'failed')"
WITHOUT_FAILED = "status IN ('queued', 'sent')"


def upgrade():
    # On SQLite the batch copies the table with its data, its index and its other constraints.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_known_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_messages_known_status"), WITH_FAILED)


def downgrade():
    messages = sa.table("outbox_messages", sa.column("status", sa.String))
    op.execute(messages.update().where(messages.c.status == "failed").values(status="queued"))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_known_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_messages_known_status"), WITHOUT_FAILED)
        batch_op.drop_column("failed_at")
