"""Events into the outbox, in the caller's transaction.

:func:`enqueue` adds one row per subscription that wants the event to the *current* session and
does not commit: the caller's commit makes the event and its announcement durable together
(a crash before it loses both, after it loses neither). The payload carries ids and links only;
a subscription created with ``include_clinical`` also gets the patient's identity and subject.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.models import WebhookDelivery, WebhookSubscription
from medshake_bridge.models.settings import utcnow

DOCUMENT_RECEIVED, DOCUMENT_FILED, MESSAGE_SENT = (
    "document.received", "document.filed", "message.sent")


def api_link(path: str) -> str:
    """``/api/v1`` + ``path`` under the bridge's prefix, absolute when
    ``MEDSHAKE_BRIDGE_PUBLIC_URL`` is set (events are often made outside any request)."""
    base = (current_app.config.get("MEDSHAKE_BRIDGE_PUBLIC_URL") or "").rstrip("/")
    prefix = (current_app.config.get("MEDSHAKE_BRIDGE_URL_PREFIX") or "").rstrip("/")
    return f"{base}{prefix}/api/v1{path}"


# Built once (read for every collected message): SQLAlchemy reuses its cache key.
_ACTIVE = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))


def subscribed(event: str) -> list[WebhookSubscription]:
    """The active subscriptions that want ``event`` (one query)."""
    return [row for row in db.session.scalars(_ACTIVE) if event in row.event_list]


def enqueue(event: str, data: dict[str, Any], clinical: dict[str, Any] | None = None,
            subscriptions: list[WebhookSubscription] | None = None) -> int:
    """Add the event for every active subscription to it; returns how many rows were added.
    ``subscriptions``: those :func:`subscribed` gave for this event (read here when None)."""
    if subscriptions is None:
        subscriptions = subscribed(event)
    now = utcnow()
    for subscription in subscriptions:
        event_id = str(uuid.uuid4())
        payload = {"id": event_id, "type": event,
                   "created_at": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                   "data": {**data, **((clinical or {}) if subscription.include_clinical else {})}}
        db.session.add(WebhookDelivery(
            subscription_id=subscription.id, event=event, event_id=event_id,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            created_at=now, next_attempt_at=now))
    return len(subscriptions)


def provenance(document: Any) -> dict[str, bool]:
    """The flags a receiver must see before trusting a document, as the API gives them: not
    encrypted with Apicrypt, sender outside the configured Apicrypt domains, some part with an
    invalid signature."""
    message = document.message
    return {"unencrypted": bool(message is not None and message.unencrypted),
            "external_sender": bool(message is not None and message.external_sender),
            "signature_invalid": bool(message is not None and message.signature_invalid)}


def document_received(documents: list[Any],
                      subscriptions: list[WebhookSubscription] | None = None) -> None:
    """For each new inbox document (already flushed, so it has an id).

    The subscriptions are read once for all the documents of a message, and nothing else is
    done when there is none (most sites: a collection paid a query and a lazy load of the
    message per document for nothing, issue 18). ``subscriptions``: those the caller read
    for several messages at once (read here when None)."""
    if not documents:
        return
    if subscriptions is None:
        subscriptions = subscribed(DOCUMENT_RECEIVED)
    if not subscriptions:
        return
    for document in documents:
        enqueue(DOCUMENT_RECEIVED, {
            "document": document.id, "owner": document.owner_user_id,
            "abnormal": bool(document.abnormal), **provenance(document),
            "links": {"document": api_link(f"/documents/{document.id}")}},
            clinical={"patient": {"last_name": document.patient_last_name,
                                  "first_name": document.patient_first_name,
                                  "birth_date": document.patient_birth_date.isoformat()
                                  if document.patient_birth_date else None},
                      "sender": document.sender_name},
            subscriptions=subscriptions)


def document_filed(document: Any, patient: str) -> None:
    enqueue(DOCUMENT_FILED, {
        "document": document.id, "owner": document.owner_user_id, "patient": patient,
        **provenance(document), "links": {"document": api_link(f"/documents/{document.id}")}},
        clinical={"patient_label": document.patient_last_name})


def message_sent(record: Any) -> None:
    enqueue(MESSAGE_SENT, {
        "message": record.id, "user": record.user_id,
        "acted_by": record.acted_by_user_id, "patient": record.patient_id,
        "links": {"message": api_link(f"/sent/{record.id}")}},
        clinical={"subject": record.subject, "recipients": record.recipient_list})
