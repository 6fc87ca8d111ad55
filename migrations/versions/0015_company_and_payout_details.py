"""Company and payout details: one row of payout details per partner

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 08:00:00

A new table, ``partner_payout_details`` (at most one row per partner): the payee's legal name and
country (ISO code), the payout method with its details, the tax ID, and the tax form (its kind, the
date it was signed and the random name of the uploaded PDF under the instance folder). The IBAN,
the account number and the tax ID are Fernet tokens (``cloudcodes.crypto.EncryptedText``), never the
plain numbers. No existing data changes: partners start with no payout details, and a statement is
marked paid only once its partner's details are complete.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.crypto
import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "partner_payout_details",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("payee_legal_name", sa.String(length=200), nullable=False),
        sa.Column("payee_country", sa.String(length=2), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "iban", "us_bank", "paypal", name="known_method", native_enum=False, create_constraint=True, length=20
            ),
            nullable=True,
        ),
        sa.Column("iban", cloudcodes.crypto.EncryptedText(), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("account_number", cloudcodes.crypto.EncryptedText(), nullable=True),
        sa.Column("routing_number", sa.String(length=9), nullable=True),
        sa.Column("paypal_email", sa.String(length=254), nullable=True),
        sa.Column("tax_id", cloudcodes.crypto.EncryptedText(), nullable=True),
        sa.Column(
            "tax_form_kind",
            sa.Enum(
                "w9", "w8ben", "w8bene", name="known_tax_form", native_enum=False, create_constraint=True, length=20
            ),
            nullable=True,
        ),
        sa.Column("tax_form_signed_on", sa.Date(), nullable=True),
        sa.Column("tax_form_file", sa.String(length=80), nullable=True),
        sa.Column("tax_form_uploaded_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("length(payee_country) IN (0, 2)", name=op.f("ck_partner_payout_details_country_code")),
        sa.CheckConstraint(
            "method IS NULL"
            " OR (method = 'iban' AND iban IS NOT NULL AND bic IS NOT NULL)"
            " OR (method = 'us_bank' AND account_number IS NOT NULL AND routing_number IS NOT NULL)"
            " OR (method = 'paypal' AND paypal_email IS NOT NULL)",
            name=op.f("ck_partner_payout_details_method_details"),
        ),
        sa.CheckConstraint(
            "tax_form_file IS NULL OR (tax_form_kind IS NOT NULL AND tax_form_signed_on IS NOT NULL)",
            name=op.f("ck_partner_payout_details_tax_form_dated"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_payout_details_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_partner_payout_details_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_payout_details")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_partner_payout_details_partner_id")),
    )


def downgrade():
    op.drop_table("partner_payout_details")
