"""Fast pages: FAQ answers rendered when saved, a version on the program terms

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 17:00:00

``faq_entries.answer_html`` keeps each answer's sanitised HTML (placeholders still in), so the FAQ no
longer renders Markdown on every request; existing answers are rendered here. ``program_settings.
terms_version`` lets each process keep the terms it read until they change.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db  # noqa: F401
from cloudcodes.content import answer_html

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_html", sa.Text(), nullable=True))
    faq = sa.table("faq_entries", sa.column("id", sa.Integer), sa.column("answer_markdown", sa.Text),
                   sa.column("answer_html", sa.Text))  # fmt: skip
    connection = op.get_bind()
    for entry_id, markdown in connection.execute(sa.select(faq.c.id, faq.c.answer_markdown)).all():
        connection.execute(faq.update().where(faq.c.id == entry_id).values(answer_html=answer_html(markdown)))
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.alter_column("answer_html", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("terms_version", sa.String(length=32), server_default=sa.text("'initial'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("program_settings", schema=None) as batch_op:
        batch_op.drop_column("terms_version")
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.drop_column("answer_html")
