"""Test plugin: jobs every second, for the scheduler tests (in-process and subprocesses).

Load it with ``MEDSHAKE_BRIDGE_PLUGINS=medshake_test_jobs`` and this folder on ``PYTHONPATH``.
``test-tick`` runs every second and counts; ``test-boom`` raises every second.
"""

from __future__ import annotations

import os

from medshake_bridge import hookimpl
from medshake_bridge.interfaces import JobSpec

EVERY_SECOND = {"second": "*", "minute": "*", "hour": "*", "day": "*", "month": "*",
                "day_of_week": "*"}


def tick(app) -> dict[str, int]:
    return {"ticks": 1, "pid": os.getpid()}


def boom(app) -> dict[str, int]:
    raise RuntimeError("boom on purpose")


@hookimpl
def medshake_scheduled_jobs():
    return [
        JobSpec(id="test-tick", func=tick, label_fr="Tic de test", label_en="Test tick",
                description_fr="Compte une exécution par seconde.",
                description_en="Counts one run per second.", cron=EVERY_SECOND),
        JobSpec(id="test-boom", func=boom, label_fr="Erreur de test", label_en="Test error",
                cron=EVERY_SECOND),
    ]
