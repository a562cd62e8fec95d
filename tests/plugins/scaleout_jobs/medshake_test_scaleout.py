"""Test plugin for the scale-out tests: the real collection job every few seconds, and an
optional delay after each stored message (so a test can kill a worker mid-mailbox).

Load it with ``MEDSHAKE_BRIDGE_PLUGINS=medshake_test_scaleout`` and this folder on
``PYTHONPATH``. ``MEDSHAKE_TEST_COLLECT_SECONDS`` sets the tick (crontab second field, default
``*/3``); ``MEDSHAKE_TEST_STORED_DELAY`` the delay in seconds (default none);
``MEDSHAKE_TEST_STORED_HOLD`` a file: while it exists, each stored message waits (a test holds
a mailbox's collection in the middle, its lock held, for as long as it needs).

``test-blocking`` (planned on 1 January only: tests put it on the queue themselves) writes
"start <host> <pid>" to ``MEDSHAKE_TEST_BLOCKING_DIR/runs.txt``, then waits while the file
``hold`` exists there (at most a minute), then writes "end <host> <pid>": a planned task a test
can kill a worker in the middle of.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from medshake_bridge import hookimpl
from medshake_bridge.hostname import host_name
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.scheduler.jobs import collect_job


@hookimpl
def medshake_scheduled_jobs():
    every = os.environ.get("MEDSHAKE_TEST_COLLECT_SECONDS", "*/3")
    return [JobSpec(id="test-collect-often", func=collect_job, label_fr="Relève de test",
                    label_en="Test collection",
                    cron={"second": every, "minute": "*", "hour": "*", "day": "*",
                          "month": "*", "day_of_week": "*"}),
            JobSpec(id="test-blocking", func=blocking_job, label_fr="Tâche bloquante de test",
                    label_en="Blocking test task",
                    cron={"minute": "0", "hour": "0", "day": "1", "month": "1",
                          "day_of_week": "*"})]


def blocking_job(app):
    folder = Path(os.environ.get("MEDSHAKE_TEST_BLOCKING_DIR") or app.config[
        "MEDSHAKE_BRIDGE_DATA_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    runs = folder / "runs.txt"
    with runs.open("a") as out:
        out.write(f"start {host_name()} {os.getpid()}\n")
    deadline = time.monotonic() + 60
    while (folder / "hold").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with runs.open("a") as out:
        out.write(f"end {host_name()} {os.getpid()}\n")
    return {"runs": 1}


@hookimpl
def medshake_message_stored(message, documents):
    delay = float(os.environ.get("MEDSHAKE_TEST_STORED_DELAY") or 0)
    if delay:
        time.sleep(delay)
    hold = os.environ.get("MEDSHAKE_TEST_STORED_HOLD")
    if hold:
        deadline = time.monotonic() + 60
        while Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
