"""The audit log: who did what, when, from where, and how it ended.

Rows are written once and never updated. The actor is kept both as an id and as a login (copied
at the time of the event) without a foreign key, so the log stays readable and intact whatever
later happens to the user rows. ``detail`` never holds a secret value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
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


class AuditNoiseCounter(db.Model):
    """How many events of one kind one address caused in its current window, shared by every
    process of the site (see :mod:`medshake_bridge.audit_noise`): N web workers flooded
    together still write a bounded number of audit rows. ``aggregate_id`` is the
    ``audit.suppressed`` row kept up to date for this window, once there is one."""

    __tablename__ = "bridge_audit_noise"

    action: Mapped[str] = mapped_column(String(80), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    started: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    aggregate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
