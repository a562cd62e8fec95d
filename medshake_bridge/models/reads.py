"""Who opened which inbox document, and when: one row per (document, person).

The owner's state and a delegate's are separate rows, so a secretary reading a practitioner's
urgent report never makes it "read" for the practitioner (his unread count stays).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow


class DocumentRead(db.Model):
    """One person's reading of one inbox document (first and last time it was opened)."""

    __tablename__ = "bridge_document_reads"
    __table_args__ = (
        UniqueConstraint("document_id", "user_id"),
        Index("ix_bridge_document_reads_user", "user_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_inbox_documents.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("bridge_users.id", ondelete="CASCADE"),
                                         nullable=False)
    first_read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow)
    last_read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                   default=utcnow)
