"""Plugin failures recorded at run time, and plugins suspended after repeated failures

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_plugin_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=100), nullable=False),
        sa.Column("hook", sa.String(length=100), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_plugin_failures")),
    )
    op.create_index(op.f("ix_bridge_plugin_failures_plugin"), "bridge_plugin_failures",
                    ["plugin"], unique=False)
    op.create_index(op.f("ix_bridge_plugin_failures_created_at"), "bridge_plugin_failures",
                    ["created_at"], unique=False)
    op.create_table(
        "bridge_plugin_suspensions",
        sa.Column("plugin", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plugin", name=op.f("pk_bridge_plugin_suspensions")),
    )


def downgrade() -> None:
    op.drop_table("bridge_plugin_suspensions")
    op.drop_index(op.f("ix_bridge_plugin_failures_created_at"), table_name="bridge_plugin_failures")
    op.drop_index(op.f("ix_bridge_plugin_failures_plugin"), table_name="bridge_plugin_failures")
    op.drop_table("bridge_plugin_failures")
