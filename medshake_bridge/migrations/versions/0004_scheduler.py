"""Planned tasks and their runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_scheduled_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("minute", sa.String(length=100), nullable=False),
        sa.Column("hour", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=100), nullable=False),
        sa.Column("month", sa.String(length=100), nullable=False),
        sa.Column("day_of_week", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_scheduled_tasks")),
        sa.UniqueConstraint("job_id", name=op.f("uq_bridge_scheduled_tasks_job_id")),
    )
    op.create_table(
        "bridge_task_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_task_runs")),
        sa.UniqueConstraint("job_id", "scheduled_for",
                            name=op.f("uq_bridge_task_runs_job_id_scheduled_for")),
    )
    op.create_index("ix_bridge_task_runs_job_started", "bridge_task_runs",
                    ["job_id", "started_at"], unique=False)
    op.create_index(op.f("ix_bridge_task_runs_started_at"), "bridge_task_runs", ["started_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_task_runs_started_at"), table_name="bridge_task_runs")
    op.drop_index("ix_bridge_task_runs_job_started", table_name="bridge_task_runs")
    op.drop_table("bridge_task_runs")
    op.drop_table("bridge_scheduled_tasks")
