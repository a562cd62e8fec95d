"""Users provisioned from a host application's identity

Revision ID: 0011
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bridge_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_identity", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_bridge_users_host_identity"),
                                          ["host_identity"])


def downgrade() -> None:
    with op.batch_alter_table("bridge_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_bridge_users_host_identity"), type_="unique")
        batch_op.drop_column("host_identity")
