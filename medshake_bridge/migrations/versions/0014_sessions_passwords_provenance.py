"""Security: per-user session epoch (server-side revocation), forced password change, and the
provenance of received mail (not Apicrypt-encrypted, sender outside the Apicrypt domains)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from medshake_bridge.migrations.in_place import drop_column

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (also on SQLite): rebuilding these tables would trip the foreign keys
    # that point at them once rows exist
    op.add_column("bridge_users", sa.Column("session_epoch", sa.Integer(), nullable=False,
                                            server_default="0"))
    op.add_column("bridge_users", sa.Column("must_change_password", sa.Boolean(),
                                            nullable=False, server_default=sa.false()))
    op.add_column("bridge_received_messages", sa.Column("unencrypted", sa.Boolean(),
                                                        nullable=False,
                                                        server_default=sa.false()))
    op.add_column("bridge_received_messages", sa.Column("external_sender", sa.Boolean(),
                                                        nullable=False,
                                                        server_default=sa.false()))


def downgrade() -> None:
    for table, column in (("bridge_received_messages", "external_sender"),
                          ("bridge_received_messages", "unencrypted"),
                          ("bridge_users", "must_change_password"),
                          ("bridge_users", "session_epoch")):
        drop_column(table, column)  # in place on SQLite: other tables point at these
