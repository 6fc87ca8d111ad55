"""Login sessions per browser, reset requests queued for the mail job, accent-blind search

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:50:00

"Forgot password" stores the request, whatever the address, and the mail job sends the link: the
page answers with the same work for every address, so its timing tells nobody which accounts exist.

Each login is a row of its own, so logging out ends one browser and "log out everywhere" all of
them. Cookies issued before this change carry no session token: their holders log in once more.

Partners, applications and users get a ``search_text`` column, their names folded (lower case, no
accents: cloudcodes.search.fold), so the console's search finds "Bücher" when "bucher" is typed.
Existing rows are filled in here with the same function the app uses.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db
from cloudcodes.search import search_text

SEARCHABLE = {
    "partners": ("name",),
    "partner_applications": ("company_name", "contact_name", "contact_email"),
    "users": ("full_name", "email"),
}

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("requested_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("created_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"], unique=False)

    connection = op.get_bind()
    for table, fields in SEARCHABLE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
        rows = sa.table(table, sa.column("id"), sa.column("search_text"), *(sa.column(field) for field in fields))
        for row in connection.execute(sa.select(rows.c.id, *(rows.c[field] for field in fields))).all():
            folded = search_text(*(row._mapping[field] for field in fields))
            connection.execute(rows.update().where(rows.c.id == row.id).values(search_text=folded))


def downgrade():
    for table in SEARCHABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("search_text")
    op.drop_index(op.f("ix_login_sessions_user_id"), table_name="login_sessions")
    op.drop_table("login_sessions")
    op.drop_table("password_reset_requests")
