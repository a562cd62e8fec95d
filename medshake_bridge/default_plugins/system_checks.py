"""The host's own system checks and the *Informations système* page, offered through the same
hooks as any plugin's (``medshake_system_checks``, ``medshake_blueprints``, menu entry).

Instance permissions and the secrets key, plugin load errors, data folders per user where
overridden, mail servers' reachability (concurrent TCP + verified TLS, no login) and the
scheduler. Back-end specifics (v1 programs and keys, the v2 companion) are checked by their
own plugins.
"""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import CheckResult, MenuItem


@hookimpl
def medshake_system_checks(app: Any) -> list[CheckResult]:
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.patients.registry import source_checks
    from medshake_bridge.scale.checks import scale_checks
    from medshake_bridge.sysinfo.folders import folder_checks, instance_checks, plugin_checks
    from medshake_bridge.sysinfo.mail_checks import mail_checks
    from medshake_bridge.sysinfo.scheduler import scheduler_check

    state = bridge_state(app)
    timeout = float(app.config.get("MEDSHAKE_BRIDGE_CHECK_TIMEOUT") or 4.0)
    return [
        *instance_checks(app, state),
        *plugin_checks(state),
        *source_checks(state),
        *folder_checks(state),
        *mail_checks(state, timeout=timeout),
        scheduler_check(app),
        *scale_checks(app),
    ]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.views.system_info import system_pages

    return [system_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [MenuItem("Informations système", "System information", "bridge_system.index",
                     admin_only=True, order=90)]
