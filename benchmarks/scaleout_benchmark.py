"""Scale-out benchmark (issue 19): messages per second with 1, 2 and 4 queue workers.

Measured, not asserted. The same mailboxes each round: N dovecot mailboxes (POP3 over TLS),
M new sandbox-encrypted messages seeded in each before the round, PostgreSQL, a Redis of the
benchmark's own, and K real ``medshake-bridge worker`` processes (one job at a time each, as K
single-core hosts would run them), each with its own host name and instance folder, sharing
one data folder. A round: all jobs enqueued at once (``fetch --enqueue``, in process), timed
until every message is processed. Baseline: the same work in ``inline`` mode
(``medshake-bridge fetch -j 1`` and ``-j 2``).

Run: ``.venv/bin/python benchmarks/scaleout_benchmark.py --mailboxes 20 --messages 3``
(→ ``benchmarks/results/scaleout.json``). Needs PostgreSQL on 127.0.0.1:5432, redis-server,
dovecot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet  # noqa: E402
from databases import _create_database  # noqa: E402
from mailworld import ALICE, BOB  # noqa: E402
from scaleworld import BRIDGE, RedisServer, ScaleWorld, wait_for  # noqa: E402
from support.dovecot import DovecotServer, MailStore  # noqa: E402
from support.tls import make_pki  # noqa: E402

from medshake_bridge import create_app, migrate  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.sandbox import create_network  # noqa: E402
from medshake_bridge.scale.dispatch import enqueue_collection  # noqa: E402


def _round(world: ScaleWorld, mailboxes: list, per_mailbox: int, first: int) -> int:
    world.seed(mailboxes, per_mailbox, first=first)
    return world.seeded


def timed_queue(world: ScaleWorld, workers: int, mailboxes: list, per_mailbox: int,
                first: int) -> dict:
    target = _round(world, mailboxes, per_mailbox, first)
    for number in range(workers):
        world.start_worker(f"bench-host-{number}", concurrency=1)
    world.wait_workers(workers, timeout=120)
    started = time.monotonic()
    with world.app.app_context():
        report = enqueue_collection(world.app, trigger="cli")
        db.session.remove()
    assert report.enqueued == len(mailboxes), report
    wait_for(lambda: world.processed() >= target, 1800, 0.2, "round collected")
    seconds = time.monotonic() - started
    world.stop_all()
    count = len(mailboxes) * per_mailbox
    return {"workers": workers, "messages": count, "seconds": round(seconds, 2),
            "messages_per_second": round(count / seconds, 2)}


def timed_inline(world: ScaleWorld, jobs: int, mailboxes: list, per_mailbox: int,
                 first: int) -> dict:
    target = _round(world, mailboxes, per_mailbox, first)
    env = world.env("bench-inline", MEDSHAKE_BRIDGE_EXECUTOR="inline",
                    MEDSHAKE_BRIDGE_SCHEDULER="off")
    started = time.monotonic()
    subprocess.run([BRIDGE, "fetch", "-j", str(jobs)], env=env, check=False,
                   capture_output=True, timeout=1800)
    seconds = time.monotonic() - started
    assert world.processed() >= target, (world.processed(), target)
    count = len(mailboxes) * per_mailbox
    return {"inline_jobs": jobs, "messages": count, "seconds": round(seconds, 2),
            "messages_per_second": round(count / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=20)
    parser.add_argument("--messages", type=int, default=3, help="new messages per mailbox "
                        "and round")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scaleout.json")
    args = parser.parse_args()
    counts = [int(value) for value in args.workers.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="msb-bench-scale-"))
    os.chmod(tmp, 0o755)
    pki = make_pki()
    (tmp / "mail").mkdir()
    store = MailStore(tmp / "mail")
    os.chmod(store.root, 0o755)
    dovecot_dir = tmp / "dovecot"
    dovecot_dir.mkdir()
    dovecot = DovecotServer(dovecot_dir, store, pki.server, trusted_ca_file=pki.ca_file,
                            name="bench-scale")
    dovecot.start()
    redis = RedisServer(tmp / "redis")
    redis.start()
    url, drop = _create_database("postgresql")
    secret = Fernet.generate_key().decode()
    data_dir = tmp / "shared-data"
    load_before = os.getloadavg()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform(),
                                 "load_average_before": [round(v, 2) for v in load_before]},
                     "mailboxes": args.mailboxes, "messages_per_mailbox": args.messages,
                     "command": " ".join(["benchmarks/scaleout_benchmark.py", *sys.argv[1:]])}
    try:
        app = create_app({"INSTANCE_PATH": str(tmp / "web"),
                          "MEDSHAKE_BRIDGE_SECRET_KEYS": [secret],
                          "MEDSHAKE_BRIDGE_DATABASE_URL": url,
                          "MEDSHAKE_BRIDGE_DATA_DIR": str(data_dir),
                          "MEDSHAKE_BRIDGE_EXECUTOR": "celery",
                          "MEDSHAKE_BRIDGE_CELERY_BROKER_URL": redis.url(),
                          "MEDSHAKE_BRIDGE_HOST": "bench-web"})
        migrate.upgrade(app)
        world = ScaleWorld(app=app, database_url=url, secret_key=secret, tmp=tmp, redis=redis,
                           dovecot=dovecot, data_dir=data_dir)
        world.extra_env.update({"MEDSHAKE_BRIDGE_CELERY_VISIBILITY_TIMEOUT": "600",
                                "MEDSHAKE_BRIDGE_PLUGINS": "",
                                "MEDSHAKE_BRIDGE_SCHEDULER": "off"})
        world.net = create_network(tmp / "sandbox", [ALICE, BOB])
        mailboxes = world.add_mailboxes(args.mailboxes)
        first = 0
        rounds = []
        for jobs in (1, 2):
            rounds.append(timed_inline(world, jobs, mailboxes, args.messages, first))
            first += args.messages
            print(rounds[-1], flush=True)
        for workers in counts:
            rounds.append(timed_queue(world, workers, mailboxes, args.messages, first))
            first += args.messages
            print(rounds[-1], flush=True)
        results["rounds"] = rounds
        results["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        assert world.left_on_servers() == 0
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        world_processes = locals().get("world")
        if world_processes is not None:
            world_processes.stop_all()
        redis.stop()
        dovecot.stop()
        drop()
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
