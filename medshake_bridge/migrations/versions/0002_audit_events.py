"""Audit events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_login", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("source_address", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_audit_events")),
    )
    op.create_index(op.f("ix_bridge_audit_events_action"), "bridge_audit_events", ["action"],
                    unique=False)
    op.create_index(op.f("ix_bridge_audit_events_created_at"), "bridge_audit_events",
                    ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_audit_events_created_at"), table_name="bridge_audit_events")
    op.drop_index(op.f("ix_bridge_audit_events_action"), table_name="bridge_audit_events")
    op.drop_table("bridge_audit_events")
