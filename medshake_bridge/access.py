"""Who may see and do what: the one module that decides.

* Every page of the bridge (its own blueprints and those plugins add through
  ``medshake_blueprints``) needs a logged-in bridge user, unless its view is marked
  :func:`public`; admin pages are marked :func:`admin_only` (or their blueprint
  ``protect(bp, ADMIN)``). :func:`guard_request` enforces this before any view runs, so a page
  cannot forget it.
* The mail of user X may be read by X, by admins, and by users whose effective
  ``apicryptInboxMailForUserID`` lists X (a secretary): :func:`readable_mail_owner_ids` and
  :func:`require_mail_access`. Inbox views call these for every action, not only the list.
* Something not allowed answers 404 (the same as something that does not exist, so nothing is
  revealed) and is written to the audit log.
* The JSON API (blueprints protected with :data:`API`) authenticates a bearer token or the
  session (CSRF checked for session writes only); a token acts as its user with exactly these
  rules, within its scopes (:func:`require_scope`), and as an admin only with the ``admin``
  scope. A missing scope answers 403: the caller knows what it asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import flask_login
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.sessions import clear_stamp, session_problem
from medshake_bridge.settings.store import once_per_run
from medshake_bridge.urls import current_target, login_url

PUBLIC, USER, ADMIN, API = "public", "user", "admin", "api"
ACCESS_ATTR = "medshake_access"
SESSION_USER_KEY = "medshake_bridge_user_id"
LOGIN_ENDPOINT = "bridge_auth.login"
# The only page open to a user who must change the password first.
PASSWORD_CHANGE_ENDPOINT = "bridge_account.password"  # noqa: S105 - an endpoint name
_USER_CACHE = "medshake_bridge_user"
_TOKEN_CACHE = "medshake_bridge_api_token"  # noqa: S105 - a g attribute name
_OWNER_IDS_MEMO = "access.readable_mail_owner_ids"

View = TypeVar("View", bound=Callable[..., Any])


# -- marking pages -------------------------------------------------------------------------

def public(view: View) -> View:
    """Mark a view as reachable without logging in (login page, static files)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def admin_only(view: View) -> View:
    """Mark a view as reserved to admins (others get a 404, audited)."""
    setattr(view, ACCESS_ATTR, ADMIN)
    return view


def protect(blueprint: Blueprint, level: str) -> Blueprint:
    """Set the default access level of every view of ``blueprint`` (a view mark wins)."""
    if level not in (PUBLIC, USER, ADMIN, API):
        raise ValueError(f"access level must be public, user, admin or api, not {level!r}")
    setattr(blueprint, ACCESS_ATTR, level)
    return blueprint


# -- rules ---------------------------------------------------------------------------------

def can_admin(user: User | None) -> bool:
    """Admin pages (users, settings, plugins, audit, keys, system): active admins only; an
    admin's API token acts as an admin only when it has the ``admin`` scope."""
    if user is None or not user.active or user.role != "admin":
        return False
    token = request_token()
    return token is None or token.user_id != user.id or "admin" in token.scope_list


def request_token() -> Any:
    """The API token (``ApiToken``) this request authenticated with, or ``None``."""
    return g.get(_TOKEN_CACHE) if has_request_context() else None


def remember_token(token: Any) -> None:
    """Make ``token`` the request's credential (and its user the request's user)."""
    setattr(g, _TOKEN_CACHE, token)
    setattr(g, _USER_CACHE, _active_user(token.user_id))


def has_scope(scope: str) -> bool:
    """A token needs ``scope``; a session may do what its user may (``admin`` for admins)."""
    token = request_token()
    if token is not None:
        return scope in token.scope_list
    return scope != "admin" or can_admin(current_bridge_user())


def require_scope(scope: str) -> None:
    """Answer 403 (audited) unless the request's credential has ``scope``."""
    if not has_scope(scope):
        audit("access.denied", target=current_target(), outcome="denied",
              detail=f"token without scope {scope}")
        abort(403, description=f"this token lacks the {scope} scope")


def readable_mail_owner_ids(user: User | None) -> set[int]:
    """Ids of the users whose collected mail ``user`` may see and act on.

    A page asks this several times (list, counts, menu, each row's actions); within a run of
    work that remembers settings (a bridge request, a collection: :func:`once_per_run`) the answer
    is read once, and read again after a setting is written or the session rolled back."""
    if user is None or not user.active:
        return set()
    return set(once_per_run((_OWNER_IDS_MEMO, user.id), lambda: _readable_owner_ids(user)))


def _readable_owner_ids(user: User) -> set[int]:
    if can_admin(user):
        return set(db.session.scalars(select(User.id)))
    from medshake_bridge.extension import bridge_state

    shared = bridge_state().settings.get("apicryptInboxMailForUserID", user_id=user.id) or []
    return {user.id, *(int(owner) for owner in shared)}


def may_read_mail_of(user: User | None, owner_id: int) -> bool:
    """True when ``user`` may see and act on the collected mail of user ``owner_id``."""
    return int(owner_id) in readable_mail_owner_ids(user)


