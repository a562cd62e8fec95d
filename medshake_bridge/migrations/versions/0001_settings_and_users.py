"""Settings store and users.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_users")),
        sa.UniqueConstraint("login", name=op.f("uq_bridge_users_login")),
    )
    op.create_table(
        "bridge_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_settings")),
        sa.UniqueConstraint("name", "level", "scope",
                            name=op.f("uq_bridge_settings_name_level_scope")),
    )
    op.create_index(op.f("ix_bridge_settings_name"), "bridge_settings", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bridge_settings_name"), table_name="bridge_settings")
    op.drop_table("bridge_settings")
    op.drop_table("bridge_users")
