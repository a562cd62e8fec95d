"""Audit noise counters shared by every process (anonymous floods aggregated site-wide)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_audit_noise",
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("action", "address", name=op.f("pk_bridge_audit_noise")),
    )
    op.create_index(op.f("ix_bridge_audit_noise_started"), "bridge_audit_noise", ["started"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_audit_noise_started"), table_name="bridge_audit_noise")
    op.drop_table("bridge_audit_noise")
