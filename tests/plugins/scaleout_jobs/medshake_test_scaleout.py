"""Test plugin for the scale-out tests: the real collection job every few seconds, and an
optional delay after each stored message (so a test can kill a worker mid-mailbox).

Load it with ``MEDSHAKE_BRIDGE_PLUGINS=medshake_test_scaleout`` and this folder on
``PYTHONPATH``. ``MEDSHAKE_TEST_COLLECT_SECONDS`` sets the tick (crontab second field, default
``*/3``); ``MEDSHAKE_TEST_STORED_DELAY`` the delay in seconds (default none).
"""

from __future__ import annotations

import os
import time

from medshake_bridge import hookimpl
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.scheduler.jobs import collect_job


@hookimpl
def medshake_scheduled_jobs():
    every = os.environ.get("MEDSHAKE_TEST_COLLECT_SECONDS", "*/3")
    return [JobSpec(id="test-collect-often", func=collect_job, label_fr="Relève de test",
                    label_en="Test collection",
                    cron={"second": every, "minute": "*", "hour": "*", "day": "*",
                          "month": "*", "day_of_week": "*"})]


@hookimpl
def medshake_message_stored(message, documents):
    delay = float(os.environ.get("MEDSHAKE_TEST_STORED_DELAY") or 0)
    if delay:
        time.sleep(delay)
