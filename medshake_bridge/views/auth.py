"""Logging in and out, choosing the language, and the static files of the layout."""

from __future__ import annotations

from pathlib import Path

import flask_login
from flask import (
    Blueprint,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from medshake_bridge.access import (
    PUBLIC,
    SESSION_USER_KEY,
    current_bridge_user,
    end_login_session,
    host_user,
    owns_login_manager,
    protect,
    public,
    remember_user,
)
from medshake_bridge.audit import audit
from medshake_bridge.audit_noise import audit_unauthenticated, login_target
from medshake_bridge.db import db
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import LANGUAGE_COOKIE, LANGUAGES, _
from medshake_bridge.models import User
from medshake_bridge.sessions import revoke_sessions, stamp_session
from medshake_bridge.urls import cookie_path, login_url, safe_next
from medshake_bridge.users import find_user, hash_password, verify_password
from medshake_bridge.web.state import web_state

HOME_ENDPOINT = "bridge_home.index"
STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"
ONE_YEAR = 365 * 24 * 3600

auth_pages = protect(
    Blueprint("bridge_auth", __name__, static_folder=str(STATIC_FOLDER),
              static_url_path="/bridge-static"),
    PUBLIC,
)

_dummy_hash: list[str] = []


def _check_against_dummy(password: str) -> None:
    """Spend the same time on an unknown login as on a known one (no user enumeration)."""
    if not _dummy_hash:
        _dummy_hash.append(hash_password("not-a-real-password-at-all"))
    stand_in = User(password_hash=_dummy_hash[0])
    verify_password(stand_in, password)


def _login_page(status: int, login: str = "", next_url: str | None = None) -> Response:
    body = render_template("bridge/login.html", login=login, next_url=next_url or "")
    return make_response(body, status)


@auth_pages.route("/login", methods=["GET", "POST"])
@public
def login() -> Response:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_bridge_user() is not None:
            return redirect(next_url or url_for(HOME_ENDPOINT))
        return _login_page(200, next_url=next_url)
    login_name = request.form.get("login", "").strip()[:80]
    password = request.form.get("password", "")
    throttle = web_state().throttle
    user = find_user(login_name) if login_name else None
    logged = login_target(login_name, known=user is not None)  # never a password typed there
    # The limiter's keys hold the same (a shared Redis store must not keep a typed password).
    if not throttle.allowed(logged):
        wait = throttle.retry_after(logged)
        audit_unauthenticated("login.throttled", target=logged, actor_login=logged,
                              detail=f"retry after {wait} s")
        flash(_("Too many failed attempts. Wait %(seconds)s seconds, then try again.",
                seconds=wait), "error")
        response = _login_page(429, login_name, next_url)
        response.headers["Retry-After"] = str(wait)
        return response
    if user is None:
        _check_against_dummy(password)
        return _failed(login_name, logged, next_url, "unknown login")
    if not verify_password(user, password):
        return _failed(login_name, logged, next_url, "wrong password")
    if not user.active:
        throttle.failed(logged)
        audit_unauthenticated("login.failed", target=logged, actor_login=logged,
                              detail="deactivated account")
        flash(_("This account is deactivated. Ask an administrator to reactivate it."), "error")
        return _login_page(403, login_name, next_url)
    _start_session(user)
    throttle.succeeded(logged)
    audit("login", target=user.login)
    flash(_("Welcome, %(name)s.", name=user.display_name or user.login), "success")
    return redirect(next_url or url_for(HOME_ENDPOINT))


def _failed(login_name: str, logged: str, next_url: str | None, detail: str) -> Response:
    web_state().throttle.failed(logged)
    audit_unauthenticated("login.failed", target=logged, outcome="failed", actor_login=logged,
                          detail=detail)
    flash(_("Wrong login or password. Check both and try again."), "error")
    return _login_page(401, login_name, next_url)


def _start_session(user: User) -> None:
    """The bridge's user for this browser session.

    Only the bridge's own session keys change: inside a portal the session also holds the
    portal's login, which a bridge login or logout must never end. (Flask's session is a signed
    cookie rewritten on every change, so there is no server-side session id to fixate.)
    """
    session.pop(SESSION_USER_KEY, None)
    if owns_login_manager():
        flask_login.login_user(user)
    else:
        session[SESSION_USER_KEY] = user.id
    stamp_session(user)
    remember_user(user)


@auth_pages.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    user = current_bridge_user()
    if user is not None:
        revoke_sessions(user)  # a copied cookie of any of the user's sessions stops working
        db.session.commit()
        audit("logout", target=user.login)
    end_login_session()
    if host_user() is not None:  # signed in through the host: back to the host's pages
        return redirect(request.script_root.rstrip("/") + "/")
    flash(_("You are logged out."), "success")
    return redirect(login_url())


@auth_pages.route("/language", methods=["POST"])
@public
def language() -> Response:
    """Remember the chosen language in a cookie (kept across logins) and go back."""
    chosen = request.form.get("lang", "")
    back = safe_next(request.form.get("next")) or url_for(HOME_ENDPOINT)
    response = redirect(back)
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=ONE_YEAR, httponly=True,
                            samesite="Lax", secure=request.is_secure, path=cookie_path())
    return response
