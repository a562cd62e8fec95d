"""How large a request body may be, decided per route *before* anything reads it.

Without a cap, Werkzeug parses a multipart body of any size into temporary files before the
CSRF check or the login check can refuse it (a 1 GB POST to the compose page without a session
filled the temporary folder). The access guard calls :func:`apply_body_limit` first thing for an
unsafe request to a bridge page:

* the login, logout and language forms, and any page posted without a bridge login:
  ``MEDSHAKE_BRIDGE_MAX_SMALL_FORM_BYTES`` (64 KB);
* other forms: ``MEDSHAKE_BRIDGE_MAX_FORM_BYTES`` (1 MB);
* views marked with :func:`upload_route`: ``MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES`` (64 MB) or the
  smaller limit the decorator names.

A body announced larger than its limit is refused at once with 413 (nothing read); a body sent
without a length is cut by Werkzeug at the limit, with the same 413. A plugin that sets
``request.max_content_length`` itself (before the guard runs) keeps its own limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, g, request

LIMIT_ATTR = "medshake_body_limit"
UPLOAD = "upload"
SMALL_ENDPOINTS = frozenset({"bridge_auth.login", "bridge_auth.logout", "bridge_auth.language"})
DEFAULT_LIMITS = {
    "MEDSHAKE_BRIDGE_MAX_SMALL_FORM_BYTES": 64 * 1024,
    "MEDSHAKE_BRIDGE_MAX_FORM_BYTES": 1024 * 1024,
    "MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES": 64 * 1024 * 1024,
}
G_LIMIT = "medshake_bridge_body_limit"

View = TypeVar("View", bound=Callable[..., Any])


def upload_route(max_bytes: int | None = None) -> Callable[[View], View]:
    """Mark a view that receives files: its body may reach the configured upload maximum
    (``MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES``), or ``max_bytes`` when that is smaller."""

    def mark(view: View) -> View:
        setattr(view, LIMIT_ATTR, max_bytes if max_bytes else UPLOAD)
        return view

    return mark


def configured(key: str) -> int:
    try:
        value = int(current_app.config.get(key) or DEFAULT_LIMITS[key])
    except (TypeError, ValueError):
        value = DEFAULT_LIMITS[key]
    return max(value, 1024)


def limit_for(endpoint: str | None, *, logged_in: bool) -> int:
    """The body limit of a POST to ``endpoint``."""
    if endpoint in SMALL_ENDPOINTS or not logged_in:
        return configured("MEDSHAKE_BRIDGE_MAX_SMALL_FORM_BYTES")
    view = current_app.view_functions.get(endpoint or "")
    mark = getattr(view, LIMIT_ATTR, None)
    if mark is None:
        return configured("MEDSHAKE_BRIDGE_MAX_FORM_BYTES")
    upload = configured("MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES")
    return upload if mark == UPLOAD else min(int(mark), upload)


def apply_body_limit(*, logged_in: bool) -> None:
    """Cap this request's body (413 at once when its announced length is over the cap)."""
    own = request.max_content_length
    app_wide = current_app.config.get("MAX_CONTENT_LENGTH")
    if logged_in and own is not None and own != app_wide:
        limit = int(own)  # a plugin chose its own cap for this route (logged-in visitors)
    else:
        limit = limit_for(request.endpoint, logged_in=logged_in)
        if app_wide:  # a host app's own cap is never raised by the bridge
            limit = min(limit, int(app_wide))
    request.max_content_length = limit
    setattr(g, G_LIMIT, limit)
    length = request.content_length
    if length is not None and length > limit:
        abort(413)


def current_limit() -> int | None:
    """The cap applied to this request (for the 413 page), if any."""
    return getattr(g, G_LIMIT, None)
