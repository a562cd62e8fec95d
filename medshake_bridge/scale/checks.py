"""The queue's lines in system information and ``doctor`` (``celery`` mode only; nothing in
``inline`` mode, whose report stays as it was)."""

from __future__ import annotations

from flask import Flask

from medshake_bridge.interfaces import CheckResult
from medshake_bridge.scale.status import cluster_status

CATEGORY = "scheduler"


def scale_checks(app: Flask) -> list[CheckResult]:
    status = cluster_status(app)
    if status.mode == "inline":
        return []
    if status.config_error:
        return [CheckResult("Job queue", False, status.config_error,
                            "set MEDSHAKE_BRIDGE_EXECUTOR and MEDSHAKE_BRIDGE_CELERY_BROKER_URL "
                            "(docs/scale-out.md)", CATEGORY)]
    checks = []
    if status.broker_error:
        checks.append(CheckResult(
            "Job queue", False, f"broker {status.broker} unreachable: {status.broker_error}",
            "start Redis again; collections are kept in the database and sent again when it "
            "is back", CATEGORY))
    else:
        depth = ", ".join(f"{name} {count}" for name, count in status.queues.items())
        checks.append(CheckResult("Job queue", True,
                                  f"broker {status.broker}; waiting jobs: {depth}",
                                  category=CATEGORY))
    if status.unsent:
        checks.append(CheckResult(
            "Jobs not sent", None, f"{status.unsent} job(s) kept since the broker was "
            "unreachable", "they are sent again at the next collection; check Redis",
            CATEGORY))
    alive = [worker for worker in status.workers if worker.alive]
    hosts = ", ".join(
        f"{host.host}: {host.workers} worker(s), {host.running} running, {host.ok} ok, "
        f"{host.failed} failed, {host.retried} retried, {host.interrupted} interrupted"
        for host in status.hosts)
    if alive:
        checks.append(CheckResult("Queue workers", True,
                                  f"{len(alive)} alive; per host (24 h): {hosts}",
                                  category=CATEGORY))
    else:
        checks.append(CheckResult(
            "Queue workers", False, "no worker alive" + (f"; per host (24 h): {hosts}"
                                                         if hosts else ""),
            "start `medshake-bridge worker` on at least one host", CATEGORY))
    return checks
