"""Where the bridge lives in URL space, and which redirect targets are safe.

The bridge may be served at the root (standalone), under a URL prefix inside a host app
(``MEDSHAKE_BRIDGE_URL_PREFIX``), or mounted by a WSGI dispatcher at a path (``SCRIPT_NAME``),
or both. Every redirect it makes, every ``next`` it writes and every cookie path it sets is
built from :func:`bridge_root`, so ``/bridge/inbox/`` never turns into ``/inbox/`` (another
application's page) on the way through the login.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from flask import current_app, request, url_for

_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
"""Controls, spaces and backslashes: browsers drop or reinterpret them (``/\\t/evil`` becomes
``//evil``, ``/\\evil`` becomes ``//evil``), so a target holding one is refused outright."""


def bridge_root() -> str:
    """The path under which the bridge's pages are served, without a trailing slash ("" at
    the root): the mount point (``SCRIPT_NAME``) plus the bridge's URL prefix."""
    prefix = current_app.config.get("MEDSHAKE_BRIDGE_URL_PREFIX", "").rstrip("/")
    return request.script_root.rstrip("/") + prefix


def current_target() -> str:
    """This request's path and query, as the browser must ask for it again (mount included)."""
    query = request.query_string.decode("utf-8", "replace")
    path = request.script_root.rstrip("/") + request.path
    return path + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path of the bridge on this site, else ``None``.

    Refused: anything with a scheme or a host (``https://x``, ``//x``), controls, spaces or
    backslashes anywhere, and paths outside the bridge (another app mounted beside it).
    """
    if not target or _UNSAFE_CHARACTERS.search(target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    root = bridge_root()
    if root and parts.path != root and not parts.path.startswith(root + "/"):
        return None
    return target


def login_url(next_target: str | None = None) -> str:
    """Where a visitor without a bridge identity is sent.

    ``MEDSHAKE_BRIDGE_LOGIN_URL`` (a URL or an endpoint of the host app) when the host owns the
    login, else the bridge's own login page; ``next`` brings the visitor back afterwards.
    """
    configured = current_app.config.get("MEDSHAKE_BRIDGE_LOGIN_URL") or ""
    query = {"next": next_target} if next_target else {}
    if not configured:
        return url_for("bridge_auth.login", **query)
    if "/" not in configured and configured in current_app.view_functions:
        return url_for(configured, **query)
    if not query:
        return configured
    return configured + ("&" if "?" in configured else "?") + urlencode(query)


def cookie_path() -> str:
    """The path of the bridge's own cookies: its root, so a neighbouring app never gets them."""
    return bridge_root() or "/"


_ID_MARK = 918273645  # an id no real URL carries: where the id goes in the built path


def id_url_builder(endpoint: str, key: str) -> Callable[[int], str]:
    """``url_for(endpoint, **{key: id})`` for many ids at the cost of one ``url_for``.

    A list page links each of its 50 lines to the line's page; ``url_for`` per line (rules,
    URL defaults, the mount point) was a tenth of the inbox list's own CPU at 1,000,000
    documents (issue 18). The path is built once with a mark in place of the id, and each
    line's link is that path with its id put in (an integer: nothing to quote)."""
    built = url_for(endpoint, **{key: _ID_MARK})
    head, mark, tail = built.partition(str(_ID_MARK))
    if not mark or str(_ID_MARK) in tail:
        return lambda value: url_for(endpoint, **{key: value})

    def build(value: int) -> str:
        return f"{head}{int(value)}{tail}"

    return build
