"""Run every plugin's ``medshake_system_checks`` and group the answers by category.

One function feeds both the *Informations système* page and ``medshake-bridge doctor``, so
they always agree. Why it does not simply call the hook:

* each implementation runs in its own thread (with its own app context and database
  session), so a plugin waiting on a network timeout does not delay the others;
* a plugin whose checks raise, or do not finish within the deadline, becomes a *broken* line
  naming the plugin instead of a page error: the page that diagnoses problems must survive
  them;
* answers that are not :class:`CheckResult` are reported the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from flask import Flask

from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.sysinfo.advice import Advice, collect_advice

log = logging.getLogger(__name__)

DEADLINE = 20.0  # seconds for all the plugins' checks together
#: Categories shown first, in this order; any other follows alphabetically.
CATEGORY_ORDER = ("security", "plugins", "folders", "mail", "scheduler", "apicrypt_v1",
                  "apicrypt_v2")


@dataclass(frozen=True)
class CheckGroup:
    """The checks of one category."""

    category: str
    checks: tuple[CheckResult, ...]

    @property
    def broken(self) -> int:
        return sum(1 for check in self.checks if check.ok is False)

    @property
    def warnings(self) -> int:
        return sum(1 for check in self.checks if check.ok is None)

    @property
    def state(self) -> str:
        """``broken``, ``warning`` or ``ok``: the worst of its checks."""
        return "broken" if self.broken else "warning" if self.warnings else "ok"


@dataclass(frozen=True)
class SystemReport:
    groups: tuple[CheckGroup, ...]
    advice: tuple[Advice, ...] = ()
    elapsed: float = 0.0

    @property
    def checks(self) -> list[CheckResult]:
        return [check for group in self.groups for check in group.checks]

    @property
    def broken(self) -> int:
        return sum(group.broken for group in self.groups)

    @property
    def warnings(self) -> int:
        return sum(group.warnings for group in self.groups)

    @property
    def passed(self) -> int:
        return sum(1 for check in self.checks if check.ok is True)

    @property
    def exit_code(self) -> int:
        """``doctor``'s exit status: 1 when something is broken (warnings do not fail)."""
        return 1 if self.broken else 0


def _category_key(category: str) -> tuple[int, str]:
    try:
        return (CATEGORY_ORDER.index(category), category)
    except ValueError:
        return (len(CATEGORY_ORDER), category)


def group_checks(checks: list[CheckResult]) -> tuple[CheckGroup, ...]:
    """Group by category (categories in :data:`CATEGORY_ORDER`, checks in their order)."""
    grouped: dict[str, list[CheckResult]] = {}
    for check in checks:
        grouped.setdefault(check.category or "general", []).append(check)
    return tuple(CheckGroup(category, tuple(grouped[category]))
                 for category in sorted(grouped, key=_category_key))


def _plugin_failure(plugin: str, detail: str) -> CheckResult:
    return CheckResult(f"Checks of plugin {plugin}", False, detail,
                       "Report it to the plugin's authors; meanwhile its other checks are "
                       "unknown (disable it on the Extensions page if it keeps failing).",
                       "plugins")


def _run_one(app: Flask, plugin: str, function: Callable[..., Any], argnames: tuple[str, ...]
             ) -> list[CheckResult]:
    with app.app_context():
        try:
            answer = function(**({"app": app} if "app" in argnames else {}))
        except Exception as exc:  # noqa: BLE001 - a broken plugin is a line, not a crash
            bridge_state(app).hooks.record_failure(plugin, "medshake_system_checks", exc)
            return [_plugin_failure(plugin, f"its checks raised {type(exc).__name__}: {exc}")]
        finally:
            db.session.remove()
    results = []
    for item in answer or []:
        if isinstance(item, CheckResult):
            results.append(item)
        else:
            results.append(_plugin_failure(plugin, f"it returned {type(item).__name__}, not a "
                                                   "CheckResult"))
    return results


def run_system_checks(app: Flask, *, deadline: float = DEADLINE,
                      account: str | None = None) -> SystemReport:
    """Every plugin's checks (concurrently), grouped, plus the snippets that apply.

    ``account`` is the account the sudoers lines name (default: this process's).
    """
    started = time.monotonic()
    state = bridge_state(app)
    impls = state.hooks.implementations("medshake_system_checks")
    impls.reverse()  # registration order: the host's checks first
    pool = ThreadPoolExecutor(max_workers=max(len(impls), 1), thread_name_prefix="checks")
    try:
        futures = [(impl.plugin_name,
                    pool.submit(_run_one, app, impl.plugin_name, impl.function,
                                tuple(impl.argnames)))
                   for impl in impls]
        wait([future for _name, future in futures], timeout=deadline)
        checks: list[CheckResult] = []
        for plugin, future in futures:
            if future.done():
                checks.extend(future.result())
            else:
                checks.append(_plugin_failure(
                    plugin, f"its checks did not finish within {deadline:g} s"))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    with app.app_context():
        try:
            advice = tuple(collect_advice(state, account))
        finally:
            db.session.remove()
    return SystemReport(group_checks(checks), advice, time.monotonic() - started)
