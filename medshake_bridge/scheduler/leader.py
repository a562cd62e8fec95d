"""One leader among every scheduler process, on one host and across hosts.

* On one host: an ``flock`` on ``<instance>/scheduler-leader.lock``. The kernel drops it when
  the process dies, however it dies.
* Across hosts (PostgreSQL, MariaDB): a database lock held on a dedicated connection,
  ``pg_try_advisory_lock`` or ``GET_LOCK(name, 0)``. The server drops it when the connection
  closes, so a dead leader's lock goes with its connection.

A process leads when it holds every lock that applies (SQLite: the file lock only). Followers
try again at each poll and take over once the leader is gone. The unique constraint on
(job, tick) in ``bridge_task_runs`` stays the last guard if two ever overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from medshake_bridge.paths import PRIVATE_FILE_MODE

log = logging.getLogger(__name__)
LOCK_FILE_NAME = "scheduler-leader.lock"


class LeaderLock(Protocol):
    def acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class FileLeaderLock:
    """The host-wide lock: a non-blocking exclusive ``flock``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class DatabaseLeaderLock:
    """The cross-host lock, held on its own connection (never a pooled one)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        database = parsed.database or ""
        digest = hashlib.sha256(f"medshake-bridge-scheduler:{database}".encode()).digest()
        self.pg_key = int.from_bytes(digest[:8], "big", signed=True)
        self.name = f"msb-sched-{hashlib.sha256(database.encode()).hexdigest()[:40]}"
        self._url = url
        self._engine: Engine | None = None
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        try:
            self._engine = self._engine or create_engine(self._url, poolclass=NullPool)
            connection = self._engine.connect()
        except Exception as exc:  # noqa: BLE001 - the database is away: try again later
            log.warning("scheduler: cannot reach the database for the leader lock: %s", exc)
            return False
        try:
            if self.dialect == "postgresql":
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": self.pg_key}).scalar()
            else:
                got = connection.execute(text("SELECT GET_LOCK(:name, 0)"),
                                         {"name": self.name}).scalar()
            connection.commit()
        except Exception as exc:  # noqa: BLE001
            log.warning("scheduler: leader lock query failed: %s", exc)
            connection.close()
            return False
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        """True while the lock's connection answers (the server keeps the lock as long)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()
            return True
        except Exception as exc:  # noqa: BLE001
            log.warning("scheduler: the leader lock's connection is lost: %s", exc)
            self._drop()
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            if self.dialect == "postgresql":
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self.pg_key})
            else:
                self._connection.execute(text("SELECT RELEASE_LOCK(:name)"),
                                         {"name": self.name})
            self._connection.commit()
        except Exception:  # noqa: BLE001, S110 - closing the connection releases it anyway
            pass
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail
                self._connection.close()
            self._connection = None


class LeaderElection:
    """All the locks that apply to one database URL, taken together or not at all."""

    def __init__(self, instance_path: str | Path, database_url: str) -> None:
        self.locks: list[LeaderLock] = [FileLeaderLock(Path(instance_path) / LOCK_FILE_NAME)]
        backend = make_url(database_url).get_backend_name()
        if backend in ("postgresql", "mysql", "mariadb"):
            self.locks.append(DatabaseLeaderLock(database_url))
        self.leading = False

    def try_lead(self) -> bool:
        """Take every lock (True) or none (False)."""
        if self.leading:
            return self.check()
        taken: list[LeaderLock] = []
        for lock in self.locks:
            if not lock.acquire():
                for held in reversed(taken):
                    held.release()
                return False
            taken.append(lock)
        self.leading = True
        return True

    def check(self) -> bool:
        """Still the leader? (A lost database connection means no: let another lead.)"""
        if self.leading and not all(lock.still_held() for lock in self.locks):
            self.release()
        return self.leading

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()
        self.leading = False
