"""The JSON API's tables: access tokens, webhook subscriptions and the webhook outbox.

A token is stored as the SHA-256 of its text (the text is shown once, at creation): a random
256-bit token needs no slow hash, and the digest lets a request find its row with one indexed
lookup. The outbox holds one row per (subscription, event), written in the same transaction as
the event itself, so an event is never announced without having happened nor lost when the
process dies before delivering it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

SCOPES = ("inbox:read", "inbox:write", "send", "patients:read", "admin")
EVENTS = ("document.received", "document.filed", "message.sent")

# States of an outbox row.
PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "failed"


class ApiToken(db.Model):
    """A machine's credential: acts as ``user`` within ``scopes`` until expiry or revocation."""

    __tablename__ = "bridge_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_users.id", name="fk_bridge_api_tokens_user"), nullable=False,
        index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)  # shown in lists
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scopes: Mapped[str] = mapped_column(String(200), nullable=False)  # space-separated
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def scope_list(self) -> list[str]:
        return [item for item in self.scopes.split() if item]


class WebhookSubscription(db.Model):
    """A URL told about some events, with a secret it verifies our signatures with."""

    __tablename__ = "bridge_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), nullable=False)
    events: Mapped[str] = mapped_column(String(200), nullable=False)  # space-separated
    secret: Mapped[str] = mapped_column(Text, nullable=False)  # encrypted (SecretBox)
    # False (default): ids and links only; True: also the patient's identity and the subject.
    include_clinical: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return [item for item in self.events.split() if item]


class WebhookDelivery(db.Model):
    """One event for one subscription: pending until the receiver answers 2xx, retried with
    backoff, given up (``failed``) after the retry window."""

    __tablename__ = "bridge_webhook_outbox"
    __table_args__ = (
        Index("ix_bridge_webhook_outbox_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_webhooks.id", name="fk_bridge_webhook_outbox_subscription",
                   ondelete="CASCADE"), nullable=False, index=True)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    event_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    subscription: Mapped[WebhookSubscription] = relationship()
