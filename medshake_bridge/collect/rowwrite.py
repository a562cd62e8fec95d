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
def _columns(model: type) -> tuple[tuple[str, str, Any], ...]:
    """(attribute, column name, default) of every column of ``model`` but its id."""
    mapper = inspect(model)
    found = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key:
            continue
        found.append((attribute.key, column.name, column.default))
    return tuple(found)


@cache
def _insert(model: type, many: bool) -> Any:
    """INSERT of every column but the id. ``many``: giving back the ids in the order of the
    rows (one statement for many rows where the database can, as the ORM's flush does); one
    row: its id as the driver gives it (``lastrowid`` on SQLite, cheaper than RETURNING)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return insert(table).returning(table.c.id, sort_by_parameter_order=True) if many \
        else insert(table)


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
    insert_new(InboxDocument, documents)


def insert_new(model: type, objects: list[Any]) -> None:
    """INSERT ``objects`` (new ``model`` objects, not in the session) in the current
    transaction; each gets its id and becomes a persistent object of the session.

    The collection's reader stores its messages' rows this way by batches (issue 18, fifth
    pass: the ORM's flush of a batch was a fifth of the reading thread's time)."""
    if not objects:
        return
    columns = _columns(model)
    rows = []
    for item in objects:
        # The instance's own dict, not its attributes: each attribute read or write goes
        # through the ORM's instrumentation (a fifth of a document's insert). Before
        # make_transient_to_detached below, what the dict holds is what the object is.
        values = item.__dict__
        params = {}
        for key, name, default in columns:
            value = values.get(key)
            if value is None:  # what the ORM does: a column's default for a missing value
                value = values[key] = _default(default)
            params[name] = value
        rows.append(params)
    connection = db.session.connection()
    if len(rows) == 1:
        ids = list(connection.execute(_insert(model, False), rows[0]).inserted_primary_key)
    else:
        ids = connection.execute(_insert(model, True), rows).scalars().all()
    for item, new_id in zip(objects, ids, strict=True):
        item.id = new_id
        make_transient_to_detached(item)  # as if loaded: no INSERT at the next flush
        db.session.add(item)
