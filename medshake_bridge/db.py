"""The bridge's database handle: its own engine and its own session, in any host.

Why not a Flask-SQLAlchemy instance: Flask-SQLAlchemy allows one instance per app, and a clinic
portal that embeds the bridge already has its own. Sharing the host's *session* would be worse:
a bridge commit would commit the portal's half-done work, a bridge rollback would throw it away.
So the bridge keeps a small handle of its own with the same shape (``db.session``, ``db.Model``,
``db.select``, ``db.engine``):

* the session is scoped to the Flask application context (as Flask-SQLAlchemy's) and removed
  when that context ends; it is bound to the bridge's engine of the current app;
* the engine is the bridge's own (``MEDSHAKE_BRIDGE_DATABASE_URL``, else SQLite in the instance
  folder), or the host's Flask-SQLAlchemy engine when the host gives it
  (``MedshakeBridge(app, db=host_db)``) or already registered one: the bridge's tables then live
  in the host's database, prefixed ``bridge_``, with their own Alembic version table;
* SQLite pragmas (WAL, busy timeout, foreign keys) are set on engines the bridge created only,
  never on the host's or on other engines of the process.

Constraint names follow a fixed convention so migrations are identical on SQLite, PostgreSQL
and MariaDB.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000
APP_KEY = "medshake_bridge_db"
"""Where an app keeps its bridge engine (``app.extensions[APP_KEY]``)."""


class Base(DeclarativeBase):
    """Declarative base of every bridge table (prefix ``bridge_`` avoids clashes in a host DB)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@dataclass
class AppDatabase:
    """One app's database: how to build its engine, and the engine once built.

    ``owned`` is False when the engine is the host's (it is then never configured or disposed
    by the bridge).
    """

    make_engine: Callable[[], Engine]
    owned: bool
    description: str
    engine: Engine | None = None

    def get_engine(self) -> Engine:
        if self.engine is None:
            engine = self.make_engine()
            if engine.dialect.name == "postgresql":
                from medshake_bridge.models.mail import declare_postgresql_options

                declare_postgresql_options()  # see there: not imported for other databases
            self.engine = engine
        return self.engine


class BridgeSession(Session):
    """The bridge's sessions (a class of their own, so that listeners of the bridge, e.g. the
    settings memo cleared on rollback, never see a host portal's sessions)."""


def _app_context_id() -> int:
    from flask import globals as flask_globals

    return id(flask_globals.app_ctx._get_current_object())  # type: ignore[attr-defined]


class BridgeDatabase:
    """The handle the bridge's code and plugins use (``from medshake_bridge.db import db``)."""

    Model = Base
    select = staticmethod(sa.select)
    func = sa.func

    def __init__(self) -> None:
        self.session = scoped_session(self._new_session, scopefunc=_app_context_id)

    @staticmethod
    def _new_session() -> Session:
        return BridgeSession(bind=app_database(current_app).get_engine())

    @property
    def engine(self) -> Engine:
        """The bridge's engine of the current app."""
        return app_database(current_app).get_engine()

    def init_app(self, app: Flask, host_db: Any = None) -> AppDatabase:
        """Choose the app's bridge database (see the module docstring); connects to nothing."""
        database = _choose_database(app, host_db)
        app.extensions[APP_KEY] = database
        app.teardown_appcontext(self._remove_session)
        return database

    def _remove_session(self, _exc: BaseException | None = None) -> None:
        self.session.remove()


def app_database(app: Flask) -> AppDatabase:
    try:
        return app.extensions[APP_KEY]
    except KeyError:
        from medshake_bridge.errors import ConfigurationError

        raise ConfigurationError(
            "this app has no bridge database",
            fix="call MedshakeBridge(app) or use medshake_bridge.create_app()",
        ) from None


def _choose_database(app: Flask, host_db: Any) -> AppDatabase:
    url = app.config.get("MEDSHAKE_BRIDGE_DATABASE_URL") or ""
    if not url:
        host = host_db if host_db is not None else app.extensions.get("sqlalchemy")
        if host is not None:
            return AppDatabase(lambda: _host_engine(app, host), owned=False,
                               description="the host application's database")
    if not url:
        url = default_sqlite_url(app)
        return AppDatabase(lambda: _default_sqlite_engine(app, url), owned=True,
                           description=_describe(url))
    return AppDatabase(lambda: create_bridge_engine(app, url), owned=True,
                       description=_describe(url))


def _default_sqlite_engine(app: Flask, url: str) -> Engine:
    """SQLite in the bridge's home folder: the folder 0700 and the file 0600 before SQLAlchemy
    would create it with the umask's mode."""
    from medshake_bridge.paths import ensure_private_dir

    path = Path(url.removeprefix("sqlite:///"))
    ensure_private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return create_bridge_engine(app, url)


def _host_engine(app: Flask, host_db: Any) -> Engine:
    """The default engine of the host's Flask-SQLAlchemy instance."""
    with app.app_context():
        return host_db.engine


def _describe(url: Any) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def default_sqlite_url(app: Flask) -> str:
    from medshake_bridge.config import bridge_home

    return "sqlite:///" + str(bridge_home(app) / "medshake_bridge.db")


def database_url(app: Flask) -> str:
    """The URL of the bridge's database (password hidden), for pages and ``doctor``."""
    database = app_database(app)
    return database.description if database.owned else _describe(database.get_engine().url)


def engine_url(app: Flask) -> str:
    """The full URL of the bridge's engine, password included (for the bridge's own extra
    connections, such as the scheduler's leader lock); never show it."""
    return app_database(app).get_engine().url.render_as_string(hide_password=False)


def create_bridge_engine(app: Flask, url: str) -> Engine:
    """An engine the bridge owns: driver defaults, then ``MEDSHAKE_BRIDGE_ENGINE_OPTIONS``."""
    parsed = sa.engine.make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            options.update(poolclass=sa.pool.StaticPool,
                           connect_args={"check_same_thread": False})
        elif not os.path.isabs(parsed.database):
            from medshake_bridge.config import bridge_home

            parsed = parsed.set(database=os.path.join(bridge_home(app), parsed.database))
    else:
        options.update(pool_pre_ping=True, pool_recycle=3600)
        if parsed.get_backend_name() == "mysql" and "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    options.update(app.config.get("MEDSHAKE_BRIDGE_ENGINE_OPTIONS") or {})
    engine = sa.create_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite settings for a web process, a scheduler and the CLI sharing one file.

    WAL lets readers and one writer work at the same time; ``synchronous=NORMAL`` in WAL mode
    keeps every commit safe from a process crash (a power cut may lose the last commits but
    never corrupts the file), and removes an fsync per commit; the busy timeout makes a second
    writer wait instead of failing at once; foreign keys are checked as on the other databases.
    Only the bridge's own engines get these (a host's engine is the host's business).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


db = BridgeDatabase()
