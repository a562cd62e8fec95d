"""Received mail, inbox documents and standalone patients

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:59:08.557970
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("collector", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_mailboxes")),
        sa.UniqueConstraint("key", name=op.f("uq_bridge_mailboxes_key")),
    )
    op.create_table(
        "bridge_patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("birth_name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("nir", sa.String(length=20), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_patients")),
    )
    with op.batch_alter_table("bridge_patients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_patients_last_name"), ["last_name"], unique=False
        )

    op.create_table(
        "bridge_received_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.String(length=255), nullable=False),
        sa.Column("message_id_header", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("raw_path", sa.String(length=1000), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_address", sa.String(length=500), nullable=False),
        sa.Column("to_address", sa.String(length=500), nullable=False),
        sa.Column("date_header", sa.String(length=100), nullable=False),
        sa.Column("attachments_json", sa.Text(), nullable=False),
        sa.Column("signature_status", sa.String(length=20), nullable=False),
        sa.Column("signer", sa.String(length=255), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_on_server_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["bridge_mailboxes.id"],
            name=op.f("fk_bridge_received_messages_mailbox_id_bridge_mailboxes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_received_messages")),
        sa.UniqueConstraint(
            "mailbox_id", "server_id", name=op.f("uq_bridge_received_messages_mailbox_id_server_id")
        ),
    )
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bridge_received_messages_dedup", ["message_id_header", "sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bridge_received_messages_state"), ["state"], unique=False
        )

    op.create_table(
        "bridge_inbox_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("has_header", sa.Boolean(), nullable=False),
        sa.Column("patient_last_name", sa.String(length=200), nullable=False),
        sa.Column("patient_first_name", sa.String(length=200), nullable=False),
        sa.Column("patient_birth_date", sa.Date(), nullable=True),
        sa.Column("sender_name", sa.String(length=255), nullable=False),
        sa.Column("header_json", sa.Text(), nullable=False),
        sa.Column("results_json", sa.Text(), nullable=False),
        sa.Column("abnormal", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("filed_patient_id", sa.String(length=100), nullable=False),
        sa.Column("filed_record", sa.String(length=255), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archive_path", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["bridge_received_messages.id"],
            name=op.f("fk_bridge_inbox_documents_message_id_bridge_received_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["bridge_users.id"],
            name=op.f("fk_bridge_inbox_documents_owner_user_id_bridge_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_inbox_documents")),
        sa.UniqueConstraint(
            "message_id",
            "owner_user_id",
            "position",
            name=op.f("uq_bridge_inbox_documents_message_id_owner_user_id_position"),
        ),
    )
    with op.batch_alter_table("bridge_inbox_documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bridge_inbox_documents_listing",
            ["owner_user_id", "state", "created_at"],
            unique=False,
        )

    op.create_table(
        "bridge_filed_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("inbox_document_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_user_id", sa.Integer(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("folder", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_document_id"],
            ["bridge_inbox_documents.id"],
            name="fk_bridge_filed_documents_document",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["bridge_patients.id"],
            name=op.f("fk_bridge_filed_documents_patient_id_bridge_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_filed_documents")),
        sa.UniqueConstraint(
            "inbox_document_id", name=op.f("uq_bridge_filed_documents_inbox_document_id")
        ),
    )
    with op.batch_alter_table("bridge_filed_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_filed_documents_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bridge_filed_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridge_filed_documents_patient_id"))

    op.drop_table("bridge_filed_documents")
    with op.batch_alter_table("bridge_inbox_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_bridge_inbox_documents_listing")

    op.drop_table("bridge_inbox_documents")
    with op.batch_alter_table("bridge_received_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridge_received_messages_state"))
        batch_op.drop_index("ix_bridge_received_messages_dedup")

    op.drop_table("bridge_received_messages")
    with op.batch_alter_table("bridge_patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridge_patients_last_name"))

    op.drop_table("bridge_patients")
    op.drop_table("bridge_mailboxes")
