"""Request and response hardening for the bridge's pages.

* CSRF: every unsafe request to a bridge page must carry Flask-WTF's token (form field
  ``csrf_token`` or the ``X-CSRFToken`` header). The check runs from the access guard for the
  bridge's blueprints only, so inside a host portal the host's own forms are left alone.
* Headers: a Content-Security-Policy without ``unsafe-inline`` (the pages use only files from
  the bridge's static folder), no sniffing, no framing by other sites, no caching of pages that
  show medical data.
* Cookies: the session cookie is marked ``Secure`` whenever the request came over HTTPS (behind
  a reverse proxy, wrap the app in Werkzeug's ``ProxyFix`` so Flask sees it), and always when
  ``SESSION_COOKIE_SECURE`` is set.
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from medshake_bridge.audit import audit

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
CSRF_DEFAULTS = {
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_METHODS": ["POST", "PUT", "PATCH", "DELETE"],
    "WTF_CSRF_FIELD_NAME": "csrf_token",
    "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
    "WTF_CSRF_TIME_LIMIT": 3600 * 8,
    "WTF_CSRF_SSL_STRICT": True,
}

_csrf = CSRFProtect()  # used for its check only; never init_app'ed (it would guard host pages)


def apply_csrf_defaults(app: Flask) -> None:
    for key, value in CSRF_DEFAULTS.items():
        app.config.setdefault(key, value)


def check_csrf() -> None:
    """Raise ``CSRFError`` (audited) unless the request carries a valid token."""
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    try:
        _csrf.protect()
    except CSRFError as error:
        audit("csrf.failed", target=request.path, outcome="denied", detail=str(error.description))
        raise


def add_security_headers(response: Response, *, page: bool) -> Response:
    """Headers of every bridge response; ``page`` is False for static files (cacheable)."""
    headers = response.headers
    policy = current_app.config.get("MEDSHAKE_BRIDGE_CONTENT_SECURITY_POLICY") or DEFAULT_CSP
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    if page:
        headers.setdefault("Cache-Control", "no-store")
    return response


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, with the ``Secure`` flag also set on HTTPS requests."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(super().get_cookie_secure(app))
        return configured or (has_request_context() and request.is_secure)


def harden_session_cookie(app: Flask) -> None:
    """Use :class:`HttpsAwareSessionInterface` unless the app chose its own session store."""
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = HttpsAwareSessionInterface()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
