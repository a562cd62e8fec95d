"""Sending: correspondents address book and sent messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_correspondents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_user_id"], ["bridge_users.id"],
                                name="fk_bridge_correspondents_owner"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_correspondents")),
    )
    with op.batch_alter_table("bridge_correspondents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bridge_correspondents_address"), ["address"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_bridge_correspondents_owner_user_id"),
                              ["owner_user_id"], unique=False)

    op.create_table(
        "bridge_sent_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("sender_address", sa.String(length=255), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.String(length=100), nullable=False),
        sa.Column("patient_label", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("attachments_json", sa.Text(), nullable=False),
        sa.Column("message_id_header", sa.String(length=255), nullable=False),
        sa.Column("source_document_id", sa.Integer(), nullable=True),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["bridge_users.id"],
                                name="fk_bridge_sent_messages_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_sent_messages")),
        sa.UniqueConstraint("token", name=op.f("uq_bridge_sent_messages_token")),
    )
    with op.batch_alter_table("bridge_sent_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bridge_sent_messages_patient_id"), ["patient_id"],
                              unique=False)
        batch_op.create_index("ix_bridge_sent_messages_user_created",
                              ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bridge_sent_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_bridge_sent_messages_user_created")
        batch_op.drop_index(batch_op.f("ix_bridge_sent_messages_patient_id"))
    op.drop_table("bridge_sent_messages")
    with op.batch_alter_table("bridge_correspondents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridge_correspondents_owner_user_id"))
        batch_op.drop_index(batch_op.f("ix_bridge_correspondents_address"))
    op.drop_table("bridge_correspondents")
