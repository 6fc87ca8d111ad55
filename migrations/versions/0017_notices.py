"""Partner notices by e-mail and each user's choice per kind

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 19:30:00

Two new tables, nothing changed: ``notice_preferences`` (a user's delivery per kind; no row means
the kind's default) and ``notices`` (each notice raised, with its facts and when it was sent).
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "purchase",
                "refund",
                "registration_ending",
                "statement_ready",
                "level_change",
                name="known_kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "delivery",
            sa.Enum(
                "immediately",
                "digest",
                "off",
                name="known_delivery",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("updated_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notice_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_preferences")),
        sa.UniqueConstraint("user_id", "kind", name="uq_notice_preferences_user_kind"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "purchase",
                "refund",
                "registration_ending",
                "statement_ready",
                "level_change",
                name="known_kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "delivery",
            sa.Enum(
                "immediately",
                "digest",
                "off",
                name="known_delivery",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("days_before", sa.Integer(), nullable=True),
        sa.Column("created_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_notices_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["domain_registrations.id"],
            name=op.f("fk_notices_registration_id_domain_registrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notices_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("registration_id", "days_before", "user_id", name="uq_notices_reminder"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_digest", ["delivery", "sent_at", "user_id"], unique=False)
        batch_op.create_index("ix_notices_partner_created", ["partner_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_partner_created")
        batch_op.drop_index("ix_notices_digest")

    op.drop_table("notices")
    op.drop_table("notice_preferences")
