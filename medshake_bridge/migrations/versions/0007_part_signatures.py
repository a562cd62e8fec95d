"""Received mail: the cause of a failure (transient, configuration, content), when to try
again, its fix, and whether any decrypted part carries an invalid signature

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

# Messages quarantined before failures were classified: these error types were outages or
# settings, never the message's fault, so they go back to waiting (retried automatically).
_NOT_THE_MESSAGE = (
    "CompanionUnavailableError", "CompanionTimeoutError", "CompanionAuthError",
    "CertificatePasswordError", "CertificateExpiredError", "CertificateUnknownError",
    "ApicryptV2ConfigError", "ConfigurationError", "ProgramMissingError",
    "ProgramNotExecutableError", "ProgramTimeoutError", "ValueError",
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
    for name in _NOT_THE_MESSAGE:
        op.execute(messages.update().where(
            messages.c.state == "quarantined",
            messages.c.last_error.like(f"%{name}:%"),
        ).values(state="failed", error_cause="configuration"))
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
