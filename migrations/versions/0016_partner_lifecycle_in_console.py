"""Partner lifecycle in the console: notes, owner e-mail changes, ledger adjustments

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 08:00:00

Three things the console's partner page needs:

- ``partner_notes``: managers' dated notes on a partner (append-only, never shown to the partner).
- ``email_changes``: a correction of a member's e-mail address waiting for the new address to
  confirm it; only the link token's SHA-256 is kept, and at most one is pending per user (a partial
  unique index).
- A new ledger kind, ``adjustment`` (a manager's correction with a reason: either sign, never zero),
  and ``ledger_entries.created_by_id`` (who wrote it). The kind's CHECK and ``sign_matches_kind`` are
  dropped and created again with the new kind; the entries already there satisfy both, and the new
  column is nullable, so every stored entry is kept as it is. On SQLite the batch copies the table
  with its data, its indexes (partial ones included) and its other constraints.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('accrual', 'reversal', 'payout')"
NEW_KINDS = "kind IN ('accrual', 'reversal', 'payout', 'adjustment')"
OLD_SIGN = "(kind = 'accrual' AND amount_minor >= 0) OR (kind IN ('reversal', 'payout') AND amount_minor <= 0)"
NEW_SIGN = OLD_SIGN + " OR (kind = 'adjustment' AND amount_minor <> 0)"
PENDING = "confirmed_at IS NULL AND cancelled_at IS NULL"


def upgrade():
    op.create_table(
        "partner_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_partner_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_notes_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_notes")),
    )
    with op.batch_alter_table("partner_notes", schema=None) as batch_op:
        batch_op.create_index("ix_partner_notes_partner_created", ["partner_id", "created_at"], unique=False)

    op.create_table(
        "email_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("old_email", sa.String(length=254), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_email_changes_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_email_changes_requested_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_changes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_changes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_changes_token_hash")),
    )
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_changes_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_email_changes_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_email_changes_user_pending",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ledger_entries_created_by_id_users"), "users", ["created_by_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.drop_constraint(batch_op.f("ck_ledger_entries_known_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_ledger_entries_sign_matches_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_ledger_entries_known_kind"), NEW_KINDS)
        batch_op.create_check_constraint(batch_op.f("ck_ledger_entries_sign_matches_kind"), NEW_SIGN)


def downgrade():
    # Adjustments cannot be expressed without their kind: going back would lose them, so refuse.
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'adjustment'")).scalar()
    if count:
        raise RuntimeError(
            f"{count} ledger adjustment(s) exist; the ledger is append-only, so this migration cannot be undone."
        )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_ledger_entries_sign_matches_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_ledger_entries_known_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_ledger_entries_known_kind"), OLD_KINDS)
        batch_op.create_check_constraint(batch_op.f("ck_ledger_entries_sign_matches_kind"), OLD_SIGN)
        batch_op.drop_constraint(batch_op.f("fk_ledger_entries_created_by_id_users"), type_="foreignkey")
        batch_op.drop_column("created_by_id")

    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.drop_index("uq_email_changes_user_pending")
        batch_op.drop_index(batch_op.f("ix_email_changes_user_id"))
        batch_op.drop_index(batch_op.f("ix_email_changes_partner_id"))
    op.drop_table("email_changes")

    with op.batch_alter_table("partner_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_notes_partner_created")
    op.drop_table("partner_notes")
