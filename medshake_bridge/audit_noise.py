"""Audit events anyone can cause without logging in, kept from flooding the log.

A visitor without a session can fail the CSRF check or a login as often as they like; one row
per attempt let 300 POSTs add 300 rows in under two seconds, burying the events an
administrator must see. :func:`audit_unauthenticated` records the first
:data:`BURST` events of one kind from one address in a :data:`WINDOW_SECONDS` window as usual,
then one aggregate row (action ``audit.suppressed``) whose count is kept up to date, so the log
still says how much noise there was, from where, and when.

Counters live in the process (a multi-process server aggregates per process, which still
bounds the rows). Events of logged-in users are always recorded one by one.

:func:`login_target` keeps what was typed in the login field out of the log when it is not a
known login: people type their password there by mistake. The row then carries a short keyed
fingerprint, enough to see that the same unknown text came back, and not the text.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from flask import current_app, has_request_context, request

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent

BURST = 5
WINDOW_SECONDS = 60
STATE_KEY = "audit_noise"
SUPPRESSED = "audit.suppressed"


@dataclass
class _Window:
    started: float
    count: int = 0
    aggregate_id: int | None = None


class NoiseCounter:
    """Per-(action, address) windows of one app."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[tuple[str, str], _Window] = {}

    def tick(self, key: tuple[str, str], now: float) -> _Window:
        with self.lock:
            window = self.windows.get(key)
            if window is None or now - window.started >= WINDOW_SECONDS:
                window = self.windows[key] = _Window(started=now)
                if len(self.windows) > 10_000:  # forget old windows (many addresses)
                    for old in [k for k, w in self.windows.items()
                                if now - w.started >= WINDOW_SECONDS]:
                        del self.windows[old]
            window.count += 1
            return window


def _counter() -> NoiseCounter:
    from medshake_bridge.extension import bridge_state

    extras = bridge_state().extras
    counter = extras.get(STATE_KEY)
    if counter is None:
        counter = extras[STATE_KEY] = NoiseCounter()
    return counter


def audit_unauthenticated(action: str, *, target: str = "", outcome: str = "denied",
                          detail: str = "", actor_login: str = "") -> None:
    """Record ``action`` caused by a visitor without a session, rate-limited per address."""
    address = (request.remote_addr or "") if has_request_context() else ""
    window = _counter().tick((action, address), time.monotonic())
    if window.count <= BURST:
        audit(action, target=target, outcome=outcome, detail=detail, actor=None,
              actor_login=actor_login)
        return
    suppressed = window.count - BURST
    text = (f"{suppressed} more {action} events from {address or 'an unknown address'} "
            f"within {WINDOW_SECONDS} s were not recorded one by one")
    if window.aggregate_id is not None:
        row = db.session.get(AuditEvent, window.aggregate_id)
        if row is not None:
            row.detail = text
            db.session.commit()
            return
    event = audit(SUPPRESSED, target=action, outcome="denied", detail=text, actor=None)
    window.aggregate_id = event.id


def login_target(typed: str, *, known: bool) -> str:
    """What the audit log keeps of the login field: the login when it names a user, else a
    keyed fingerprint (never the typed text, which may be a password)."""
    if known:
        return typed
    if not typed:
        return ""
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    digest = hmac.new(key, typed.encode("utf-8", "replace"), hashlib.sha256).hexdigest()
    return f"unknown login #{digest[:10]}"
