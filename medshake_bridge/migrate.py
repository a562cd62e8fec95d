"""Schema migrations (Alembic), run from Python so the CLI and the tests share one path.

The bridge keeps its own version table (``bridge_alembic_version``), so it can live in a host's
database beside the host's own Alembic history.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from medshake_bridge.db import db

VERSION_TABLE = "bridge_alembic_version"
# SQLite's FTS5 table of the inbox search (migration 0020) and the tables SQLite keeps for it
SQLITE_SEARCH_TABLES = frozenset({"bridge_inbox_search", *(
    f"bridge_inbox_search_{suffix}" for suffix in ("data", "idx", "docsize", "config"))})
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(app: Flask, revision: str = "head") -> str | None:
    """Bring the app's database to ``revision``; returns the revision reached."""
    config = alembic_config()
    with app.app_context(), db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(app)


def downgrade(app: Flask, revision: str) -> str | None:
    config = alembic_config()
    with app.app_context(), db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    return current_revision(app)


def current_revision(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """For a host's Alembic/Flask-Migrate ``include_object``: leave the bridge's tables alone.

    The bridge migrates its own ``bridge_*`` tables (with its own version table); without this
    filter the host's autogenerate would see them in the database, not in the host's models, and
    write a migration that drops them.
    """
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not str(table or "").startswith("bridge_")


def for_dialect(dialect_name: str) -> Callable[..., bool]:
    """An ``include_object`` for comparing the models with a database of ``dialect_name``:
    leaves out what the models declare for another database only (``Index.ddl_if``), such as
    the inbox's PostgreSQL trigram index, which SQLite and MariaDB never get, and the tables
    of SQLite's inbox search index (migration 0020: an FTS5 table and those SQLite makes for
    it), which no model declares."""

    def include(obj: object, name: str | None, type_: str, reflected: bool,
                compare_to: object) -> bool:
        if type_ == "table" and reflected and compare_to is None \
                and str(name or "") in SQLITE_SEARCH_TABLES:
            return False
        condition = getattr(obj, "_ddl_if", None)
        wanted = getattr(condition, "dialect", None)
        return not (type_ == "index" and wanted and wanted != dialect_name)

    return include
