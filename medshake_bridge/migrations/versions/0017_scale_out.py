"""Scale-out: the queue's job ledger and the workers' heartbeats

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_queue_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("enqueued_by", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_queue_jobs")),
    )
    op.create_index(op.f("ix_bridge_queue_jobs_created_at"), "bridge_queue_jobs",
                    ["created_at"], unique=False)
    op.create_index("ix_bridge_queue_jobs_target_state", "bridge_queue_jobs",
                    ["kind", "target", "state"], unique=False)
    op.create_index("ix_bridge_queue_jobs_host_state", "bridge_queue_jobs",
                    ["host", "state"], unique=False)
    op.create_table(
        "bridge_worker_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.String(length=255), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broker_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_worker_heartbeats")),
        sa.UniqueConstraint("name", name=op.f("uq_bridge_worker_heartbeats_name")),
    )
    op.create_index(op.f("ix_bridge_worker_heartbeats_host"), "bridge_worker_heartbeats",
                    ["host"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_worker_heartbeats_host"),
                  table_name="bridge_worker_heartbeats")
    op.drop_table("bridge_worker_heartbeats")
    op.drop_index("ix_bridge_queue_jobs_host_state", table_name="bridge_queue_jobs")
    op.drop_index("ix_bridge_queue_jobs_target_state", table_name="bridge_queue_jobs")
    op.drop_index(op.f("ix_bridge_queue_jobs_created_at"), table_name="bridge_queue_jobs")
    op.drop_table("bridge_queue_jobs")
