"""Forking processing processes from a collection, safely (issue 18).

Why processes: a message's own work (the MIME walk, the rows, the commit) holds the
interpreter lock, so processing threads in one process use one core however many there are.
Forked children each have their own interpreter; they share nothing with the parent but the
database and the files, which is all the pipeline's guarantees rest on (a message is processed
only while its row is ``stored``, its documents are kept once by their unique key).

Why only in some processes: a fork copies the forking thread alone. A lock another thread held
at that moment stays held for ever in the child, so :func:`can_fork_safely` says yes only when
the process runs no other thread (the ``fetch`` command, a queue worker's child), never in a web
server whose scheduler and request threads come and go.

Why the database connections are handled here: a connection copied into a child is the
parent's socket or file. Used there it mixes two conversations; closed there (garbage
collection) it can end the parent's session (PostgreSQL's client sends its goodbye). So the
parent gives its pooled connections back before forking (:func:`release_connections`), and
every pool refuses, in a child, a connection made by another process
(:func:`guard_connection_pools`): the child opens its own and keeps the inherited one
untouched until it exits.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.pool import Pool

# Connections a child refused: kept referenced so that no garbage collection closes them (a
# child exits with os._exit, which runs no finaliser).
_INHERITED: list[Any] = []
_GUARD_LOCK = threading.Lock()
_guarded = False
_in_child = False  # set by :func:`started_in_child`
_guard_pid = 0  # the process that installed the guard


def fork_supported() -> bool:
    """Whether this platform starts processes by ``fork`` (Linux and the BSDs; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def can_fork_safely() -> bool:
    """Fork is supported and this process runs no thread but the current one (see the
    module's docstring)."""
    return fork_supported() and threading.active_count() == 1


def fork_context() -> Any:
    """The ``fork`` start method's context (the children inherit the app, its plugins, the
    mailbox's plan and settings: nothing is imported or configured again)."""
    guard_connection_pools()
    return multiprocessing.get_context("fork")


def release_connections(db: Any) -> None:
    """Before forking: end the session's transaction and close the pooled connections of the
    bridge's engine, so that the children inherit none (each opens its own)."""
    db.session.commit()
    db.engine.dispose()


def guard_connection_pools() -> None:
    """Make every SQLAlchemy pool (the bridge's and any plugin's) refuse a connection that
    another process opened; once per process, before the first fork."""
    global _guarded
    with _GUARD_LOCK:
        if _guarded:
            return
        global _guard_pid
        _guard_pid = os.getpid()
        event.listen(Pool, "connect", _remember_owner)
        event.listen(Pool, "checkout", _refuse_inherited)
        _guarded = True


def _remember_owner(dbapi_connection: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _refuse_inherited(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    pid = os.getpid()
    owner = record.info.get("pid")
    if owner is None:  # opened before the guard existed: in a forked child, by an ancestor
        owner = record.info["pid"] = 0 if _in_child or pid != _guard_pid else pid
    if owner != pid:
        _INHERITED.append(dbapi_connection)
        record.dbapi_connection = proxy.dbapi_connection = None
        raise exc.DisconnectionError(
            f"connection opened by process {owner}, not this one ({pid}): a new one is made")


def started_in_child() -> None:
    """First thing a forked child does: from now on a pooled connection whose maker is not
    known was inherited."""
    global _in_child
    _in_child = True


def parent_is_gone(parent_pid: int) -> bool:
    """Whether the process that forked this one has ended (this one was handed to init):
    a child then stops instead of waiting for work that will never come."""
    return os.getppid() != parent_pid
