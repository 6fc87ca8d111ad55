"""Job runs: each run of a recurring job (Celery), with its outcome, counts and error

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:21:12

The recurring work (the outbox, expiries, upgrades, the annual qualification) runs as Celery jobs;
each run is a row, read by the console's Jobs page and by /healthz (a scheduler that missed its
beat). ``running_lock`` holds the job's name while a run that must not overlap itself is in
progress: its unique constraint allows one such run at a time. A new table: no data to carry over.
"""

import sqlalchemy as sa
from alembic import op

import cloudcodes.db

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=80), nullable=False),
        sa.Column("task_id", sa.String(length=155), nullable=True),
        sa.Column(
            "trigger",
            sa.Enum(
                "schedule",
                "commit",
                "manual",
                name="known_trigger",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", cloudcodes.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                "skipped",
                name="known_outcome",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("running_lock", sa.String(length=80), nullable=True),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_job_runs_attempt_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("running_lock", name=op.f("uq_job_runs_running_lock")),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index("ix_job_runs_job_started_at", ["job", "started_at"], unique=False)


def downgrade():
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_job_started_at")
    op.drop_table("job_runs")
