"""The bridge inside a portal that has its own Flask-SQLAlchemy: the host's database is shared,
the host's session and engines are left alone."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, create_engine, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from medshake_bridge import MedshakeBridge, migrate
from medshake_bridge.db import database_url, db
from medshake_bridge.models import User
from medshake_bridge.users import create_user


def _portal(tmp_path, **config) -> tuple[Flask, SQLAlchemy, type]:
    class PortalBase(DeclarativeBase):
        pass

    portal_db = SQLAlchemy(model_class=PortalBase)

    class Visit(portal_db.Model):
        __tablename__ = "visits"
        id: Mapped[int] = mapped_column(primary_key=True)
        note: Mapped[str] = mapped_column(String(50))

    app = Flask("portal", instance_path=str(tmp_path / "portal-instance"))
    app.config.update(SECRET_KEY="portal", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.db",
                      MEDSHAKE_BRIDGE_SECRET_KEYS=[], **config)
    portal_db.init_app(app)
    with app.app_context():
        portal_db.create_all()
    return app, portal_db, Visit


def test_a_host_with_its_own_flask_sqlalchemy_can_embed_the_bridge(tmp_path):
    app, portal_db, _visit = _portal(tmp_path)
    MedshakeBridge(app)  # used to fail: "A 'SQLAlchemy' instance has already been registered"
    assert app.extensions["sqlalchemy"] is portal_db
    migrate.upgrade(app)
    with app.app_context():
        tables = set(inspect(portal_db.engine).get_table_names())
    assert {"visits", "bridge_users", "bridge_alembic_version"} <= tables
    assert database_url(app) == f"sqlite:///{tmp_path}/p.db"


def test_an_explicit_host_db_is_used_and_its_metadata_stays_the_hosts(tmp_path):
    app, portal_db, _visit = _portal(tmp_path)
    MedshakeBridge(app, db=portal_db)
    migrate.upgrade(app)
    assert not any(name.startswith("bridge_") for name in portal_db.metadata.tables)
    with app.app_context():
        portal_db.create_all()  # the host's create_all never meets the bridge's tables
        create_user("alice", "correct horse battery", role="practitioner")
        assert db.session.scalar(select(User.login)) == "alice"


def test_a_bridge_commit_or_rollback_never_touches_the_hosts_pending_work(tmp_path):
    app, portal_db, visit = _portal(tmp_path)
    MedshakeBridge(app)
    migrate.upgrade(app)
    with app.app_context():
        portal_db.session.add(visit(note="pending in the portal"))
        create_user("bob", "correct horse battery", role="practitioner")  # bridge commits
        db.session.rollback()
        assert db.session is not portal_db.session
        portal_db.session.rollback()  # the portal changes its mind: its row must vanish
        assert portal_db.session.scalar(select(visit.note)) is None
        assert db.session.scalar(select(User.login)) == "bob"


def test_sqlite_pragmas_are_set_on_the_bridges_engine_only(tmp_path, make_app):
    app = make_app()
    migrate.upgrade(app)
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    other = create_engine(f"sqlite:///{tmp_path}/someone-else.db")
    with other.connect() as connection:  # an engine of the host process, not the bridge's
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "delete"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 0
    other.dispose()


def test_embedded_without_host_database_keeps_its_files_in_its_own_folder(tmp_path):
    instance = tmp_path / "portal-instance"
    instance.mkdir(mode=0o755)
    app = Flask("portal", instance_path=str(instance))
    app.config.update(SECRET_KEY="portal", MEDSHAKE_BRIDGE_SECRET_KEYS=[])
    MedshakeBridge(app)
    migrate.upgrade(app)
    assert instance.stat().st_mode & 0o777 == 0o755  # the host's folder is left as it was
    home = instance / "medshake_bridge"
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "medshake_bridge.db").stat().st_mode & 0o777 == 0o600
    sqlite3.connect(home / "medshake_bridge.db").close()


@pytest.mark.parametrize("name, kind, table, expected", [
    ("bridge_users", "table", "bridge_users", False),
    ("bridge_alembic_version", "table", "bridge_alembic_version", False),
    ("visits", "table", "visits", True),
    ("ix_bridge_users_login", "index", "bridge_users", False),
    ("ix_visits_note", "index", "visits", True),
])
def test_include_object_hides_bridge_tables_from_the_hosts_autogenerate(name, kind, table,
                                                                         expected):
    item = SimpleNamespace(name=name, table=SimpleNamespace(name=table))
    assert migrate.include_object(item, name, kind, True, None) is expected
