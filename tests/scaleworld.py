"""A scale-out world: PostgreSQL, a Redis of the test's own, dovecot mailboxes, and real
``medshake-bridge worker`` / ``scheduler`` processes, each with its own host name and instance
folder (as on separate hosts) sharing one data folder (as on NFS).

Used by ``tests/test_scaleout.py`` and ``benchmarks/scaleout_benchmark.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from mailbuild import HPRIM_LAB, sandbox_mail
from mailworld import ALICE, BOB
from scheduler_helpers import wait_for
from sqlalchemy import func, select

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage
from medshake_bridge.models.scale import QueueJob
from medshake_bridge.models.tasks import TaskRun
from medshake_bridge.sandbox import create_network
from medshake_bridge.users import create_user

BRIDGE = str(Path(sys.executable).parent / "medshake-bridge")
PLUGIN_DIR = Path(__file__).parent / "plugins" / "scaleout_jobs"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: stopping it
    loses what it held, like a broker restarted after a crash."""

    def __init__(self, folder: Path) -> None:
        from support.net import free_ports

        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, number: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{number}"

    def start(self) -> None:
        from support.net import port_accepts

        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: port_accepts("127.0.0.1", self.port), 10, 0.05, "redis listening")

    def stop(self) -> None:
        """An outage: the server is killed (what it held is gone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class Mailbox:
    login: str
    password: str
    user_id: int


@dataclass
class ScaleWorld:
    app: Flask
    database_url: str
    secret_key: str
    tmp: Path
    redis: RedisServer
    dovecot: Any
    data_dir: Path
    net: Any = None
    mailboxes: list[Mailbox] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    seeded: int = 0
    admin_client: Any = None  # a test client logged in as an admin, once a test made one
    _mails: list[bytes] = field(default_factory=list)

    # -- mailboxes ----------------------------------------------------------------------
    def add_mailboxes(self, count: int) -> list[Mailbox]:
        made = []
        with self.app.app_context():
            store = bridge_state().settings
            for _ in range(count):
                account = self.dovecot.add_user()
                number = len(self.mailboxes) + 1
                user = create_user(f"doctor{number}", "password for tests", role="practitioner")
                for name, value in {
                    "apicryptAdresse": f"doctor{number}@medical69.apicrypt.org",
                    "apicryptUtilisateur": BOB,
                    "apicryptCollector": "pop3",
                    "apicryptPopHost": "localhost",
                    "apicryptPopPort": str(self.dovecot.pop3s),
                    "apicryptPopTls": "tls",
                    "apicryptPopUser": account.login,
                    "apicryptPopPassword": account.password,
                    "apicryptTlsCaFile": str(self.dovecot.ca_file),
                    "apicryptCheminVersBinaires": str(self.net.bin_dir),
                    "apicryptCheminVersClefs": str(self.net.keys_dir(BOB)),
                }.items():
                    store.set(name, value, level="user", user_id=user.id)
                mailbox = Mailbox(account.login, account.password, user.id)
                self.mailboxes.append(mailbox)
                made.append(mailbox)
            db.session.remove()
        return made

    def mail(self, number: int) -> bytes:
        """The ``number``-th distinct sandbox message (made once, reused across mailboxes:
        duplicates are only looked for within one mailbox)."""
        while len(self._mails) <= number:
            self._mails.append(sandbox_mail(self.net, self.tmp / "sender-work", sender=ALICE,
                                            recipient=BOB, text=HPRIM_LAB,
                                            subject=f"Résultats {len(self._mails)}"))
        return self._mails[number]

    def seed(self, mailboxes: list[Mailbox], per_mailbox: int, *, first: int = 0) -> int:
        for mailbox in mailboxes:
            for number in range(first, first + per_mailbox):
                self.dovecot.seed(mailbox.login, self.mail(number))
        self.seeded += len(mailboxes) * per_mailbox
        return len(mailboxes) * per_mailbox

    def left_on_servers(self) -> int:
        return sum(len(self.dovecot.messages(mailbox.login)) for mailbox in self.mailboxes)

    # -- processes ----------------------------------------------------------------------
    def env(self, host: str, **extra: str) -> dict[str, str]:
        instance = self.tmp / "hosts" / host
        instance.mkdir(parents=True, exist_ok=True)
        env = {**os.environ,
               "MEDSHAKE_BRIDGE_INSTANCE": str(instance),
               "MEDSHAKE_BRIDGE_DATABASE_URL": self.database_url,
               "MEDSHAKE_BRIDGE_SECRET_KEYS": self.secret_key,
               "MEDSHAKE_BRIDGE_DATA_DIR": str(self.data_dir),
               "MEDSHAKE_BRIDGE_EXECUTOR": "celery",
               "MEDSHAKE_BRIDGE_CELERY_BROKER_URL": self.redis.url(),
               "MEDSHAKE_BRIDGE_CELERY_VISIBILITY_TIMEOUT": "4",
               "MEDSHAKE_BRIDGE_WORKER_HEARTBEAT_SECONDS": "0.5",
               "MEDSHAKE_BRIDGE_HOST": host,
               "MEDSHAKE_BRIDGE_STRICT_PLUGINS": "1",
               "MEDSHAKE_BRIDGE_PLUGINS": "medshake_test_scaleout",
               "MEDSHAKE_BRIDGE_SCHEDULER": "external",
               "MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS": "0.3",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_DIR),
                                                           os.environ.get("PYTHONPATH")]))}
        env.update(self.extra_env)
        env.update(extra)
        return env

    def _start(self, host: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{host}.log").open("ab")
        process = subprocess.Popen([BRIDGE, *args], env=self.env(host, **extra), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[host] = process
        return process

    def start_worker(self, host: str, concurrency: int = 2, **extra: str) -> subprocess.Popen:
        return self._start(host, ["worker", "--concurrency", str(concurrency),
                                  "--name", f"worker@{host}", "--loglevel", "INFO"], **extra)

    def start_scheduler(self, host: str = "host-scheduler", **extra: str) -> subprocess.Popen:
        return self._start(host, ["scheduler"], **extra)

    def kill(self, host: str) -> None:
        process = self.processes.pop(host)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()

    def log(self, host: str) -> str:
        path = self.tmp / f"{host}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_workers(self, count: int, timeout: float = 30) -> None:
        from medshake_bridge.scale.status import cluster_status

        def alive() -> bool:
            with self.app.app_context():
                try:
                    return cluster_status(self.app, ask_broker=False).alive_workers >= count
                finally:
                    db.session.remove()

        wait_for(alive, timeout, 0.2, f"{count} worker(s) alive")

    # -- database -----------------------------------------------------------------------
    def query(self, statement: Any) -> list[Any]:
        with self.app.app_context():
            try:
                return list(db.session.execute(statement).all())
            finally:
                db.session.remove()

    def jobs(self) -> list[QueueJob]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(QueueJob).order_by(QueueJob.id)))
            db.session.expunge_all()
            db.session.remove()
            return rows

    def stored(self) -> int:
        return self.query(select(func.count()).select_from(ReceivedMessage))[0][0]

    def processed(self) -> int:
        return self.query(select(func.count()).select_from(ReceivedMessage).where(
            ReceivedMessage.state == "processed"))[0][0]

    def documents(self) -> int:
        return self.query(select(func.count()).select_from(InboxDocument))[0][0]

    def everything_collected(self) -> bool:
        return (self.processed() == self.seeded and self.documents() == self.seeded
                and self.left_on_servers() == 0)


@pytest.fixture(name="scale_world")
def scale_world_fixture(make_app, server_databases, dovecot, tmp_path) -> Iterator[ScaleWorld]:
    """PostgreSQL (this session's database), a Redis of the test's own, dovecot (POP3 over
    TLS) and the sandbox; processes started by the test are stopped at the end."""
    yield from _scale_world(make_app, server_databases, dovecot, tmp_path, "postgresql")


@pytest.fixture(name="scale_world_mariadb")
def scale_world_mariadb_fixture(make_app, server_databases, dovecot,
                                tmp_path) -> Iterator[ScaleWorld]:
    """The same world on MariaDB (this session's own database on 127.0.0.1:3306): the
    per-mailbox lock is ``GET_LOCK`` there."""
    yield from _scale_world(make_app, server_databases, dovecot, tmp_path, "mariadb")


def _scale_world(make_app, server_databases, dovecot, tmp_path,
                 backend: str) -> Iterator[ScaleWorld]:
    with queue_cluster(make_app, server_databases, tmp_path, backend, dovecot) as world:
        world.net = create_network(tmp_path / "sandbox", [ALICE, BOB])
        yield world


@contextmanager
def queue_cluster(make_app, server_databases, tmp_path: Path, backend: str,
                  dovecot: Any = None, **config: Any) -> Iterator[ScaleWorld]:
    """An app in ``celery`` mode on this session's ``backend`` database with a Redis of its
    own and a shared data folder; workers started through the world are stopped, the Redis
    stopped and the tables emptied on the way out. ``config`` adds to the app's settings."""
    from conftest import TEST_SECRET_KEY
    from databases import empty_tables, server_database_or_skip
    from support.components import require_component

    require_component("redis", os.access(REDIS_SERVER, os.X_OK),
                      "no redis-server; install it with `apt-get install -y redis-server`")
    server = server_database_or_skip(server_databases, backend, require_component)
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    data_dir = tmp_path / "shared-data"
    app = make_app(MEDSHAKE_BRIDGE_DATABASE_URL=server.url,
                   MEDSHAKE_BRIDGE_DATA_DIR=str(data_dir),
                   MEDSHAKE_BRIDGE_EXECUTOR="celery",
                   MEDSHAKE_BRIDGE_CELERY_BROKER_URL=redis.url(),
                   MEDSHAKE_BRIDGE_WORKER_HEARTBEAT_SECONDS=0.5,
                   MEDSHAKE_BRIDGE_HOST="host-web", **config)
    if not server.migrated:
        migrate.upgrade(app)
        server.migrated = True
    world = ScaleWorld(app=app, database_url=server.url, secret_key=TEST_SECRET_KEY,
                       tmp=tmp_path, redis=redis, dovecot=dovecot, data_dir=data_dir)
    try:
        yield world
    finally:
        world.stop_all()
        redis.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        empty_tables(server.url)


def task_runs(world: ScaleWorld, job_id: str) -> list[TaskRun]:
    """The recorded runs of one planned task, oldest first, detached from the session."""
    with world.app.app_context():
        rows = list(db.session.scalars(select(TaskRun).where(TaskRun.job_id == job_id)
                                       .order_by(TaskRun.id)))
        db.session.expunge_all()
        db.session.remove()
        return rows
