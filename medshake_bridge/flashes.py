"""The bridge's own flash messages, kept apart from its host's.

Flask's ``flash()`` stores every message under one session key (``_flashes``) and
``get_flashed_messages()`` empties it: inside a clinic portal the bridge would show (and
swallow) the portal's messages, and the portal the bridge's. The bridge therefore keeps its
messages under its own namespaced key, like its other session keys, and its pages read only
that key; the host's ``_flashes`` is neither shown nor consumed by a bridge page.
"""

from __future__ import annotations

from flask import g, session

FLASH_KEY = "medshake_bridge_flashes"
_SHOWN = "_medshake_bridge_flashes"  # this request's messages, once taken from the session


def flash(message: str, category: str = "message") -> None:
    """Show ``message`` on the next bridge page this browser opens (``category``: ``success``,
    ``info``, ``warning`` or ``error`` pick its colour)."""
    messages = list(session.get(FLASH_KEY) or [])
    messages.append((str(category), str(message)))
    session[FLASH_KEY] = messages


def flashed_messages(with_categories: bool = False) -> list:
    """The bridge's pending messages, removed from the session (the same list for the rest
    of this request, as Flask's ``get_flashed_messages``)."""
    shown = g.get(_SHOWN)
    if shown is None:
        stored = session.pop(FLASH_KEY) if FLASH_KEY in session else []
        shown = [(str(category), str(message)) for category, message in stored]
        setattr(g, _SHOWN, shown)
    return list(shown) if with_categories else [message for _, message in shown]
