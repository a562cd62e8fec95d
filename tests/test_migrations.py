"""Migrations bring an empty database to head on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from medshake_bridge import migrate
from medshake_bridge.db import Base, db


def test_head_matches_the_models_on_every_database(db_app):
    assert migrate.current_revision(db_app) == migrate.head_revision()
    with db_app.app_context(), db.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert {"bridge_settings", "bridge_users", migrate.VERSION_TABLE} <= tables
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "version_table": migrate.VERSION_TABLE,
                  "include_object": migrate.for_dialect(connection.dialect.name)},
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_down_to_empty_and_up_again(make_app):
    app = make_app()
    assert migrate.upgrade(app) == migrate.head_revision()
    assert migrate.downgrade(app, "base") is None
    with app.app_context(), db.engine.connect() as connection:
        assert "bridge_settings" not in inspect(connection).get_table_names()
    assert migrate.upgrade(app) == migrate.head_revision()
