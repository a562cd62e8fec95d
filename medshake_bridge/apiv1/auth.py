"""Who is calling the API: a bearer token, else the session; and how often.

Called by :func:`medshake_bridge.access.guard_request` for every API request (the access
rules themselves stay in :mod:`medshake_bridge.access`). A token needs no CSRF token (a browser
never adds one by itself); a session write does, as on the pages. Nobody: a 401 problem, never
a redirect to the HTML login page. Each credential (token, or user of a session) is limited to
``MEDSHAKE_BRIDGE_API_RATE_LIMIT`` requests (default ``600/minute``), counted by ``limits`` in
the same storage as the login throttle.
"""

from __future__ import annotations

import threading
import time

from flask import current_app, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.wrappers import Response

from medshake_bridge.access import current_bridge_user, remember_token
from medshake_bridge.apiv1.problems import ApiProblem
from medshake_bridge.apiv1.tokens import find_token
from medshake_bridge.i18n import _

DEFAULT_RATE_LIMIT = "600/minute"
_LIMITERS: dict[str, FixedWindowRateLimiter] = {}
_LOCK = threading.Lock()


def _limiter() -> FixedWindowRateLimiter:
    uri = current_app.config.get("MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI") or "memory://"
    with _LOCK:
        if uri not in _LIMITERS:
            _LIMITERS[uri] = FixedWindowRateLimiter(storage_from_string(uri))
        return _LIMITERS[uri]


def _rate_limit(key: str) -> None:
    item = parse(current_app.config.get("MEDSHAKE_BRIDGE_API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    limiter = _limiter()
    app_key = str(id(current_app._get_current_object()))  # type: ignore[attr-defined]
    if not limiter.hit(item, "medshake_bridge/api", app_key, key):
        reset = limiter.get_window_stats(item, "medshake_bridge/api", app_key, key).reset_time
        wait = max(1, int(reset - time.time()) + 1)
        raise ApiProblem(429, _("Too many requests for this credential."),
                         fix=_("Wait %(seconds)s seconds.", seconds=wait),
                         headers={"Retry-After": str(wait)})


def _limit_body() -> None:
    """Cap a write's body before anything reads it (the pages' limits: 1 MB, or the upload
    maximum for the routes that take files), once the caller is known: an anonymous body is
    never read at all (401 first)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from medshake_bridge.web.limits import apply_body_limit

        apply_body_limit(logged_in=True)


def authenticate_api_request() -> Response | None:
    """Authenticate (token or session), rate-limit, cap the body, and check CSRF for session
    writes. A session whose user must change their password first gets nothing but that
    answer, as on the pages (the API is no way around the forced change)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, text = header.partition(" ")
        token = find_token(text.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise ApiProblem(401, _("The token is missing, unknown, expired or revoked."))
        remember_token(token)
        _rate_limit(f"token:{token.id}")
        _limit_body()
        return None
    user = current_bridge_user()
    if user is None:
        raise ApiProblem(401, _("No token and no session."))
    if user.must_change_password:
        raise ApiProblem(403, _("You must change your password before using the bridge."),
                         title=_("Password change required"),
                         fix=_("Open the bridge's password page, choose a new password, then "
                               "try again."))
    _limit_body()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from medshake_bridge.web.security import check_csrf

        check_csrf()
    _rate_limit(f"user:{user.id}")
    return None
