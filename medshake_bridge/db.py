"""The one SQLAlchemy handle shared by the host and its plugins.

A host portal that already uses Flask-SQLAlchemy keeps its own ``db``; ours is a separate
extension instance bound to the same app, so the bridge's tables live in their own metadata and
Alembic history. Constraint names follow a fixed convention so migrations are identical on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
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
