"""The JSON API, the token pages and the webhook pages, offered through the plugin hooks."""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import MenuItem


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.apiv1 import describe, views  # noqa: F401 - registers the routes
    from medshake_bridge.apiv1.routes import api_blueprint
    from medshake_bridge.views.api_tokens import token_pages

    return [api_blueprint, token_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [MenuItem("Jetons d'API", "API tokens", "bridge_tokens.index", order=90)]
