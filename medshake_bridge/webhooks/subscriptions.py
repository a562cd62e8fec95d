"""Webhook subscriptions: add (secret encrypted at rest), list, remove."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.models import WebhookSubscription
from medshake_bridge.models.api import EVENTS


class WebhookError(BridgeError):
    """A subscription could not be added or found."""


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not an http(s) URL",
                           fix="give a full URL such as https://portal.example/hooks/bridge")
    if len(url) > 1000:
        raise WebhookError("the URL is longer than 1000 characters", fix="use a shorter URL")
    return url.strip()


def add_subscription(url: str, events: list[str], *, secret: str | None = None,
                     include_clinical: bool = False) -> tuple[WebhookSubscription, str]:
    """Add a subscription; returns it and its secret (generated when not given). Commits."""
    unknown = [event for event in events if event not in EVENTS]
    if unknown or not events:
        raise WebhookError(f"unknown or missing event(s): {', '.join(unknown) or '-'}",
                           fix=f"give one or more of: {', '.join(EVENTS)}")
    secret = secret if secret is not None else secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise WebhookError("the secret is shorter than 16 characters",
                           fix="use a long random secret (or let the bridge make one)")
    row = WebhookSubscription(url=check_url(url),
                              events=" ".join(event for event in EVENTS if event in events),
                              secret=bridge_state().secrets.encrypt(secret),
                              include_clinical=include_clinical)
    db.session.add(row)
    db.session.commit()
    return row, secret


def subscription_secret(row: WebhookSubscription) -> str:
    return bridge_state().secrets.decrypt(row.secret)


def list_subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def get_subscription(subscription_id: int) -> WebhookSubscription:
    row = db.session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise WebhookError(f"no webhook {subscription_id}", fix="see medshake-bridge webhooks list")
    return row


def remove_subscription(subscription_id: int) -> None:
    """Remove a subscription and its undelivered events. Commits."""
    from medshake_bridge.models import WebhookDelivery

    row = get_subscription(subscription_id)
    for delivery in db.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == row.id)):
        db.session.delete(delivery)
    db.session.delete(row)
    db.session.commit()
