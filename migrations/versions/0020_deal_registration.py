"""Deal registration: proof, evidence, claims, caps

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 10:53:56

Registrations gain their proof (a TXT token each, the verification, the confirmation address) and
the DNS evidence read from their domain; every existing registration gets its own token and starts
as claimed (unverified). Claims on a held domain get their table, and the program settings the
registration caps per level and the working days a manager has to decide a claim (the published
defaults: 50, 250 and 5).
"""

import secrets

import sqlalchemy as sa
from alembic import op

import cloudcodes.db


# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("claimant_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=True),
        sa.Column("filed_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("proof_token", sa.String(length=40), nullable=False),
        sa.Column("verified_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "verification",
            sa.Enum(
                "dns", "confirmation", name="known_verification", native_enum=False, create_constraint=True, length=20
            ),
            nullable=True,
        ),
        sa.Column("confirmation_email", sa.String(length=254), nullable=True),
        sa.Column("holder_verified", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "granted",
                "refused",
                name="known_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("appealed_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("appealed_by_id", sa.Integer(), nullable=True),
        sa.Column("appeal_note", sa.Text(), nullable=True),
        sa.Column(
            "appeal_status",
            sa.Enum(
                "pending",
                "upheld",
                "overturned",
                name="known_appeal_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("appeal_decided_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("appeal_decided_by_id", sa.Integer(), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("length(note) <= 2000", name=op.f("ck_registration_claims_note_length")),
        sa.ForeignKeyConstraint(
            ["appeal_decided_by_id"],
            ["users.id"],
            name=op.f("fk_registration_claims_appeal_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["appealed_by_id"],
            ["users.id"],
            name=op.f("fk_registration_claims_appealed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["claimant_id"],
            ["partners.id"],
            name=op.f("fk_registration_claims_claimant_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_registration_claims_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"], ["users.id"], name=op.f("fk_registration_claims_filed_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["domain_registrations.id"],
            name=op.f("fk_registration_claims_registration_id_domain_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_claims")),
    )
    with op.batch_alter_table("registration_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_claims_claimant_id"), ["claimant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_claims_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index("ix_registration_claims_status_filed", ["status", "filed_at"], unique=False)
        batch_op.create_index(
            "uq_registration_claims_pending",
            ["registration_id", "claimant_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    with op.batch_alter_table("domain_registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proof_token", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("verified_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "verification",
                sa.Enum(
                    "dns",
                    "confirmation",
                    name="known_verification",
                    native_enum=False,
                    create_constraint=True,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("confirmation_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("confirmation_sent_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dns_checked_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dns_resolves", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("mx_workspace", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("mx_hosts", sa.String(length=500), server_default="", nullable=False))

    # Each registration its own token, then the column may require one.
    registrations = sa.table("domain_registrations", sa.column("id", sa.Integer), sa.column("proof_token", sa.String))
    connection = op.get_bind()
    for (registration_id,) in connection.execute(sa.select(registrations.c.id)).all():
        connection.execute(
            registrations.update()
            .where(registrations.c.id == registration_id)
            .values(proof_token=secrets.token_urlsafe(15))
        )
    with op.batch_alter_table("domain_registrations", schema=None) as batch_op:
        batch_op.alter_column("proof_token", existing_type=sa.String(length=40), nullable=False)

    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reseller_registration_cap", sa.Integer(), server_default=sa.text("50"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("premier_registration_cap", sa.Integer(), server_default=sa.text("250"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("claim_decision_working_days", sa.Integer(), server_default=sa.text("5"), nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_program_settings_reseller_cap_positive"), "reseller_registration_cap >= 1"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_program_settings_premier_cap_positive"), "premier_registration_cap >= 1"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_program_settings_claim_days_positive"), "claim_decision_working_days >= 1"
        )


def downgrade() -> None:
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_program_settings_reseller_cap_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_program_settings_premier_cap_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_program_settings_claim_days_positive"), type_="check")
        batch_op.drop_column("claim_decision_working_days")
        batch_op.drop_column("premier_registration_cap")
        batch_op.drop_column("reseller_registration_cap")

    with op.batch_alter_table("domain_registrations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_domain_registrations_known_verification"), type_="check")
        batch_op.drop_column("mx_hosts")
        batch_op.drop_column("mx_workspace")
        batch_op.drop_column("dns_resolves")
        batch_op.drop_column("dns_checked_at")
        batch_op.drop_column("confirmation_sent_at")
        batch_op.drop_column("confirmation_email")
        batch_op.drop_column("verification")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("proof_token")

    with op.batch_alter_table("registration_claims", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_registration_claims_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_registration_claims_status_filed")
        batch_op.drop_index(batch_op.f("ix_registration_claims_registration_id"))
        batch_op.drop_index(batch_op.f("ix_registration_claims_claimant_id"))

    op.drop_table("registration_claims")
