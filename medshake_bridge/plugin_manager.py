"""Building the pluggy PluginManager of one app, with guarded loading.

pluggy's own ``load_setuptools_entrypoints`` stops at the first plugin that fails to import. Here
each entry point of the ``medshake_bridge`` group is loaded on its own: a failure is recorded
(shown by ``medshake-bridge plugins`` and the Extensions page) and the app still starts, unless
strict mode makes it fatal. Built-in plugins go through the same entry points as third-party ones.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from medshake_bridge import hookspecs
from medshake_bridge.default_plugins import DEFAULT_PLUGINS
from medshake_bridge.errors import PluginLoadError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "medshake_bridge"
HOST_DISTRIBUTION = "medshake-bridge"


@dataclass
class PluginRecord:
    """What the plugins page shows for one plugin."""

    name: str
    status: str  # "loaded", "failed", "disabled"
    version: str = ""
    distribution: str = ""
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str = ""
    detail: str = ""


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


class PluginLoader:
    """Loads default, entry-point and explicitly given plugins into a manager."""

    def __init__(self, pm: pluggy.PluginManager, *, strict: bool, disabled: Iterable[str]) -> None:
        self.pm = pm
        self.strict = strict
        self.disabled = {name.strip() for name in disabled if name and name.strip()}
        self.records: dict[str, PluginRecord] = {}

    def load_all(self, *, entry_points_enabled: bool = True,
                 extra: Sequence[ModuleType | object | str] = ()) -> dict[str, PluginRecord]:
        for module_name in DEFAULT_PLUGINS:
            self._register(importlib.import_module(module_name), module_name,
                           PluginRecord(module_name, "loaded", builtin=True,
                                        distribution=HOST_DISTRIBUTION, version=_host_version()))
        if entry_points_enabled:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                self._load_entry_point(ep)
        for plugin in extra:
            self._load_extra(plugin)
        self._check_pending()
        return self.records

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist
        # One read of the distribution's METADATA for both (``dist.version`` reads and parses
        # the file again: about 0.2 ms of CPU per plugin at every start, issue 18).
        metadata = dist.metadata if dist else None
        record = PluginRecord(
            ep.name, "loaded",
            version=metadata["Version"] if metadata is not None else "",
            distribution=metadata["Name"] if metadata is not None else "",
        )
        record.builtin = record.distribution == HOST_DISTRIBUTION
        if ep.name in self.disabled:
            record.status = "disabled"
            self.records[ep.name] = record
            return
        if ep.name in self.records:
            return  # the same distribution seen twice on sys.path
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is recorded, not raised
            self.record_failure(record, "import", exc)
            return
        self._register(plugin, ep.name, record)

    def _load_extra(self, plugin: ModuleType | object | str) -> None:
        if isinstance(plugin, str):
            record = PluginRecord(plugin, "loaded")
            if plugin in self.disabled:
                record.status = "disabled"
                self.records[plugin] = record
                return
            try:
                plugin_obj: Any = importlib.import_module(plugin)
            except Exception as exc:  # noqa: BLE001
                self.record_failure(record, "import", exc)
                return
            self._register(plugin_obj, plugin, record)
            return
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        self._register(plugin, name, PluginRecord(name, "loaded"))

    def _register(self, plugin: Any, name: str, record: PluginRecord) -> None:
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. pluggy.PluginValidationError
            self.record_failure(record, "registration", exc)
            return
        record.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self.records[name] = record

    def _check_pending(self) -> None:
        """Reject implementations of hooks that do not exist (usually a misspelt name)."""
        known = {name for name, caller in vars(self.pm.hook).items() if caller.has_spec()}
        for name, plugin in list(self.pm.list_name_plugin()):
            unknown = [
                attr for attr in dir(plugin)
                if attr.startswith("medshake_") and attr not in known
                and self.pm.parse_hookimpl_opts(plugin, attr) is not None
            ]
            if unknown:
                self.pm.unregister(plugin)
                record = self.records.get(name) or PluginRecord(name, "loaded")
                exc = PluginLoadError(
                    f"plugin {name} implements unknown hook(s): {', '.join(unknown)}",
                    fix="check the hook names against docs/plugins.md",
                )
                self.record_failure(record, "validation", exc)
        self.pm.check_pending()

    def record_failure(self, record: PluginRecord, stage: str, exc: BaseException) -> None:
        record.status = "failed"
        record.error = f"{stage} failed: {type(exc).__name__}: {exc}"
        record.detail = "".join(traceback.format_exception(exc))
        self.records[record.name] = record
        log.error("plugin %s: %s", record.name, record.error)
        if self.strict:
            raise PluginLoadError(
                f"plugin {record.name}: {record.error}",
                fix="fix or uninstall the plugin, disable it (bridgeDisabledPlugins / "
                "MEDSHAKE_BRIDGE_DISABLED_PLUGINS), or unset MEDSHAKE_BRIDGE_STRICT_PLUGINS",
            ) from exc


def _host_version() -> str:
    from medshake_bridge import __version__

    return __version__