def require_mail_access(user: User | None, owner_id: int, *, target: str = "") -> None:
    """Answer 404 (audited) unless ``user`` may act on the mail of ``owner_id``."""
    if not may_read_mail_of(user, owner_id):
        deny(target or f"mail of user {owner_id}", detail="mail of another user")


def require_admin(user: User | None, *, target: str = "") -> None:
    """Answer 404 (audited) unless ``user`` is an admin."""
    if not can_admin(user):
        deny(target or current_target(), detail="admin page")


def deny(target: str, *, detail: str = "") -> NoReturn:
    """Refuse as if the thing did not exist: audit the attempt, then 404."""
    audit("access.denied", target=target, outcome="denied", detail=detail)
    abort(404)


# -- who is asking -------------------------------------------------------------------------

def current_bridge_user() -> User | None:
    """The bridge user of this request: the one logged in, else the host's user mapped by the
    ``medshake_current_user`` hook (embedding), else ``None``. Inactive users count as nobody."""
    if not has_request_context():
        return None
    if _USER_CACHE not in g:
        setattr(g, _USER_CACHE, _logged_in_user() or host_user())
    return getattr(g, _USER_CACHE)


def remember_user(user: User | None) -> None:
    """Make ``user`` the request's bridge user (after logging in or out)."""
    setattr(g, _USER_CACHE, user)


def owns_login_manager() -> bool:
    from medshake_bridge.web.state import web_state

    return web_state().owns_login_manager


def _logged_in_user() -> User | None:
    if owns_login_manager():
        user = flask_login.current_user._get_current_object()  # type: ignore[attr-defined]
        user = user if isinstance(user, User) and user.active else None
    else:
        user_id = session.get(SESSION_USER_KEY)
        user = _active_user(user_id) if user_id is not None else None
    if user is None:
        return None
    problem = session_problem(user)
    if problem:
        end_login_session()
        _say_session_ended(problem)
        return None
    return user


def end_login_session() -> None:
    """Forget the bridge's login in this browser session (the host's keys are left alone)."""
    if owns_login_manager():
        flask_login.logout_user()
    session.pop(SESSION_USER_KEY, None)
    clear_stamp()
    remember_user(None)


def _say_session_ended(problem: str) -> None:
    from medshake_bridge.flashes import flash
    from medshake_bridge.i18n import _

    messages = {
        "idle": _("Your session ended after a period without activity: log in again."),
        "expired": _("Your session reached its maximum length: log in again."),
        "revoked": _("Your session was ended (logout, new password or changed rights): "
                     "log in again."),
    }
    flash(messages.get(problem, messages["revoked"]), "error")


def host_user() -> User | None:
    """The bridge user the host application vouches for (``medshake_current_user``)."""
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.host_identity import HostIdentity, user_for_host_identity

    answer = bridge_state().hooks.call_first(
        "medshake_current_user",
        app=current_app._get_current_object(), request=request  # type: ignore[attr-defined]
    )
    if answer is None:
        return None
    if isinstance(answer, HostIdentity):
        return user_for_host_identity(answer)
    if isinstance(answer, User):
        return answer if answer.active else None
    return _active_user(answer)


def _active_user(user_id: Any) -> User | None:
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


# -- the guard -----------------------------------------------------------------------------

def access_level(endpoint: str | None) -> str | None:
    """The access level of a bridge endpoint, or ``None`` for an endpoint of the host app."""
    if not endpoint:
        return None
    from medshake_bridge.web.state import web_state

    blueprints = web_state().blueprints
    names = endpoint.split(".")[:-1]
    owners = [".".join(names[: i + 1]) for i in range(len(names))]
    bridge = [name for name in owners if name in blueprints]
    if not bridge:
        return None
    view = current_app.view_functions.get(endpoint)
    marked = getattr(view, ACCESS_ATTR, None)
    return marked or blueprints[bridge[-1]]


def guard_request() -> Response | None:
    """``before_request`` for the whole app; acts on the bridge's pages only.

    Order: language domain, body limit and CSRF on unsafe methods, then login, then role.
    """
    level = access_level(request.endpoint if request.url_rule is not None else None)
    if level is None:
        return None
    from medshake_bridge.i18n import BRIDGE_DOMAIN
    from medshake_bridge.web.numbers import check_route_ids
    from medshake_bridge.web.security import check_csrf

    BRIDGE_DOMAIN.as_default()
    check_route_ids()
    if level == API:
        from medshake_bridge.apiv1.auth import authenticate_api_request

        return authenticate_api_request()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from medshake_bridge.web.limits import apply_body_limit

        # before anything reads the body (the CSRF check parses the form)
        apply_body_limit(logged_in=level == PUBLIC or current_bridge_user() is not None)
        check_csrf()
    if level == PUBLIC:
        return None
    user = current_bridge_user()
    if user is None:
        return redirect(login_url(current_target()))
    if user.must_change_password and request.endpoint != PASSWORD_CHANGE_ENDPOINT:
        return redirect(_password_change_url())
    if level == ADMIN:
        require_admin(user)
    return None


def _password_change_url() -> str:
    from flask import url_for

    return url_for(PASSWORD_CHANGE_ENDPOINT)


