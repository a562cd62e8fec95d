"""Security: per-user session epoch (server-side revocation), forced password change, and the
provenance of received mail (not Apicrypt-encrypted, sender outside the Apicrypt domains)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bridge_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unencrypted", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("external_sender", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.drop_column("external_sender")
        batch_op.drop_column("unencrypted")
    with op.batch_alter_table("bridge_users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("session_epoch")
