"""Plugins the host always registers (like datasette's default plugins).

They use the same hooks as every other plugin; only their loading differs (they are part of the
host package, so they cannot be missing or disabled).
"""

DEFAULT_PLUGINS = (
    "medshake_bridge.default_plugins.shared_settings",
    "medshake_bridge.default_plugins.inbox_pages",
    "medshake_bridge.default_plugins.standalone_patients",
    "medshake_bridge.default_plugins.web_pages",
    "medshake_bridge.default_plugins.sending",
    "medshake_bridge.default_plugins.scheduled_jobs",
    "medshake_bridge.default_plugins.system_checks",
    "medshake_bridge.default_plugins.api_pages",
    "medshake_bridge.default_plugins.security_settings",
)
