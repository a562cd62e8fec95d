"""Read state per person: who opened which inbox document (owner and delegates separate);
who sent a message on behalf of its owner; the exam date of each inbox document

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

from medshake_bridge.migrations.in_place import drop_column

revision = "0016"
down_revision = "0015"
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
    with op.batch_alter_table("bridge_inbox_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exam_date", sa.Date(), nullable=True))
    _fill_exam_dates()
    op.create_index("ix_bridge_document_reads_user", "bridge_document_reads",
                    ["user_id", "document_id"], unique=False)
    # Until now one read_at was shared by everyone: keep it as the owner's reading (the only
    # safe guess: a delegate's reading would otherwise hide mail from the owner).
    op.execute(
        "INSERT INTO bridge_document_reads (document_id, user_id, first_read_at, last_read_at) "
        "SELECT id, owner_user_id, read_at, read_at FROM bridge_inbox_documents "
        "WHERE read_at IS NOT NULL")


def _fill_exam_dates() -> None:
    """The exam date the sender wrote (kept in header_json), else the day received."""
    documents = sa.table("bridge_inbox_documents", sa.column("id", sa.Integer),
                         sa.column("header_json", sa.Text),
                         sa.column("created_at", sa.DateTime(timezone=True)),
                         sa.column("exam_date", sa.Date))
    connection = op.get_bind()
    rows = connection.execute(sa.select(documents.c.id, documents.c.header_json,
                                        documents.c.created_at)).all()
    for document_id, header, created in rows:
        when = None
        try:
            raw = json.loads(header or "{}").get("exam_date")
            when = dt.date.fromisoformat(raw) if raw else None
        except (ValueError, TypeError, AttributeError):
            when = None
        if when is None and created is not None:
            when = created.date() if isinstance(created, dt.datetime) else None
        if when is not None:
            connection.execute(documents.update().where(documents.c.id == document_id)
                               .values(exam_date=when))


def downgrade() -> None:
    # The reads table first: it points at the documents (SQLite would refuse to rebuild them,
    # MariaDB to drop an index its foreign key uses); dropping it drops its indexes.
    op.drop_table("bridge_document_reads")
    for table, column in (("bridge_inbox_documents", "exam_date"),
                          ("bridge_sent_messages", "acted_by_user_id")):
        drop_column(table, column)  # in place on SQLite: other tables point at these
