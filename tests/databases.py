"""Database fixtures: SQLite always, PostgreSQL and MariaDB on this machine's servers.

Each test session creates its own database on the PostgreSQL and MariaDB servers (so parallel
runs never collide), migrates it once, and empties the tables after each test. A server that is
not reachable skips its tests locally and fails them under CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get(
    "MEDSHAKE_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN_URL = os.environ.get(
    "MEDSHAKE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
BACKENDS = ("sqlite", "postgresql", "mariadb")


@dataclass
class ServerDatabase:
    backend: str
    url: str
    migrated: bool = False


def _create_database(backend: str) -> tuple[str, object]:
    name = f"msb_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_url = PG_ADMIN_URL if backend == "postgresql" else MARIADB_ADMIN_URL
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
        extra = "" if backend == "postgresql" else " CHARACTER SET utf8mb4"
        connection.execute(text(f"CREATE DATABASE {quoted}{extra}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if backend == "mariadb":
        url += "?charset=utf8mb4"

    def drop() -> None:
        with engine.connect() as connection:
            if backend == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()

    return url, drop


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, ServerDatabase | Exception]]:
    """Lazily created PostgreSQL / MariaDB databases for the session."""
    made: dict[str, ServerDatabase | Exception] = {}
    drops = []

    class Lazy(dict):
        def __missing__(self, backend: str) -> ServerDatabase | Exception:
            try:
                url, drop = _create_database(backend)
            except Exception as exc:  # server down or driver missing
                self[backend] = exc
                return exc
            drops.append(drop)
            self[backend] = ServerDatabase(backend, url)
            return self[backend]

    made = Lazy()
    yield made
    for drop in drops:
        drop()


def server_database_or_skip(server_databases, backend: str, require_component) -> ServerDatabase:
    found = server_databases[backend]
    if isinstance(found, Exception):
        require_component(backend, False, f"{backend} server not reachable: {found}")
    return found


def empty_tables(url: str) -> None:
    """Delete every row of the bridge's tables (children first) but keep the schema."""
    from medshake_bridge.db import Base

    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
