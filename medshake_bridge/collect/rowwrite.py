"""A processed message's row and its inbox documents written with two plain statements.

The unit of work of the ORM (a ``flush``) cost a collected message more than anything else
but the MIME walk: about a quarter of a pass-through message's processing CPU went to
deciding, for one UPDATE and one INSERT per message, what to write (issue 18, fourth pass;
the statements themselves took a twentieth of it). What is written is the same: the row's new
columns by one UPDATE (always the same columns, so the compiled statement is reused) and each
document by one INSERT with every column given (the columns' own defaults applied here), in
the caller's transaction. The caller commits; the documents' unique key still makes a second
processing of the message fail with :class:`~sqlalchemy.exc.IntegrityError` before its
commit, as it did at the flush.

The objects stay usable as if the ORM had written them: the row's attributes hold the new
values without being marked changed, and each document becomes a persistent object of the
session with its id (nothing left to load, ``document.message`` found in the session).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, insert, inspect, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage


@cache
def _row_update(keys: tuple[str, ...]) -> Any:
    """The UPDATE of a received message's columns named by ``keys`` (attribute names), made
    once per set of names: processing always passes the same names in the same order."""
    table: Table = ReceivedMessage.__table__  # type: ignore[assignment]
    mapper = inspect(ReceivedMessage)
    columns = {mapper.column_attrs[key].columns[0].name: bindparam(key) for key in keys}
    return update(table).where(table.c.id == bindparam("row_id")).values(columns)


@cache
def _document_columns() -> tuple[tuple[str, str, Any], ...]:
    """(attribute, column name, default) of every document column but the id."""
    mapper = inspect(InboxDocument)
    found = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key:
            continue
        found.append((attribute.key, column.name, column.default))
    return tuple(found)


@cache
def _document_insert() -> Any:
    table: Table = InboxDocument.__table__  # type: ignore[assignment]
    return insert(table)


def _default(default: Any) -> Any:
    if default is None:
        return None
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a no-argument default to take a context
    return default.arg


def update_processed(row: ReceivedMessage, values: dict[str, Any]) -> None:
    """UPDATE ``row`` with ``values`` (attribute name → value) in the current transaction; the
    row's attributes hold them after, unchanged for the ORM.

    The statement is built from the names given, never from a list kept beside the caller's: a
    value added by processing is written, and a name that is not a column raises ``KeyError``.
    """
    db.session.connection().execute(_row_update(tuple(values)), {"row_id": row.id, **values})
    for key, value in values.items():
        set_committed_value(row, key, value)


def insert_documents(documents: list[InboxDocument]) -> None:
    """INSERT ``documents`` (new, not in the session) in the current transaction; each gets
    its id and becomes a persistent object of the session."""
    connection = db.session.connection()
    columns = _document_columns()
    for document in documents:
        params = {}
        for key, name, default in columns:
            value = getattr(document, key)
            if value is None:  # what the ORM does: a column's default for a missing value
                value = _default(default)
                setattr(document, key, value)
            params[name] = value
        result = connection.execute(_document_insert(), params)
        document.id = result.inserted_primary_key[0]
        make_transient_to_detached(document)  # as if loaded: no INSERT at the next flush
        db.session.add(document)
