"""The one SQLAlchemy handle shared by the host and its plugins.

A host portal that already uses Flask-SQLAlchemy keeps its own ``db``; ours is a separate
extension instance bound to the same app, so the bridge's tables live in their own metadata and
Alembic history. Constraint names follow a fixed convention so migrations are identical on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every bridge table (prefix ``bridge_`` avoids clashes in a host DB)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


SQLITE_BUSY_TIMEOUT_MS = 10_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite settings for a web process, a scheduler and the CLI sharing one file.

    WAL lets readers and one writer work at the same time; ``synchronous=NORMAL`` in WAL mode
    keeps every commit safe from a process crash (a power cut may lose the last commits but
    never corrupts the file), and removes an fsync per commit; the busy timeout makes a second
    writer wait instead of failing at once; foreign keys are checked as on the other databases.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith(("sqlite3", "pysqlite2")):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
