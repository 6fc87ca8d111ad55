"""Checkouts: what the customer chose before paying on the billing system

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:46:00.983526

A checkout is what a customer chose on /redeem before paying on the billing system's page; the
purchase the billing system reports for it points back at it (``purchases.checkout_id``, unique, so
a checkout is paid once). Existing purchases have none: nothing else changes.
"""

from alembic import op
import sqlalchemy as sa

import cloudcodes.db


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "checkouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_domain", sa.String(length=253), nullable=False),
        sa.Column("referral_code", sa.String(length=60), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("price_currency", sa.String(length=3), nullable=False),
        sa.Column("customer_email", sa.String(length=254), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "paid", "expired", name="known_status", native_enum=False, create_constraint=True, length=10
            ),
            nullable=False,
        ),
        sa.Column("created_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name=op.f("ck_checkouts_paid_iff_paid_at")),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_checkouts_expires_after_creation")),
        sa.CheckConstraint("price_minor > 0", name=op.f("ck_checkouts_price_positive")),
        sa.CheckConstraint("seats > 0", name=op.f("ck_checkouts_seats_positive")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_checkouts_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
        sa.UniqueConstraint("public_id", name=op.f("uq_checkouts_public_id")),
    )
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.create_index("ix_checkouts_status_expires", ["status", "expires_at"], unique=False)

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkout_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_purchases_checkout_id"), ["checkout_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_purchases_checkout_id_checkouts"), "checkouts", ["checkout_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_purchases_checkout_id_checkouts"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_purchases_checkout_id"), type_="unique")
        batch_op.drop_column("checkout_id")

    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_index("ix_checkouts_status_expires")

    op.drop_table("checkouts")
