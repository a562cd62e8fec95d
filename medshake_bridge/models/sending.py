"""Sending: the correspondents address book and the record of every message sent.

A sent message row is created *before* anything goes out, keyed by a one-time form token that
is unique in the table: a double click, a browser retry or a second process finds the row and
never sends again. The row says ``sent`` only once the SMTP server accepted the message; a
failure leaves ``failed`` with the error (a retry with the same token may claim it again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

# States of a sent message.
SENDING = "sending"  # claimed by one request; nothing or everything may have gone out yet
SENT = "sent"        # accepted by the SMTP server (Message-ID recorded)
FAILED = "failed"    # nothing went out; ``error`` says why; may be retried with the same token
QUEUED = "queued"    # celery mode: claimed and handed to the job queue; a worker sends it
SEND_STATES = (QUEUED, SENDING, SENT, FAILED)


class Correspondent(db.Model):
    """An Apicrypt correspondent: a name and an address, private to one user or shared
    (``owner_user_id`` empty) with everyone."""

    __tablename__ = "bridge_correspondents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("bridge_users.id", name="fk_bridge_correspondents_owner"), index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)

    @property
    def shared(self) -> bool:
        return self.owner_user_id is None


class SentMessage(db.Model):
    """One outgoing message: who sent what to whom about which patient, and what happened."""

    __tablename__ = "bridge_sent_messages"
    __table_args__ = (
        Index("ix_bridge_sent_messages_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_users.id", name="fk_bridge_sent_messages_user"), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=SENDING)
    sender_address: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    recipients: Mapped[str] = mapped_column(Text, nullable=False, default="")  # comma-separated
    patient_id: Mapped[str] = mapped_column(String(100), nullable=False, default="",
                                            index=True)
    patient_label: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    subject: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attachments_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    message_id_header: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    source_document_id: Mapped[int | None] = mapped_column(Integer)
    # Who pressed "send" when it was not the mailbox owner (a delegate sending on behalf).
    acted_by_user_id: Mapped[int | None] = mapped_column(Integer)
    notice: Mapped[str] = mapped_column(Text, nullable=False, default="")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def recipient_list(self) -> list[str]:
        return [item for item in self.recipients.split(",") if item]

    @property
    def attachment_names(self) -> list[str]:
        import json

        return [str(name) for name in json.loads(self.attachments_json or "[]")]
