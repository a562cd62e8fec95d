"""Planned tasks: declared by plugins, chosen by an admin, run by one leader.

Public names: :class:`SchedulerService`, :func:`start_embedded`, :class:`JobFailed` (raised by
a job that wants its counts kept with its failure) and :class:`CronSchedule`.

They are imported from their modules on first use (PEP 562): importing a submodule (the jobs a
collection process registers, :class:`JobFailed`) does not import APScheduler's executors and
the service, which only the processes that run planned tasks need (issue 18, start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medshake_bridge.scheduler.cron import CronFieldError, CronSchedule
    from medshake_bridge.scheduler.runs import JobBusy, JobFailed, execute_job
    from medshake_bridge.scheduler.service import SchedulerService, start_embedded

_SOURCES = {
    "CronFieldError": "cron", "CronSchedule": "cron",
    "JobBusy": "runs", "JobFailed": "runs", "execute_job": "runs",
    "SchedulerService": "service", "start_embedded": "service",
}

__all__ = [
    "CronFieldError",
    "CronSchedule",
    "JobBusy",
    "JobFailed",
    "SchedulerService",
    "execute_job",
    "start_embedded",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{source}"), name)
    globals()[name] = value
    return value
