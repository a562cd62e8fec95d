"""A throwaway PostgreSQL database for one benchmark run (the machine's server, trust auth).

Benchmarks fill 100,000 to 1,000,000 rows: each run gets a database of its own, dropped on the
way out even after Ctrl+C, so no run reads another's rows and none is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<time>``, yield its SQLAlchemy URL, drop it (with its connections)."""
    name = f"{prefix}_{int(time.time())}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def filled_postgres_app(prefix: str, folder: Path, fill: Callable[[Any, int], None],
                        count: int) -> Iterator[Any]:
    """A bridge app on a scratch database, migrated, filled with ``fill(app, count)`` and
    analysed (so the planner sees the real row counts), its connections closed on the way out."""
    from medshake_bridge import create_app, migrate
    from medshake_bridge.db import db

    with scratch_postgres(prefix) as url:
        app = create_app({"INSTANCE_PATH": str(folder), "MEDSHAKE_BRIDGE_DATABASE_URL": url})
        migrate.upgrade(app)
        fill(app, count)
        with app.app_context():
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
