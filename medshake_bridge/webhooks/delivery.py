"""Delivering the outbox: POST each due event, signed; retry with backoff for 24 hours.

A row is *claimed* before it is sent (its next try is pushed a lease ahead by a conditional
update), so two processes never send the same row at the same time. A 2xx answer marks it
delivered; anything else (refused, timeout, 4xx/5xx) schedules the next try after a growing
delay (30 s, 1 min, 2 min ... at most 1 h) until the event is 24 hours old, then marks it
``failed``: shown on the webhooks page and by ``doctor``, with a button to try again. A crash
after the receiver answered but before the row was marked can deliver an event twice: receivers
deduplicate on ``X-Medshake-Event-Id`` (the payload's ``id``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from sqlalchemy import select, update

from medshake_bridge.db import db
from medshake_bridge.models import WebhookDelivery
from medshake_bridge.models.api import DELIVERED, GIVEN_UP, PENDING
from medshake_bridge.models.settings import utcnow
from medshake_bridge.webhooks.signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from medshake_bridge.webhooks.subscriptions import (
    WebhookError,
    check_url,
    subscription_secret,
)

log = logging.getLogger(__name__)

RETRY_WINDOW = dt.timedelta(hours=24)
FIRST_DELAY, MAX_DELAY = 30, 3600
LEASE = dt.timedelta(minutes=2)
BATCH = 100


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_counts(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retrying": self.retrying, "failed": self.failed}


def retry_delay(attempts: int) -> dt.timedelta:
    """30 s after the first failure, doubling, at most an hour."""
    return dt.timedelta(seconds=min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, attempts - 1)))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _claim(row: WebhookDelivery, now: dt.datetime) -> bool:
    claimed = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == row.id,
                                      WebhookDelivery.state == PENDING,
                                      WebhookDelivery.next_attempt_at == row.next_attempt_at)
        .values(next_attempt_at=now + LEASE))
    db.session.commit()
    return claimed.rowcount == 1


def post_event(row: WebhookDelivery, *, timeout: float) -> tuple[int | None, str]:
    """Send one event; returns (HTTP status or None, error text)."""
    body = row.payload.encode("utf-8")
    timestamp = int(time.time())
    try:
        url = check_url(row.subscription.url)  # http(s) only, checked again before each send
    except WebhookError as exc:
        return None, exc.message
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json",
        "User-Agent": "medshake-bridge-webhooks",
        EVENT_HEADER: row.event,
        EVENT_ID_HEADER: row.event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(subscription_secret(row.subscription), timestamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"the receiver answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"the receiver could not be reached: {reason}"


def deliver_due(*, now: dt.datetime | None = None, timeout: float = 10.0) -> DeliveryReport:
    """Send every due pending event once (one pass; the scheduler calls it every minute)."""
    report = DeliveryReport()
    now = now or utcnow()
    rows = list(db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.state == PENDING,
                                      WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.id).limit(BATCH)))
    for row in rows:
        if not row.subscription.active or not _claim(row, now):
            continue
        status, error = post_event(row, timeout=timeout)
        finished = max(utcnow(), now)
        row.attempts += 1
        row.last_status = status
        if status is not None and 200 <= status < 300:
            row.state, row.delivered_at, row.last_error = DELIVERED, finished, ""
            report.delivered += 1
        elif finished - _aware(row.created_at) >= RETRY_WINDOW:
            row.state, row.last_error = GIVEN_UP, error
            report.failed += 1
            report.errors.append(f"event {row.event_id} to {row.subscription.url}: {error}")
            log.warning("webhook event %s to %s given up after %d tries: %s", row.event_id,
                        row.subscription.url, row.attempts, error)
        else:
            row.last_error = error
            row.next_attempt_at = finished + retry_delay(row.attempts)
            report.retrying += 1
        db.session.commit()
    return report


def failed_deliveries(limit: int = 200) -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.state == GIVEN_UP).order_by(WebhookDelivery.id.desc()).limit(limit)))


def retry_failed(delivery_id: int | None = None) -> int:
    """Put failed events back in the queue (one, or all); they get a new 24-hour window."""
    statement = update(WebhookDelivery).where(WebhookDelivery.state == GIVEN_UP)
    if delivery_id is not None:
        statement = statement.where(WebhookDelivery.id == delivery_id)
    now = utcnow()
    done = db.session.execute(statement.values(state=PENDING, next_attempt_at=now,
                                               created_at=now, attempts=0))
    db.session.commit()
    return int(done.rowcount or 0)
