"""Received mail: the cause of a failure (transient, configuration, content), when to try
again, its fix, and whether any decrypted part carries an invalid signature

Revision ID: 0007
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0011"
branch_labels = None
depends_on = None

# Messages quarantined before failures were classified, whose error was an outage or a setting
# (never the message's fault): they go back to waiting and are retried automatically. The old
# versions stored "<ErrorType>: <message>", so the messages' own words are matched.
_NOT_THE_MESSAGE = (
    ("transient", "%does not answer%"),
    ("transient", "%did not answer the%"),
    ("transient", "%ProgramTimeoutError%"),
    ("configuration", "%refused its password%"),
    ("configuration", "%certificate expired%"),
    ("configuration", "%does not know the certificate%"),
    ("configuration", "%refused the bridge's token%"),
    ("configuration", "%shell syntax%"),
    ("configuration", "%cannot be split into arguments%"),
    ("configuration", "%ValueError:%"),
    ("configuration", "%ApicryptV2ConfigError%"),
    ("configuration", "%ProgramMissingError%"),
    ("configuration", "%ProgramNotExecutableError%"),
)


def upgrade() -> None:
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_cause", sa.String(length=20), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("error_fix", sa.Text(), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("signature_invalid", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    messages = sa.table("bridge_received_messages", sa.column("state", sa.String),
                        sa.column("last_error", sa.Text), sa.column("error_cause", sa.String),
                        sa.column("signature_status", sa.String),
                        sa.column("signature_invalid", sa.Boolean))
    for cause, pattern in _NOT_THE_MESSAGE:
        op.execute(messages.update().where(
            messages.c.state == "quarantined", messages.c.last_error.like(pattern),
        ).values(state="failed", error_cause=cause))
    op.execute(messages.update().where(messages.c.signature_status == "invalid")
               .values(signature_invalid=True))


def downgrade() -> None:
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.drop_column("signature_invalid")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("error_fix")
        batch_op.drop_column("error_cause")
