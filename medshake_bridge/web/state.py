"""What the web layer keeps for one app (inside ``BridgeState.extras["web"]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from medshake_bridge.web.throttle import LoginThrottle

WEB_KEY = "web"


@dataclass
class WebState:
    """``blueprints`` maps each bridge blueprint name to its default access level."""

    owns_login_manager: bool
    owns_babel: bool
    throttle: LoginThrottle
    blueprints: dict[str, str] = field(default_factory=dict)


def web_state(app: Flask | None = None) -> WebState:
    from medshake_bridge.extension import bridge_state

    return bridge_state(app).extras[WEB_KEY]
