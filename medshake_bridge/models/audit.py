"""The audit log: who did what, when, from where, and how it ended.

Rows are written once and never updated. The actor is kept both as an id and as a login (copied
at the time of the event) without a foreign key, so the log stays readable and intact whatever
later happens to the user rows. ``detail`` never holds a secret value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

OUTCOMES = ("ok", "denied", "failed")


class AuditEvent(db.Model):
    __tablename__ = "bridge_audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_login: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    action: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, default="ok")
    source_address: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.outcome} {self.actor_login}>"
