"""The navigation menu: the host's pages and the plugins', from ``medshake_menu_items``."""

from __future__ import annotations

from dataclasses import dataclass

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
    return entries


def _is_active(endpoint: str) -> bool:
    """The entry of the current page, or of another page of the same blueprint."""
    current = request.endpoint or ""
    return current == endpoint or current.rsplit(".", 1)[0] == endpoint.rsplit(".", 1)[0]
