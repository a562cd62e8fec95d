"""Named locks held in the database, so that every host sharing it sees them.

* PostgreSQL: ``pg_try_advisory_lock`` at session level, on a connection of its own (never a
  pooled one: a pooled connection could be handed to other work while the lock is held).
* MariaDB / MySQL: ``GET_LOCK(name, 0)`` on a connection of its own (lock names are
  server-wide, so the database name is part of the lock's name).
* SQLite (one host by nature): a non-blocking ``flock`` on a file, the behaviour the bridge
  always had.

The server drops a database lock when its connection closes, however the process holding it
ends (``kill -9`` included), so a dead worker never keeps a mailbox locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from medshake_bridge.errors import BridgeError
from medshake_bridge.paths import PRIVATE_FILE_MODE, ensure_private_dir

log = logging.getLogger(__name__)
SERVER_BACKENDS = ("postgresql", "mysql", "mariadb")
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class LockBusy(BridgeError):
    """Another process (on this host or another) holds the lock right now."""


def lock_backend(url: str) -> str:
    """``database`` when ``url``'s server can hold cross-host locks, else ``file``."""
    return "database" if make_url(url).get_backend_name() in SERVER_BACKENDS else "file"


def _engine(url: str) -> Engine:
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_engine(url, poolclass=NullPool)
        return engine


def _keys(url: str, name: str) -> tuple[int, str]:
    database = make_url(url).database or ""
    digest = hashlib.sha256(f"medshake-bridge:{database}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True), f"msb-{digest.hex()[:56]}"


def _take(connection: Connection, dialect: str, key: int, server_name: str) -> bool:
    if dialect == "postgresql":
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
    else:
        got = connection.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": server_name})
    value = got.scalar()
    connection.commit()
    return bool(value)


def _give_back(connection: Connection, dialect: str, key: int, server_name: str) -> None:
    try:
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        else:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": server_name})
        connection.commit()
    except Exception:  # noqa: BLE001, S110 - closing the connection releases it anyway
        pass
    with contextlib.suppress(Exception):
        connection.close()


@contextmanager
def database_lock(url: str, name: str) -> Iterator[None]:
    """Hold the lock ``name`` in the database at ``url``, or raise :class:`LockBusy`."""
    dialect = make_url(url).get_backend_name()
    key, server_name = _keys(url, name)
    connection = _engine(url).connect()
    try:
        taken = _take(connection, dialect, key, server_name)
    except BaseException:
        with contextlib.suppress(Exception):
            connection.close()
        raise
    if not taken:
        connection.close()
        raise LockBusy(f"{name} is held by another process",
                       fix="wait for the other process to finish")
    try:
        yield
    finally:
        _give_back(connection, dialect, key, server_name)


@contextmanager
def file_lock(folder: Path, file_name: str) -> Iterator[Path]:
    """A non-blocking ``flock`` on ``folder/file_name`` (one host only), or :class:`LockBusy`."""
    ensure_private_dir(folder)
    path = folder / file_name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"{path} is held by another process",
                           fix="wait for the other process to finish") from None
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def current_database_url() -> str | None:
    """The bridge's database URL when an app context is active (``None`` otherwise)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    from medshake_bridge.db import engine_url

    return engine_url(current_app)


@contextmanager
def named_lock(name: str, *, folder: Path, file_name: str) -> Iterator[None]:
    """The lock ``name``: in the database on PostgreSQL / MariaDB (every host sees it), else
    the file ``folder/file_name`` (SQLite, or no app context). Raises :class:`LockBusy`."""
    url = current_database_url()
    if url is not None and lock_backend(url) == "database":
        with database_lock(url, name):
            yield
    else:
        with file_lock(folder, file_name):
            yield
