"""Calling plugin hooks one implementation at a time, so a broken plugin never stops the others.

pluggy's own hook call stops at the first exception: one plugin raising in
``medshake_message_stored`` would skip every other reaction, one raising in
``medshake_mail_collectors`` would stop ``fetch`` for every mailbox. The host therefore never
calls ``pm.hook.<name>(...)`` directly: it goes through :class:`HookGuard`, which calls each
implementation on its own, in pluggy's order, and for each exception

* logs it with the plugin's name,
* records it (``bridge_plugin_failures``: the Extensions page, system information and
  ``doctor`` show it, whichever process it happened in),
* carries on with the next implementation.

A plugin that fails ``MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT`` times in a row (default 5) is
suspended: its hooks are skipped, in every process, until an admin re-enables it (audited).
Loading failures are :mod:`medshake_bridge.plugin_manager`'s business, not this module's.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pluggy
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

KEEP_FAILURES = 50
"""Failures kept per plugin (older ones are pruned when a new one is recorded)."""
SUSPENSIONS_TTL = 5.0
"""Seconds a process trusts its copy of the suspended plugins before reading them again."""


@dataclass(frozen=True)
class Answer:
    """What one implementation returned, with the plugin that returned it."""

    plugin: str
    value: Any


class HookGuard:
    """The only way the host calls hooks (see the module docstring)."""

    def __init__(self, app: Flask, pm: pluggy.PluginManager) -> None:
        self.app = app
        self.pm = pm
        self._lock = threading.Lock()
        self._in_a_row: dict[str, int] = {}
        self._suspended: frozenset[str] = frozenset()
        self._suspended_read_at = float("-inf")

    # -- calling -------------------------------------------------------------------------------

    def implementations(self, hook_name: str) -> list[Any]:
        """The implementations of ``hook_name`` pluggy would call, in its order, minus the
        suspended plugins' (wrappers are not supported by the host's hooks and are skipped)."""
        caller = getattr(self.pm.hook, hook_name)
        suspended = self.suspended()
        return [impl for impl in reversed(caller.get_hookimpls())
                if not (impl.hookwrapper or impl.wrapper) and impl.plugin_name not in suspended]

    def call(self, hook_name: str, *, first: bool = False, failed: list[str] | None = None,
             **kwargs: Any) -> list[Answer]:
        """Call each implementation on its own; answers other than ``None``, in call order.

        With ``first``, stop at the first answer that is not ``None`` (pluggy's firstresult).
        The names of the plugins that raised are appended to ``failed`` when it is given (a
        veto hook fails closed with it).
        """
        answers: list[Answer] = []
        for impl in self.implementations(hook_name):
            arguments = {name: kwargs[name] for name in impl.argnames}
            try:
                value = impl.function(**arguments)
            except Exception as exc:  # noqa: BLE001 - contained: logged, recorded, next one
                self.record_failure(impl.plugin_name, hook_name, exc)
                if failed is not None:
                    failed.append(impl.plugin_name)
                continue
            self.record_success(impl.plugin_name)
            if value is not None:
                answers.append(Answer(impl.plugin_name, value))
                if first:
                    break
        return answers

    def call_list(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """A list-returning hook: every plugin's items, merged."""
        return [answer.value for answer in self.call_owned(hook_name, **kwargs)]

    def call_owned(self, hook_name: str, **kwargs: Any) -> list[Answer]:
        """A list-returning hook: each item with the plugin that offered it.

        A plugin that answers something other than a list or tuple is recorded as failed."""
        items: list[Answer] = []
        for answer in self.call(hook_name, **kwargs):
            if not isinstance(answer.value, list | tuple):
                self.record_failure(answer.plugin, hook_name, TypeError(
                    f"{hook_name} must return a list, not {type(answer.value).__name__}"))
                continue
            items.extend(Answer(answer.plugin, item) for item in answer.value)
        return items

    def call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """A firstresult hook: the first answer other than ``None`` (a failing plugin is
        skipped and the next one asked)."""
        answers = self.call(hook_name, first=True, **kwargs)
        return answers[0].value if answers else None

    def run(self, plugin: str, hook_name: str, function: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
        """Run an object a plugin handed over (a factory, a job, a collector) like a hook:
        an exception is recorded against ``plugin`` and raised again for the caller to contain
        at its own scale (one mailbox, one job run). A :class:`BridgeError` is the plugin
        saying what is wrong (a setting, an outage): it is raised without being counted."""
        from medshake_bridge.errors import BridgeError

        try:
            value = function(*args, **kwargs)
        except BridgeError:
            raise  # a refusal with its fix (a setting, an outage), not the plugin's bug
        except Exception as exc:
            self.record_failure(plugin, hook_name, exc)
            raise
        self.record_success(plugin)
        return value

    # -- recording -----------------------------------------------------------------------------

    @property
    def limit(self) -> int:
        try:
            return int(self.app.config.get("MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT", 5) or 0)
        except (TypeError, ValueError):
            return 5

    def record_success(self, plugin: str) -> None:
        if self._in_a_row.get(plugin):
            with self._lock:
                self._in_a_row[plugin] = 0

    def record_failure(self, plugin: str, hook_name: str, exc: BaseException) -> None:
        """Log, store and count one failure; suspend the plugin past the limit."""
        from medshake_bridge import redaction
        from medshake_bridge.models import PluginFailure

        error = redaction.redact(f"{type(exc).__name__}: {exc}")
        log.error("plugin %s failed in %s: %s", plugin, hook_name, error,
                  exc_info=(type(exc), exc, exc.__traceback__))
        with self._lock:
            in_a_row = self._in_a_row.get(plugin, 0) + 1
            self._in_a_row[plugin] = in_a_row
        detail = redaction.redact("".join(traceback.format_exception(exc)))
        suspend = bool(self.limit) and in_a_row >= self.limit
        try:
            with self._session() as session:
                session.add(PluginFailure(plugin=plugin[:100], hook=hook_name[:100],
                                          error=error, detail=detail,
                                          created_at=datetime.now(UTC)))
                session.flush()
                self._prune(session, plugin)
                session.commit()
        except SQLAlchemyError:
            log.warning("the failure of plugin %s could not be recorded in the database", plugin)
        if suspend:
            self.suspend(plugin, f"{in_a_row} failures in a row, the last in {hook_name}: "
                                 f"{error}")

    @staticmethod
    def _prune(session: Session, plugin: str) -> None:
        from medshake_bridge.models import PluginFailure

        old = session.scalars(select(PluginFailure.id).where(PluginFailure.plugin == plugin)
                              .order_by(PluginFailure.id.desc()).offset(KEEP_FAILURES)).all()
        if old:
            session.execute(delete(PluginFailure).where(PluginFailure.id.in_(old)))

    def _session(self) -> Session:
        """A session of its own: recording never commits or rolls back the caller's work."""
        from medshake_bridge.db import app_database

        return Session(bind=app_database(self.app).get_engine())

    # -- suspending ----------------------------------------------------------------------------

    def suspended(self) -> frozenset[str]:
        """Plugins whose hooks are skipped (read again every few seconds: another process may
        have suspended or re-enabled one)."""
        if time.monotonic() - self._suspended_read_at < SUSPENSIONS_TTL:
            return self._suspended
        from medshake_bridge.models import PluginSuspension

        try:
            with self._session() as session:
                names = frozenset(session.scalars(select(PluginSuspension.plugin)))
        except SQLAlchemyError:
            names = frozenset()  # no database yet (before init-db)
        self._suspended, self._suspended_read_at = names, time.monotonic()
        return names

    def suspend(self, plugin: str, reason: str) -> None:
        from medshake_bridge.models import PluginSuspension

        log.error("plugin %s suspended: %s", plugin, reason)
        try:
            with self._session() as session:
                if session.get(PluginSuspension, plugin) is None:
                    session.add(PluginSuspension(plugin=plugin, reason=reason[:2000],
                                                 suspended_at=datetime.now(UTC)))
                    session.commit()
        except SQLAlchemyError:
            log.warning("the suspension of plugin %s could not be stored", plugin)
        self._suspended = self._suspended | {plugin}

    def reenable(self, plugin: str) -> bool:
        """Lift a suspension (the caller audits it); False when the plugin was not suspended."""
        from medshake_bridge.models import PluginSuspension

        with self._session() as session:
            row = session.get(PluginSuspension, plugin)
            if row is not None:
                session.delete(row)
                session.commit()
        with self._lock:
            self._in_a_row[plugin] = 0
        self._suspended = self._suspended - {plugin}
        self._suspended_read_at = float("-inf")
        return row is not None

    def suspensions(self) -> dict[str, Any]:
        """Suspended plugins with the reason and the time (the pages' source)."""
        from medshake_bridge.models import PluginSuspension

        try:
            with self._session() as session:
                return {row.plugin: row for row in session.scalars(select(PluginSuspension))}
        except SQLAlchemyError:
            return {}

    def recent_failures(self, plugin: str | None = None, limit: int = 20) -> list[Any]:
        """The latest recorded failures (of one plugin, or of all), newest first."""
        from medshake_bridge.models import PluginFailure

        query = select(PluginFailure).order_by(PluginFailure.id.desc()).limit(limit)
        if plugin is not None:
            query = query.where(PluginFailure.plugin == plugin)
        try:
            with self._session() as session:
                rows = list(session.scalars(query))
                session.expunge_all()
                return rows
        except SQLAlchemyError:
            return []
