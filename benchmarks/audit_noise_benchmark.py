"""Anonymous audit noise from several web workers at once: how many audit rows, how long.

N real processes (each its own app and engine, as gunicorn workers) POST ``/logout`` without a
CSRF token M times each, all starting together, against one database; then the audit rows are
counted. The counters are shared in the database (``bridge_audit_noise``), so the rows stay at
5 + 1 per address and 60-second window whatever N, and the aggregates add up to N × M.

Run: ``.venv/bin/python benchmarks/audit_noise_benchmark.py --processes 4 --requests 150``
(``--database postgresql`` or ``mariadb`` uses a throwaway database on this machine's server).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from test_security_audit_shared import WORKER  # noqa: E402

from medshake_bridge import create_app, migrate  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.models import AuditEvent  # noqa: E402


def flood(processes: int, requests: int, url: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="msb-noise-"))
    signals = work / "signals"
    signals.mkdir()
    config: dict = {"INSTANCE_PATH": str(work / "instance"), "TESTING": True,
                    "MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()]}
    if url:
        config["MEDSHAKE_BRIDGE_DATABASE_URL"] = url
    app = create_app(config)
    migrate.upgrade(app)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(config), str(signals), str(requests),
         str(number)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for number in range(processes)]
    deadline = time.monotonic() + 300
    while not all((signals / f"ready-{number}").exists() for number in range(processes)):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit("the workers did not start")
        time.sleep(0.05)
    started = time.perf_counter()
    (signals / "go").write_text("")
    for worker in workers:
        worker.communicate(timeout=1800)
    elapsed = time.perf_counter() - started
    with app.app_context():
        rows = dict(db.session.execute(select(AuditEvent.action, func.count())
                                       .group_by(AuditEvent.action)).all())
        details = list(db.session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "audit.suppressed")))
        db.session.remove()
        db.engine.dispose()
    accounted = rows.get("csrf.failed", 0) + sum(
        int(re.match(r"(\d+) more", text).group(1)) for text in details)
    return {"processes": processes, "requests_each": requests, "seconds": round(elapsed, 1),
            "requests_per_s": round(processes * requests / elapsed, 1),
            "audit_rows": sum(rows.values()), "windows": len(details),
            "events_accounted_for": accounted}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "mariadb"),
                        action="append")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/audit_noise.json")
    args = parser.parse_args()
    results = {}
    for backend in args.database or ["sqlite"]:
        url, drop = None, None
        if backend != "sqlite":
            from databases import _create_database

            url, drop = _create_database(backend)
        try:
            results[backend] = flood(args.processes, args.requests, url)
        finally:
            if drop is not None:
                drop()
        print(backend, json.dumps(results[backend]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
