"""Real ``medshake-bridge scheduler`` processes against one database.

Three processes on SQLite (one instance folder: the file lock decides), and on PostgreSQL and
MariaDB (one instance folder *each*, as on three hosts: only the database lock decides). Each
per-second tick of the test job runs once, always in the leader; the leader is killed with
SIGKILL and a follower takes over; SIGTERM stops the others within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from scheduler_helpers import JOBS_PLUGIN_DIR, runs, wait_for

from medshake_bridge.db import engine_url

BRIDGE = str(Path(sys.executable).parent / "medshake-bridge")
STOP_WITHIN = 8.0  # seconds: "a few seconds", generous for a loaded CI machine


def _start(instance: Path, database_url: str, logs: Path, number: int) -> subprocess.Popen:
    env = {**os.environ,
           "MEDSHAKE_BRIDGE_INSTANCE": str(instance),
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY,
           "MEDSHAKE_BRIDGE_PLUGINS": "medshake_test_jobs",
           "MEDSHAKE_BRIDGE_STRICT_PLUGINS": "1",
           "MEDSHAKE_BRIDGE_SCHEDULER": "external",
           "MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS": "0.3",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(JOBS_PLUGIN_DIR),
                                                       os.environ.get("PYTHONPATH")]))}
    if database_url:
        env["MEDSHAKE_BRIDGE_DATABASE_URL"] = database_url
    else:
        env.pop("MEDSHAKE_BRIDGE_DATABASE_URL", None)
    out = (logs / f"scheduler-{number}.log").open("wb")
    return subprocess.Popen([BRIDGE, "scheduler"], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _tick_pids(app, since_id: int = 0) -> list[int]:
    return [run.pid for run in runs(app, "test-tick") if run.id > since_id]


def test_three_schedulers_run_each_tick_once_and_a_follower_takes_over(db_app, tmp_path):
    backend = engine_url(db_app).split(":", 1)[0]
    sqlite = backend.startswith("sqlite")
    url = "" if sqlite else engine_url(db_app)
    instances = ([Path(db_app.instance_path)] * 3 if sqlite
                 else [tmp_path / f"host{n}" for n in range(3)])
    processes = [_start(instance, url, tmp_path, n) for n, instance in enumerate(instances)]
    by_pid = {process.pid: process for process in processes}
    try:
        wait_for(lambda: len(_tick_pids(db_app)) >= 3, timeout=20)
        time.sleep(1.5)
        before_kill = runs(db_app, "test-tick")
        assert len({run.pid for run in before_kill}) == 1, "only the leader runs the jobs"
        assert len({run.scheduled_for for run in before_kill}) == len(before_kill)
        leader = before_kill[0].pid
        assert leader in by_pid

        by_pid[leader].send_signal(signal.SIGKILL)
        by_pid[leader].wait(timeout=5)
        last_id = max(run.id for run in runs(db_app))
        new_pids = wait_for(lambda: [pid for pid in _tick_pids(db_app, last_id)
                                     if pid != leader], timeout=10)
        time.sleep(1.5)
        after = [run for run in runs(db_app, "test-tick") if run.id > last_id]
        assert {run.pid for run in after} == {new_pids[0]}, "one new leader"
        every = runs(db_app, "test-tick")
        assert len({run.scheduled_for for run in every}) == len(every), "each tick once"
        failed = [run for run in runs(db_app, "test-boom") if run.outcome == "failed"]
        assert failed and all(run.error == "RuntimeError: boom on purpose" for run in failed)

        survivors = [process for pid, process in by_pid.items() if pid != leader]
        for process in survivors:
            process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        for process in survivors:
            assert process.wait(timeout=STOP_WITHIN) == 0
        assert time.monotonic() - started < STOP_WITHIN
        logs = (tmp_path / "scheduler-0.log").read_text() + \
            (tmp_path / "scheduler-1.log").read_text() + (tmp_path / "scheduler-2.log").read_text()
        assert logs.count("Scheduler stopped.") == 2
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


def test_the_scheduler_command_refuses_to_run_when_off(app, cli, monkeypatch):
    app.config["MEDSHAKE_BRIDGE_SCHEDULER"] = "off"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["bridge", "scheduler"])
    assert result.exit_code != 0
    assert "MEDSHAKE_BRIDGE_SCHEDULER=off" in result.output


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
