"""The inbox, patient and quarantine pages, offered through the same hooks as any plugin's pages."""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import MenuItem


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.views.inbox import inbox_pages
    from medshake_bridge.views.patients import patient_pages
    from medshake_bridge.views.practitioner_setup import setup_pages
    from medshake_bridge.views.quarantine import quarantine_pages

    return [inbox_pages, quarantine_pages, patient_pages, setup_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    from medshake_bridge.inbox.service import unread_count

    unread = unread_count(user)
    suffix = f" ({unread})" if unread else ""
    return [
        MenuItem(f"Boîte de réception{suffix}", f"Inbox{suffix}", "bridge_inbox.index",
                 order=20),
        MenuItem("Patients", "Patients", "bridge_patients.index", order=25),
        MenuItem("Quarantaine", "Quarantine", "bridge_quarantine.index", admin_only=True,
                 order=79),
    ]
