"""Received mail: mailboxes, raw messages (the durable copy) and inbox documents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

SEARCH_INDEX = "ix_bridge_inbox_documents_search"

# States of a received message (a row exists only once its raw bytes are safely on disk).
STORED = "stored"            # raw kept, not processed yet
PROCESSED = "processed"      # documents committed
DUPLICATE = "duplicate"      # same Message-ID and bytes as an earlier message: nothing new
FAILED = "failed"            # processing failed; retried on a later run (see error_cause)
QUARANTINED = "quarantined"  # the message itself failed too often; an admin looks at it
MESSAGE_STATES = (STORED, PROCESSED, DUPLICATE, FAILED, QUARANTINED)

# States of an inbox document.
NEW, FILED, REMOVED = "new", "filed", "removed"


class Mailbox(db.Model):
    """A mailbox as collected (one row however many users share it)."""

    __tablename__ = "bridge_mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), nullable=False, unique=True)
    collector: Mapped[str] = mapped_column(String(40), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    port: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    login: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    last_counts: Mapped[str] = mapped_column(Text, nullable=False, default="{}")


class ReceivedMessage(db.Model):
    """One message fetched from a mailbox; its raw bytes are kept in a private file."""

    __tablename__ = "bridge_received_messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "server_id"),
        Index("ix_bridge_received_messages_dedup", "message_id_header", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("bridge_mailboxes.id"), nullable=False)
    server_id: Mapped[str] = mapped_column(String(255), nullable=False)
    message_id_header: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    raw_path: Mapped[str] = mapped_column(String(1000), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=STORED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    subject: Mapped[str] = mapped_column(Text, nullable=False, default="")
    from_address: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    to_address: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    date_header: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    attachments_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    signature_status: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    signer: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # True when any decrypted part (the text or an attachment) has an invalid signature.
    signature_invalid: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Provenance: the message was not Apicrypt-encrypted, or came from outside the configured
    # Apicrypt domains (shown as "non chiffré" / "expéditeur externe").
    unencrypted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                              server_default=false())
    external_sender: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                  server_default=false())
    # Why the last try failed: "transient" (an outage), "configuration" (a setting, a
    # certificate) or "content" (the message itself); only "content" counts toward quarantine.
    error_cause: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    error_fix: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # A message waiting for an outage or a setting: since when, last try, next try (backoff).
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_on_server_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    mailbox: Mapped[Mailbox] = relationship()


class InboxDocument(db.Model):
    """One HPRIM document (or a message without HPRIM data) in one user's inbox."""

    __tablename__ = "bridge_inbox_documents"
    __table_args__ = (
        UniqueConstraint("message_id", "owner_user_id", "position"),
        Index("ix_bridge_inbox_documents_listing", "owner_user_id", "state", "created_at"),
        # The search box's words, found through trigrams (PostgreSQL with pg_trgm only:
        # migration 0019 makes it when the extension can be had; elsewhere a scan). Its
        # PostgreSQL options are declared by declare_postgresql_options.
        Index(SEARCH_INDEX, "search_text").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("bridge_received_messages.id"),
                                            nullable=False)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("bridge_users.id"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=NEW)
    has_header: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    patient_last_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    patient_first_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    patient_birth_date: Mapped[date | None] = mapped_column(Date)
    sender_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # The exam date the sender wrote (HPRIM line 10), else the day it was received: what the
    # inbox shows, sorts and filters by.
    exam_date: Mapped[date | None] = mapped_column(Date)
    header_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    results_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    abnormal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # What the inbox's search box looks in, folded (lower case, no accents): names, birth
    # date, sender, subject, address (medshake_bridge.search_text, migration 0019).
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="",
                                             server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_by_user_id: Mapped[int | None] = mapped_column(Integer)
    # The filing (migration 0012): which patient (``source:id``), as the provider named them at
    # filing time (pages show the name and a link, never a bare number), and the record's id
    # and url in the source. ``filing_claim`` marks the one request filing it right now.
    filed_patient_ref: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    filed_patient_name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    filed_patient_birth_date: Mapped[date | None] = mapped_column(Date)
    filed_patient_sex: Mapped[str] = mapped_column(String(1), nullable=False, default="")
    filed_record: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    filed_url: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    filing_claim: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    filing_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archive_path: Mapped[str] = mapped_column(String(1000), nullable=False, default="")

    message: Mapped[ReceivedMessage] = relationship()


# The PostgreSQL options of the search index, as migration 0019 creates it.
SEARCH_INDEX_POSTGRESQL_OPTIONS: dict[str, object] = {
    "postgresql_using": "gin",
    "postgresql_ops": {"search_text": "gin_trgm_ops"},
    "postgresql_with": {"fastupdate": "off"},
}


def declare_postgresql_options() -> None:
    """Give the search index its PostgreSQL options (idempotent).

    Called when a bridge engine on PostgreSQL is first built (``db.AppDatabase.get_engine``),
    not when the model is defined: naming ``postgresql_*`` options on an ``Index`` makes
    SQLAlchemy import its PostgreSQL dialect (22 modules, about 20 ms of CPU) in every process,
    a collection on SQLite included, although only PostgreSQL ever gets this index (issue 18).
    The migrations write the index's SQL themselves and Alembic's comparison of models and
    database does not read these options: they serve DDL made from the models on PostgreSQL.
    """
    index = next(index for index in InboxDocument.__table__.indexes
                 if index.name == SEARCH_INDEX)
    for name, value in SEARCH_INDEX_POSTGRESQL_OPTIONS.items():
        index.dialect_kwargs[name] = value  # the same values every time
