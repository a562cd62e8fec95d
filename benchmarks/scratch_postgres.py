"""A throwaway PostgreSQL database for one benchmark run (the machine's server, trust auth).

Benchmarks fill 100,000 to 1,000,000 rows: each run gets a database of its own, dropped on the
way out even after Ctrl+C, so no run reads another's rows and none is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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
