"""Column changes the bridge's migrations make *in place* on SQLite.

Alembic's batch mode rebuilds a SQLite table (copy, drop, rename) to drop or rename a column;
once rows exist, the tables whose foreign keys point at the rebuilt one make that fail. SQLite
renames (3.25) and drops (3.35) columns in place, so these helpers use that there and Alembic's
plain operations on PostgreSQL and MariaDB.

Migrations that were released call these: change their behaviour only by adding a new helper.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def drop_column(table: str, column: str) -> None:
    """Drop ``table.column`` (in place on SQLite)."""
    if _sqlite():
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)


def rename_column(table: str, old: str, new: str, *, existing_type: sa.types.TypeEngine,
                  existing_nullable: bool) -> None:
    """Rename ``table.old`` to ``new`` (in place on SQLite; MariaDB needs the column's type)."""
    if _sqlite():
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    else:
        op.alter_column(table, old, new_column_name=new, existing_type=existing_type,
                        existing_nullable=existing_nullable)
