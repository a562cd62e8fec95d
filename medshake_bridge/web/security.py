"""Request and response hardening for the bridge's pages.

* CSRF: every unsafe request to a bridge page must carry Flask-WTF's token (form field
  ``csrf_token`` or the ``X-CSRFToken`` header). The check runs from the access guard for the
  bridge's blueprints only, so inside a host portal the host's own forms are left alone.
* Headers: a Content-Security-Policy without ``unsafe-inline`` (the pages use only files from
  the bridge's static folder), no sniffing, no framing by other sites, no caching of pages that
  show medical data.
* Cookies (standalone only: inside a host app, the session cookie is the host's): the session
  cookie is named ``medshake_bridge_session``, its path is the bridge's root (so an app mounted
  beside it never receives it), and it is marked ``Secure`` whenever the request came over HTTPS
  (behind a reverse proxy, wrap the app in Werkzeug's ``ProxyFix`` so Flask sees it), and always
  when ``SESSION_COOKIE_SECURE`` or ``MEDSHAKE_BRIDGE_HSTS_SECONDS`` is set.
* HSTS: ``MEDSHAKE_BRIDGE_HSTS_SECONDS`` > 0 adds ``Strict-Transport-Security`` to the bridge's
  HTTPS responses (off by default: it is usually the reverse proxy's job, see docs/security.md).
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from medshake_bridge.audit import audit
from medshake_bridge.urls import cookie_path

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
        from medshake_bridge.access import current_bridge_user
        from medshake_bridge.audit_noise import audit_unauthenticated

        if current_bridge_user() is None:  # anyone can do this: rate-limited, aggregated
            audit_unauthenticated("csrf.failed", target=request.path,
                                  detail=str(error.description))
        else:
            audit("csrf.failed", target=request.path, outcome="denied",
                  detail=str(error.description))
        raise


def add_security_headers(response: Response, *, page: bool) -> Response:
    """Headers of every bridge response; ``page`` is False for static files (cacheable)."""
    headers = response.headers
    policy = current_app.config.get("MEDSHAKE_BRIDGE_CONTENT_SECURITY_POLICY") or DEFAULT_CSP
    nonce = getattr(g, current_app.config.get("MEDSHAKE_BRIDGE_CSP_NONCE_ATTRIBUTE") or "", None)
    if nonce:
        policy = with_nonce(policy, str(nonce))
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    if page:
        headers.setdefault("Cache-Control", "no-store")
    hsts = hsts_seconds()
    if hsts and request.is_secure:  # browsers ignore it over plain HTTP; never sent there
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    return response


def hsts_seconds() -> int:
    """``MEDSHAKE_BRIDGE_HSTS_SECONDS`` (0: no HSTS header; the reverse proxy may send it)."""
    try:
        return max(int(current_app.config.get("MEDSHAKE_BRIDGE_HSTS_SECONDS") or 0), 0)
    except (TypeError, ValueError):
        return 0


FLASK_DEFAULT_COOKIE_NAME = "session"
SESSION_COOKIE_NAME = "medshake_bridge_session"


def with_nonce(policy: str, nonce: str) -> str:
    """``policy`` that also allows the host layout's inline scripts and styles carrying
    ``nonce`` (a host that embeds the bridge in its layout hands its nonce through ``g``)."""
    directives = []
    for directive in policy.split(";"):
        name = directive.split()[0] if directive.split() else ""
        if name in ("script-src", "style-src"):
            directive = f"{directive.rstrip()} 'nonce-{nonce}'"
        directives.append(directive.strip())
    return "; ".join(part for part in directives if part)


class StandaloneSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session for the bridge's own app: ``Secure`` also on HTTPS requests, and
    the path of the bridge's root (mount point and prefix) unless ``SESSION_COOKIE_PATH`` says
    otherwise."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(super().get_cookie_secure(app))
        if configured or (has_request_context() and request.is_secure):
            return True
        try:  # a site that promises HTTPS only (HSTS) never sends the cookie in clear
            return int(app.config.get("MEDSHAKE_BRIDGE_HSTS_SECONDS") or 0) > 0
        except (TypeError, ValueError):
            return False

    def get_cookie_path(self, app: Flask) -> str:
        if app.config.get("SESSION_COOKIE_PATH") or not has_request_context():
            return super().get_cookie_path(app)
        return cookie_path()


def harden_standalone_cookies(app: Flask) -> None:
    """The standalone app's cookie settings (``create_app`` only: the app is the bridge's).

    Flask's default cookie names (``session``, flask-login's ``remember_token``) are replaced by
    the bridge's, so a bridge served beside another app on one host never reads, overwrites or
    deletes that app's cookies; names set in the configuration are kept.
    """
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = StandaloneSessionInterface()
    if app.config.get("SESSION_COOKIE_NAME") in (None, "", FLASK_DEFAULT_COOKIE_NAME):
        app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE_NAME
    app.config.setdefault("REMEMBER_COOKIE_NAME", "medshake_bridge_remember")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
