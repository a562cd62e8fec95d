"""Anonymous audit noise is aggregated across processes (issue #17, item 7): the counters live
in the database, so two web workers flooded together still write BURST rows and one aggregate
whose count is exact, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select, update

from medshake_bridge.audit_noise import BURST, WINDOW_SECONDS
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, AuditNoiseCounter

WORKER = r"""
import json, sys, time
from pathlib import Path
from medshake_bridge import create_app

config, folder, count = json.loads(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
app = create_app(config)
client = app.test_client()
(folder / f"ready-{sys.argv[4]}").write_text("")
deadline = time.monotonic() + 120
while not (folder / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.01)
statuses = [client.post("/logout").status_code for _ in range(count)]
print(json.dumps(statuses))
"""


def _rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id)))


def _config(app) -> dict:
    keys = ("INSTANCE_PATH", "MEDSHAKE_BRIDGE_SECRET_KEYS", "MEDSHAKE_BRIDGE_DATABASE_URL",
            "SECRET_KEY")
    found = {key: app.config[key] for key in keys if app.config.get(key)}
    found["INSTANCE_PATH"] = app.instance_path
    found["TESTING"] = True
    return found


def _wait_for(paths: list[Path], processes: list[subprocess.Popen], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(path.exists() for path in paths):
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a worker ended early: {process.communicate()}")
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)


def test_two_real_processes_flooded_together_write_a_bounded_exact_log(make_db_app, tmp_path):
    app = make_db_app()
    per_worker = 60
    folder = tmp_path / "signals"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(_config(app)), str(folder), str(per_worker),
         str(number)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for number in range(2)]
    try:
        _wait_for([folder / "ready-0", folder / "ready-1"], workers, 120)
        (folder / "go").write_text("")
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert json.loads(out) == [400] * per_worker
    total = 2 * per_worker
    assert len(_rows(app, "csrf.failed")) == BURST
    [aggregate] = _rows(app, "audit.suppressed")
    assert aggregate.target == "csrf.failed"
    assert aggregate.detail.startswith(f"{total - BURST} more csrf.failed events from ")
    with app.app_context():
        [counter] = db.session.scalars(select(AuditNoiseCounter)).all()
        assert counter.count == total and counter.aggregate_id == aggregate.id


def test_two_engines_share_the_window_and_a_new_window_starts_afresh(make_db_app):
    first = make_db_app()
    second = make_db_app(INSTANCE_PATH=first.instance_path) \
        if make_db_app.backend == "sqlite" else make_db_app()
    clients = [first.test_client(), second.test_client()]
    for number in range(BURST + 1):
        assert clients[number % 2].post("/logout").status_code == 400
    assert len(_rows(first, "csrf.failed")) == BURST
    [aggregate] = _rows(second, "audit.suppressed")
    assert aggregate.detail.startswith("1 more csrf.failed events")
    # the window ends (moved back in time, as if a minute had passed)
    with first.app_context():
        db.session.execute(update(AuditNoiseCounter).values(
            started=AuditNoiseCounter.started - WINDOW_SECONDS - 1))
        db.session.commit()
    assert clients[1].post("/logout").status_code == 400
    assert len(_rows(first, "csrf.failed")) == BURST + 1
    with second.app_context():
        [counter] = db.session.scalars(select(AuditNoiseCounter)).all()
        assert counter.count == 1 and counter.aggregate_id is None
    for number in range(BURST):
        clients[number % 2].post("/logout")
    assert len(_rows(first, "csrf.failed")) == 2 * BURST
    old, new = _rows(first, "audit.suppressed")
    assert old.id == aggregate.id and old.detail.startswith("1 more ")
    assert new.detail.startswith("1 more csrf.failed events")
