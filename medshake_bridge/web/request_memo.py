"""Settings read once per page, not once per call: each bridge request runs inside
:meth:`SettingsStore.remembering`.

A page asks the same questions many times (who may read whose mail: the list, the tab counts,
the menu, each row's actions), and each answer is a settings query. The collection already
reads each setting once per run through that block; a request is a run of work as well, so the
web layer uses the same memo instead of a cache of its own. A value written through the store,
or a rollback of the bridge's session, clears it (:mod:`medshake_bridge.settings.store`), so a
page that saves settings and shows them again shows what is stored. The host portal's own pages
are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from flask import Flask, g

from medshake_bridge.settings.store import SettingsStore

_BLOCK = "medshake_bridge_request_memo"


def init_request_memo(app: Flask, is_bridge_request: Callable[[], bool]) -> None:
    """Enter the memo before each bridge request, leave it when the request ends."""

    def enter() -> None:
        if is_bridge_request() and _BLOCK not in g:
            block: AbstractContextManager[None] = SettingsStore.remembering()
            block.__enter__()
            setattr(g, _BLOCK, block)

    def leave(_exc: BaseException | None = None) -> None:
        block = g.pop(_BLOCK, None)
        if block is not None:
            block.__exit__(None, None, None)

    app.before_request(enter)
    app.teardown_request(leave)
