"""The host's own pages, offered through the same hooks a third-party plugin uses.

Later features (inbox, keys, system information, planned tasks) add their pages the same way:
a blueprint from ``medshake_blueprints`` and an entry from ``medshake_menu_items``.
"""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import MenuItem


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.views.account import account_pages
    from medshake_bridge.views.audit_log import audit_pages
    from medshake_bridge.views.home import home_pages
    from medshake_bridge.views.overrides import override_pages
    from medshake_bridge.views.plugins import plugin_pages
    from medshake_bridge.views.settings_global import settings_pages
    from medshake_bridge.views.users import user_pages

    return [home_pages, account_pages, user_pages, settings_pages, override_pages, plugin_pages,
            audit_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [
        MenuItem("Accueil", "Home", "bridge_home.index", order=10),
        MenuItem("Utilisateurs", "Users", "bridge_users.index", admin_only=True, order=80),
        MenuItem("Paramètres globaux", "Global settings", "bridge_settings.index",
                 admin_only=True, order=82),
        MenuItem("Paramètres par utilisateur", "Per-user settings", "bridge_overrides.index",
                 admin_only=True, order=84),
        MenuItem("Extensions", "Plugins", "bridge_plugins.index", admin_only=True, order=86),
        MenuItem("Journal d'audit", "Audit log", "bridge_audit.index", admin_only=True,
                 order=88),
    ]
