"""The scheduler's state, as the system information page and ``doctor`` show it.

The scheduler service (built separately) registers itself as
``app.extensions["medshake_bridge"].extras["scheduler"]``. This module only *reads* it, by
duck typing, so it works before the service exists ("not available") and whatever shape the
service takes, preferring in order:

1. ``status_check()`` returning a :class:`CheckResult` (the service decides what is wrong);
2. ``status()`` returning a mapping (``mode``, ``running``, ``leader``, ``error``, ``jobs``,
   ``next_run``, ``last_run``...);
3. attributes of the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from medshake_bridge.interfaces import CheckResult

CATEGORY = "scheduler"
NAME = "Scheduler"
FIELDS = ("mode", "running", "leader", "error", "jobs", "next_run", "last_run")


def _scheduler(app: Flask) -> Any:
    state = app.extensions.get("medshake_bridge")
    extras = getattr(state, "extras", None) or {}
    return extras.get("scheduler")


def _facts(scheduler: Any) -> dict[str, Any]:
    status = getattr(scheduler, "status", None)
    if callable(status):
        answer = status()
        if isinstance(answer, Mapping):
            return dict(answer)
    return {name: getattr(scheduler, name) for name in FIELDS if hasattr(scheduler, name)}


def scheduler_status(app: Flask) -> CheckResult | None:
    """The scheduler's line, or ``None`` when no scheduler is attached to this app."""
    scheduler = _scheduler(app)
    if scheduler is None:
        return None
    check = getattr(scheduler, "status_check", None)
    if callable(check):
        answer = check()
        if isinstance(answer, CheckResult):
            return answer
    facts = _facts(scheduler)
    mode = str(facts.get("mode") or "")
    error = str(facts.get("error") or "")
    parts = [f"mode {mode}" if mode else ""]
    if "running" in facts:
        parts.append("running" if facts["running"] else "not running")
    if "leader" in facts:
        parts.append("leader" if facts["leader"] else "waiting (another process leads)")
    jobs = facts.get("jobs")
    if jobs is not None:
        parts.append(f"{len(jobs) if hasattr(jobs, '__len__') else jobs} job(s)")
    for key, label in (("next_run", "next run"), ("last_run", "last run")):
        if facts.get(key):
            parts.append(f"{label} {facts[key]}")
    detail = ", ".join(part for part in parts if part)
    if error:
        return CheckResult(NAME, False, f"{detail}; {error}" if detail else error,
                           "Read the error above, then restart the scheduler "
                           "('medshake-bridge scheduler' or the web process).", CATEGORY)
    if mode == "off":
        return CheckResult(NAME, None, detail or "off",
                           "Mail is collected only by hand ('medshake-bridge fetch'); set "
                           "MEDSHAKE_BRIDGE_SCHEDULER to embedded or run 'medshake-bridge "
                           "scheduler'.", CATEGORY)
    if facts.get("running") is False:
        return CheckResult(NAME, False, detail or "not running",
                           "Start it ('medshake-bridge scheduler' or restart the web process).",
                           CATEGORY)
    return CheckResult(NAME, True, detail or "attached", "", CATEGORY)


def scheduler_check(app: Flask) -> CheckResult:
    """:func:`scheduler_status`, or a neutral "not available" line (never an error)."""
    found = scheduler_status(app)
    if found is not None:
        return found
    mode = str(app.config.get("MEDSHAKE_BRIDGE_SCHEDULER") or "off")
    return CheckResult(NAME, None, f"not available in this process (configured mode: {mode})",
                       "Scheduled collection is not running here; use 'medshake-bridge fetch' "
                       "or the scheduler once it is installed.", CATEGORY)
