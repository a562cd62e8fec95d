"""The web layer: login, CSRF, languages, security headers, error pages, layout context.

:func:`init_web` is called once by the extension after the plugins' blueprints are registered.
It adapts to where the bridge runs. In its own app (``create_app``) it sets up Flask-Login and
the session cookie. Inside a host app it never registers a ``LoginManager`` (the bridge keeps
its user under its own session key, so the host's login is never confused with a bridge
login), never changes the host's session interface or cookie settings, maps the host's user
through the ``medshake_current_user`` hook, and touches only the bridge's own pages (guard,
CSRF, headers and error pages are scoped to its blueprints). Flask-Babel is set up only when
the host has not.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    has_request_context,
    render_template,
    request,
)
from flask_login import LoginManager
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from medshake_bridge.access import (
    ACCESS_ATTR,
    USER,
    access_level,
    can_admin,
    current_bridge_user,
    guard_request,
)
from medshake_bridge.db import db
from medshake_bridge.flashes import flashed_messages
from medshake_bridge.i18n import init_babel, template_helpers
from medshake_bridge.models import User
from medshake_bridge.urls import current_target
from medshake_bridge.web.french import register as register_french_filters
from medshake_bridge.web.menu import build_menu
from medshake_bridge.web.request_memo import init_request_memo
from medshake_bridge.web.security import (
    add_security_headers,
    apply_csrf_defaults,
    harden_standalone_cookies,
)
from medshake_bridge.web.state import WEB_KEY, WebState
from medshake_bridge.web.throttle import init_throttle

STATIC_ENDPOINT = "bridge_auth.static"
OWN_LAYOUT = "bridge/layout.html"


def _nested_levels(levels: dict[str, str], name: str, blueprint: Blueprint) -> None:
    """Blueprints nested in a bridge blueprint (endpoints ``parent.child.view``) are bridge
    pages too: each gets its own level (``protect``) or its parent's, so an admin-only child
    of a user blueprint stays admin-only."""
    for child, options in getattr(blueprint, "_blueprints", []):
        dotted = f"{name}.{options.get('name', child.name)}"
        levels[dotted] = getattr(child, ACCESS_ATTR, levels[name])
        _nested_levels(levels, dotted, child)


def init_web(app: Flask, state: Any, plugin_blueprints: list[Blueprint]) -> WebState:
    """Attach the web layer to ``app``; ``plugin_blueprints`` are already registered."""
    from medshake_bridge.views.auth import auth_pages

    apply_csrf_defaults(app)
    standalone = bool(app.config.get("MEDSHAKE_BRIDGE_STANDALONE"))
    if standalone:
        harden_standalone_cookies(app)
    owns_babel = init_babel(app)
    owns_login_manager = standalone and _init_login_manager(app)
    web = WebState(
        owns_login_manager=owns_login_manager,
        owns_babel=owns_babel,
        throttle=init_throttle(app),
    )
    state.extras[WEB_KEY] = web
    prefix = app.config["MEDSHAKE_BRIDGE_URL_PREFIX"].rstrip("/") or None
    app.register_blueprint(auth_pages, url_prefix=prefix)
    for blueprint in [auth_pages, *plugin_blueprints]:
        web.blueprints[blueprint.name] = getattr(blueprint, ACCESS_ATTR, USER)
        _nested_levels(web.blueprints, blueprint.name, blueprint)
        # a blueprint with its own handler (the JSON API answers problem+json) keeps it
        app.error_handler_spec[blueprint.name][None].setdefault(HTTPException, render_http_error)
    init_request_memo(app, is_bridge_request)
    app.before_request(guard_request)
    app.after_request(_after_request)
    app.context_processor(_layout_context)
    register_french_filters(app)
    return web


def _init_login_manager(app: Flask) -> bool:
    """Create the bridge's LoginManager, or return False when the host app has one."""
    if getattr(app, "login_manager", None) is not None:
        return False
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.user_loader(_load_user)
    manager.init_app(app)
    return True


def _load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def is_bridge_request() -> bool:
    """True while serving one of the bridge's pages (not a page of the host portal)."""
    if not has_request_context() or request.url_rule is None:
        return False
    return access_level(request.endpoint) is not None


def _after_request(response: Response) -> Response:
    if is_bridge_request():
        add_security_headers(response, page=request.endpoint != STATIC_ENDPOINT)
    return response


def _layout_context() -> dict[str, Any]:
    if not is_bridge_request():
        return {}
    user = current_bridge_user()
    base_template = current_app.config.get("MEDSHAKE_BRIDGE_BASE_TEMPLATE") or OWN_LAYOUT
    return {
        **template_helpers(),
        "bridge_user": user,
        "is_admin": can_admin(user),
        "menu": build_menu(user),
        "csrf_token": generate_csrf,
        "role_label": role_label,
        "static_endpoint": STATIC_ENDPOINT,
        "bridge_flashed_messages": flashed_messages,
        "bridge_current_target": current_target,
        "bridge_base_template": base_template,
        "bridge_own_layout": base_template == OWN_LAYOUT,
    }


def role_label(role: str) -> str:
    from medshake_bridge.i18n import _

    labels = {"admin": _("Administrator"), "practitioner": _("Practitioner"),
              "secretary": _("Secretary")}
    return labels.get(role, role)


def render_http_error(error: HTTPException) -> tuple[str, int] | Response:
    """The bridge's error page: what happened and what to do, in the user's language."""
    from medshake_bridge.i18n import _

    code = error.code or 500
    explanations = {
        400: (_("The request was refused"),
              _("The form has expired or did not come from this page. Go back, reload the page "
                "and try again.")),
        403: (_("Not allowed"), _("Ask an administrator if you need this page.")),
        404: (_("Page not found"),
              _("This page does not exist or you may not open it. Use the menu to go on.")),
        405: (_("Not allowed"), _("Use the buttons of the page instead of typing the address.")),
        429: (_("Too many attempts"), _("Wait a minute, then try again.")),
        413: (_("The request is too large"), _too_large_advice()),
    }
    title, advice = explanations.get(
        code, (_("Something went wrong"),
               _("The error has been logged. Try again; if it keeps happening, tell your "
                 "administrator the time it happened."))
    )
    if _wants_json():
        from flask import jsonify

        return jsonify({"error": title, "message": advice, "status": code}), code
    try:
        body = render_template("bridge/error.html", code=code, title=title, advice=advice)
    except Exception:  # noqa: BLE001 - the layout itself failed (e.g. database down)
        return error.get_response()
    return body, code


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return bool(request.is_json) or (
        accept.best == "application/json" and accept["application/json"] > accept["text/html"])


def _too_large_advice() -> str:
    """413: the cap in megabytes, and that nothing was kept (the sender tries again)."""
    from medshake_bridge.i18n import _, human_size
    from medshake_bridge.web.limits import current_limit

    limit = current_limit()
    if limit is None:
        return _("Nothing was saved. Send less data at once, then try again.")
    return _("The request is larger than %(size)s, the maximum for this page. Nothing was "
             "saved: send smaller files or fewer at once, or ask an administrator to raise "
             "the limit.", size=human_size(limit))
