"""Server-side control over cookie sessions: revocation, idle and absolute timeouts.

Flask's session is a signed cookie: nothing on the server remembers it, so a copied cookie
would stay valid after logout for as long as its signature is accepted. Each session therefore
carries the user's *session epoch* (a counter on the user row) and when it was opened and last
used. Logout, a password reset and a change of role or of the active flag raise the epoch,
which ends every session of that user at once, on every browser. A session unused for
``MEDSHAKE_BRIDGE_SESSION_IDLE_MINUTES`` or older than ``MEDSHAKE_BRIDGE_SESSION_MAX_HOURS``
ends too (both are configuration keys; 0 switches the check off).
"""

from __future__ import annotations

import time

from flask import current_app, session

from medshake_bridge.models import User

EPOCH_KEY = "medshake_bridge_epoch"
STARTED_KEY = "medshake_bridge_started"
SEEN_KEY = "medshake_bridge_seen"
SESSION_KEYS = (EPOCH_KEY, STARTED_KEY, SEEN_KEY)
SEEN_GRANULARITY = 30  # seconds: the cookie is rewritten at most this often for the idle clock


def stamp_session(user: User) -> None:
    """Bind this browser session to ``user``'s current epoch (after a login or a change of
    the user's own password)."""
    now = int(time.time())
    session[EPOCH_KEY] = int(user.session_epoch or 0)
    session[STARTED_KEY] = now
    session[SEEN_KEY] = now


def clear_stamp() -> None:
    for key in SESSION_KEYS:
        session.pop(key, None)


def session_problem(user: User) -> str:
    """Why this session may no longer act for ``user`` ("" when it may): ``revoked``,
    ``idle`` or ``expired``. Refreshes the idle clock of a valid session."""
    epoch = session.get(EPOCH_KEY)
    if not isinstance(epoch, int) or epoch != int(user.session_epoch or 0):
        return "revoked"
    now = int(time.time())
    started = session.get(STARTED_KEY)
    seen = session.get(SEEN_KEY)
    if not isinstance(started, int) or not isinstance(seen, int):
        return "revoked"
    max_hours = _number("MEDSHAKE_BRIDGE_SESSION_MAX_HOURS")
    if max_hours and now - started > max_hours * 3600:
        return "expired"
    idle_minutes = _number("MEDSHAKE_BRIDGE_SESSION_IDLE_MINUTES")
    if idle_minutes and now - seen > idle_minutes * 60:
        return "idle"
    if now - seen >= SEEN_GRANULARITY:
        session[SEEN_KEY] = now
    return ""


def revoke_sessions(user: User) -> None:
    """End every session of ``user`` (the caller commits)."""
    user.session_epoch = int(user.session_epoch or 0) + 1


def _number(key: str) -> float:
    try:
        return max(float(current_app.config.get(key) or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0
