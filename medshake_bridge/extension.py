"""The Flask extension: everything the bridge attaches to one app.

``MedshakeBridge(app)`` or ``MedshakeBridge().init_app(app)`` works on a standalone app
(``create_app``) and inside a host portal alike. All state lives in
``app.extensions["medshake_bridge"]`` (a :class:`BridgeState`), never in module globals, so
several apps can live in one process (tests do). ``init_app`` starts no thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from flask import Blueprint, Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge import redaction
from medshake_bridge.config import apply_defaults, bridge_home
from medshake_bridge.db import db as bridge_db
from medshake_bridge.errors import ConfigurationError, PluginLoadError
from medshake_bridge.hook_guard import HookGuard
from medshake_bridge.plugin_manager import PluginLoader, PluginRecord, new_plugin_manager
from medshake_bridge.secrets import KEY_FILE_NAME, SecretBox, parse_keys, read_key_file
from medshake_bridge.settings import SettingSpec, SettingsRegistry, SettingsStore

EXTENSION_KEY = "medshake_bridge"
log = logging.getLogger(__name__)


def templates_folder() -> Path:
    """Templates ship inside the wheel (``medshake_bridge/templates``); in a source checkout
    they are the top-level ``templates/`` folder."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


@dataclass
class BridgeState:
    """Everything the bridge keeps for one app."""

    app: Flask
    pm: pluggy.PluginManager
    plugins: dict[str, PluginRecord]
    registry: SettingsRegistry
    secrets: SecretBox
    settings: SettingsStore
    hooks: HookGuard = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)
    web: bool = True  # False: a collection-only app, no page (see MedshakeBridge.init_app)

    def __post_init__(self) -> None:
        self.hooks = HookGuard(self.app, self.pm)

    def call_list_hook(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a list-returning hook, each plugin on its own, and merge the answers (a plugin
        that raises is recorded and left out: see :mod:`medshake_bridge.hook_guard`)."""
        return self.hooks.call_list(hook_name, **kwargs)


class MedshakeBridge:
    """Flask extension object (one may serve several apps)."""

    def __init__(self, app: Flask | None = None, *, db: Any = None, web: bool = True) -> None:
        self.host_db = db
        if app is not None:
            self.init_app(app, web=web)

    def init_app(self, app: Flask, *, db: Any = None, web: bool = True) -> BridgeState:
        """Attach the bridge to ``app``.

        ``db`` is the host's Flask-SQLAlchemy instance whose database the bridge's tables should
        live in (found by itself when the host registered one before this call); the bridge
        still uses its own session, so it never commits or rolls back the host's work.

        ``web=False`` makes an app that serves no page (``medshake-bridge fetch``, ``send``):
        plugins, settings, database and hooks as always, but no blueprint (the bridge's, the
        plugins' and the ``/api/v1`` schemas), no login, CSRF or throttling, and no plugin
        command.
        Importing and registering those cost a collection process about a third of its
        start-up (issue 18). ``state.web`` tells which kind an app is.
        """
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(
                "medshake-bridge is already initialised on this app",
                fix="call MedshakeBridge.init_app(app) once per app",
            )
        apply_defaults(app)
        redaction.install()
        bridge_db.init_app(app, db if db is not None else self.host_db)
        import medshake_bridge.models  # noqa: F401 - registers the tables

        secrets = SecretBox(self._secret_keys(app))
        pm = new_plugin_manager()
        loader = PluginLoader(
            pm,
            strict=bool(app.config["MEDSHAKE_BRIDGE_STRICT_PLUGINS"]),
            disabled=list(app.config["MEDSHAKE_BRIDGE_DISABLED_PLUGINS"])
            + _disabled_in_database(app),
        )
        records = loader.load_all(
            entry_points_enabled=bool(app.config["MEDSHAKE_BRIDGE_LOAD_ENTRY_POINTS"]),
            extra=list(app.config["MEDSHAKE_BRIDGE_PLUGINS"]),
        )
        registry = _build_registry(pm, loader)
        state = BridgeState(
            app=app, pm=pm, plugins=records, registry=registry, secrets=secrets,
            settings=SettingsStore(app, registry, secrets),
        )
        app.extensions[EXTENSION_KEY] = state
        state.web = web
        from medshake_bridge.patients.registry import EXTRAS_KEY, build_registry

        state.extras[EXTRAS_KEY] = build_registry(state, loader)
        if not web:
            return state
        app.register_blueprint(
            Blueprint("medshake_bridge", __name__, template_folder=str(templates_folder()))
        )
        plugin_blueprints = state.call_list_hook("medshake_blueprints", app=app)
        for blueprint in plugin_blueprints:
            app.register_blueprint(blueprint, url_prefix=_prefixed(app, blueprint))
        from medshake_bridge.web import init_web

        init_web(app, state, plugin_blueprints)
        from medshake_bridge.lazy_cli import LazyBridgeGroup

        app.cli.add_command(LazyBridgeGroup(), "bridge")  # commands imported when used
        _add_plugin_commands(app, pm, loader)
        return state

    @staticmethod
    def _secret_keys(app: Flask) -> list[str]:
        keys = parse_keys(app.config["MEDSHAKE_BRIDGE_SECRET_KEYS"])
        if not keys:
            keys = read_key_file(bridge_home(app) / KEY_FILE_NAME)
        return keys


def _prefixed(app: Flask, blueprint: Blueprint) -> str | None:
    prefix = app.config["MEDSHAKE_BRIDGE_URL_PREFIX"].rstrip("/")
    own = blueprint.url_prefix or ""
    return (prefix + own) or None


def _add_plugin_commands(app: Flask, pm: pluggy.PluginManager, loader: PluginLoader) -> None:
    """Put the commands of ``medshake_cli_commands`` on ``app.cli``, one plugin at a time, so a
    failing plugin (or one reusing a taken name) is recorded and the others still load."""
    from flask.cli import AppGroup

    from medshake_bridge.lazy_cli import COMMAND_NAMES

    for impl in pm.hook.medshake_cli_commands.get_hookimpls():
        collector = AppGroup(impl.plugin_name)
        try:
            impl.function(**({"cli": collector} if "cli" in impl.argnames else {}))
            for name, command in collector.commands.items():
                if name in app.cli.commands or name in COMMAND_NAMES:
                    raise PluginLoadError(f"command {name!r} already exists",
                                          fix="give the plugin's command another name")
                app.cli.add_command(command, name)
        except Exception as exc:  # noqa: BLE001 - recorded like an import failure
            record = loader.records.get(impl.plugin_name) or PluginRecord(impl.plugin_name,
                                                                          "loaded")
            loader.record_failure(record, "commands", exc)


def _build_registry(pm: pluggy.PluginManager, loader: PluginLoader) -> SettingsRegistry:
    """Ask each plugin for its settings separately, so a bad declaration names its plugin."""
    registry = SettingsRegistry()
    for impl in pm.hook.medshake_settings.get_hookimpls():
        try:
            specs = impl.function() or []
            for spec in specs:
                if not isinstance(spec, SettingSpec):
                    raise TypeError(f"medshake_settings returned {spec!r}, not a SettingSpec")
                if not spec.plugin:
                    object.__setattr__(spec, "plugin", impl.plugin_name)
                registry.add(spec)
        except Exception as exc:  # noqa: BLE001 - recorded like an import failure
            record = loader.records.get(impl.plugin_name) or PluginRecord(impl.plugin_name,
                                                                          "loaded")
            loader.record_failure(record, "settings", exc)
    return registry


def _disabled_in_database(app: Flask) -> list[str]:
    """Plugins an admin disabled from the Extensions page (stored before this start)."""
    from medshake_bridge.models import SettingValue

    try:
        with app.app_context():
            row = bridge_db.session.scalars(
                bridge_db.select(SettingValue).where(
                    SettingValue.name == "bridgeDisabledPlugins",
                    SettingValue.level == "default",
                )
            ).first()
            bridge_db.session.remove()
    except SQLAlchemyError:
        return []  # no database yet: init-db has not run
    if row is None:
        return []
    import json

    value = json.loads(row.value)
    return [str(name) for name in value] if isinstance(value, list) else []


def bridge_state(app: Flask | None = None) -> BridgeState:
    """The bridge state of ``app`` (default: the current app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise ConfigurationError(
            "medshake-bridge is not initialised on this app",
            fix="call MedshakeBridge(app) or use medshake_bridge.create_app()",
        ) from None
