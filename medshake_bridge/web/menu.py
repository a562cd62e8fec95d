"""The navigation menu: the host's pages and the plugins', from ``medshake_menu_items``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask import current_app, request, url_for

from medshake_bridge.access import can_admin
from medshake_bridge.i18n import current_language
from medshake_bridge.interfaces import MenuItem
from medshake_bridge.models import User
from medshake_bridge.public import BridgeUser


@dataclass(frozen=True)
class MenuEntry:
    label: str
    url: str
    endpoint: str
    active: bool


def build_menu(user: User | None) -> list[MenuEntry]:
    """Entries this user may open, in ``order``; an entry whose page is missing is skipped."""
    if user is None:
        return []
    from medshake_bridge.extension import bridge_state

    items: list[MenuItem] = [
        item for item in bridge_state().call_list_hook(
            "medshake_menu_items", user=BridgeUser.from_row(user) if user is not None else None)
        if isinstance(item, MenuItem)
    ]
    lang = current_language()
    entries = []
    for item in sorted(items, key=lambda i: (i.order, i.label_fr)):
        if item.admin_only and not can_admin(user):
            continue
        if item.endpoint not in current_app.view_functions:
            continue
        label = item.label_en if lang == "en" else item.label_fr
        entries.append(MenuEntry(label, url_for(item.endpoint), item.endpoint,
                                 _is_active(item.endpoint)))
    return _one_current(entries)


def _one_current(entries: list[MenuEntry]) -> list[MenuEntry]:
    """Exactly one entry is marked current: the page's own entry when it has one, else the
    first entry of the page's blueprint (several entries of one blueprint, such as "new
    message" and "sent messages", must not all light up)."""
    current = request.endpoint or ""
    exact = any(entry.endpoint == current for entry in entries)
    marked = False
    result = []
    for entry in entries:
        active = entry.active and not marked and (entry.endpoint == current or not exact)
        marked = marked or active
        result.append(replace(entry, active=active))
    return result


def _is_active(endpoint: str) -> bool:
    """The entry of the current page, or of another page of the same blueprint."""
    current = request.endpoint or ""
    return current == endpoint or current.rsplit(".", 1)[0] == endpoint.rsplit(".", 1)[0]
