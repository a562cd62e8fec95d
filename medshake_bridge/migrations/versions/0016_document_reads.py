"""Read state per person: who opened which inbox document (owner and delegates separate);
who sent a message on behalf of its owner

Revision ID: 0016
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_document_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("first_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["bridge_inbox_documents.id"],
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["bridge_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "user_id"),
    )
    with op.batch_alter_table("bridge_sent_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acted_by_user_id", sa.Integer(), nullable=True))
    op.create_index("ix_bridge_document_reads_user", "bridge_document_reads",
                    ["user_id", "document_id"], unique=False)
    # Until now one read_at was shared by everyone: keep it as the owner's reading (the only
    # safe guess: a delegate's reading would otherwise hide mail from the owner).
    op.execute(
        "INSERT INTO bridge_document_reads (document_id, user_id, first_read_at, last_read_at) "
        "SELECT id, owner_user_id, read_at, read_at FROM bridge_inbox_documents "
        "WHERE read_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("bridge_sent_messages", schema=None) as batch_op:
        batch_op.drop_column("acted_by_user_id")
    op.drop_index("ix_bridge_document_reads_user", table_name="bridge_document_reads")
    op.drop_table("bridge_document_reads")
