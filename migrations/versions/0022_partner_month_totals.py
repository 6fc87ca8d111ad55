"""Fast pages at any size: each partner's sums per month, its open payable entries and refunds indexed

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 17:30:00

``partner_month_totals`` holds, per partner and UTC month, its attributed purchases, their refunds
(both in the purchase's month) and its ledger entries by kind (in their ``effective_on`` month).
From now on the app adds to it as it writes those rows (``cloudcodes.billing.totals``); here it is
filled from the rows already there. Each refund now keeps its purchase's partner, so that a
partner's latest refunds are read by an index.
"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import cloudcodes.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SUMS = ("revenue_minor", "refunded_minor", "earned_minor", "payable_minor", "discounts_minor", "paid_out_minor")


def _month(moment):
    if isinstance(moment, str):  # SQLite without the app's types
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    return moment.replace(day=1)


def upgrade() -> None:
    op.create_table(
        "partner_month_totals",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMS),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_month_totals_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("partner_id", "month", name=op.f("pk_partner_month_totals")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_partner_open",
            ["partner_id", "payable_on"],
            unique=False,
            sqlite_where=sa.text("statement_id IS NULL AND payable"),
            postgresql_where=sa.text("statement_id IS NULL AND payable"),
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_refunds_partner_id_partners"), "partners", ["partner_id"], ["id"])
        batch_op.create_index("ix_refunds_partner_refunded_at", ["partner_id", "refunded_at"], unique=False)

    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE refunds SET partner_id = (SELECT purchases.partner_id FROM purchases "
            "WHERE purchases.id = refunds.purchase_id)"
        )
    )
    purchases = sa.table(
        "purchases", sa.column("id"), sa.column("partner_id"), sa.column("purchased_at"), sa.column("amount_minor")
    )
    refunds = sa.table("refunds", sa.column("purchase_id"), sa.column("amount_minor"))
    entries = sa.table(
        "ledger_entries",
        sa.column("partner_id"),
        sa.column("effective_on", sa.Date),
        sa.column("kind"),
        sa.column("payable"),
        sa.column("amount_minor"),
    )
    sums = defaultdict(lambda: dict.fromkeys(SUMS, 0))
    attributed = purchases.c.partner_id.is_not(None)
    for partner_id, purchased_at, minor in connection.execute(
        sa.select(purchases.c.partner_id, purchases.c.purchased_at, purchases.c.amount_minor).where(attributed)
    ):
        sums[(partner_id, _month(purchased_at))]["revenue_minor"] += minor
    for partner_id, purchased_at, minor in connection.execute(
        sa.select(purchases.c.partner_id, purchases.c.purchased_at, refunds.c.amount_minor)
        .join(purchases, purchases.c.id == refunds.c.purchase_id)
        .where(attributed)
    ):
        sums[(partner_id, _month(purchased_at))]["refunded_minor"] += minor
    grouped = (entries.c.partner_id, entries.c.effective_on, entries.c.kind, entries.c.payable)
    for partner_id, day, kind, payable, minor in connection.execute(
        sa.select(*grouped, sa.func.sum(entries.c.amount_minor)).group_by(*grouped)
    ):
        month = sums[(partner_id, _month(day))]
        minor = int(minor)
        if kind in ("accrual", "reversal", "adjustment"):
            month["earned_minor"] += minor
        month["payable_minor" if payable else "discounts_minor"] += minor
        if kind == "payout":
            month["paid_out_minor"] -= minor
    totals = sa.table("partner_month_totals", sa.column("partner_id"), sa.column("month"), *map(sa.column, SUMS))
    rows = [{"partner_id": key[0], "month": key[1], **values} for key, values in sorted(sums.items())]
    for start in range(0, len(rows), 2000):
        connection.execute(totals.insert(), rows[start : start + 2000])


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_partner_refunded_at")
        batch_op.drop_constraint(batch_op.f("fk_refunds_partner_id_partners"), type_="foreignkey")
        batch_op.drop_column("partner_id")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ledger_entries_partner_open",
            sqlite_where=sa.text("statement_id IS NULL AND payable"),
            postgresql_where=sa.text("statement_id IS NULL AND payable"),
        )
    op.drop_table("partner_month_totals")
