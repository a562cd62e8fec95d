"""Hook implementations of the Apicrypt v1 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from medshake_bridge import hookimpl
from medshake_bridge.settings import SettingSpec


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    """v1-only settings; folders, user and runner settings are shared (declared by the host)."""
    return []
