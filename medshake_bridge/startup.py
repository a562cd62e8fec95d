"""The start-up of a short command: no cyclic garbage collection while it builds its app.

Importing SQLAlchemy, the models and the plugins and building the app make about 130,000
objects that live as long as the process. Python's cyclic garbage collector walked them again
and again while they were being made: in a ``medshake-bridge fetch`` of an empty mailbox, 209
young, 19 middle and one full collection, 47 to 78 ms of CPU out of 0.6 to 0.7 s (timed with
``gc.callbacks``, issue 18); with the pause, 69 collections (while Flask is imported, before
the command is known) and about 10 ms. ``medshake-bridge fetch`` and
``send`` (:data:`~medshake_bridge.lazy_cli.COLLECTION_ONLY`), run as the program, pause the
collector from the moment the command is known until their app is built, then move what is
alive to the permanent generation (:func:`gc.freeze`, which Python's documentation describes
for a server's start-up objects) and collect as usual: the collections made during the run (one
per 700 new container objects) no longer walk the app either.

Only the program's own start-up is paused (``main()`` called without arguments, as the console
script does): a test or a host that calls the command line in its own process is left alone.
What the pause leaves uncollected is the start-up's own cyclic garbage, made once: 73 objects
(about 20 KB) when measured.

Frozen objects are not collected when the interpreter exits either, which also spares the
exit the walk over them (about 0.12 s of CPU measured, issue 18). The one resource among them
that the exit's collection used to release (the objects with a finalizer alive at the freeze:
the standard streams, the SQLite connection and its statements, a click context manager) is
the app's pool of database connections (SQLite
then checkpoints and removes its ``-wal`` and ``-shm`` files; a server sees the connection
closed properly): :func:`start_up_done` closes it at exit explicitly.
"""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_paused = False  # this module paused the collector and has not resumed it yet


def pause_collection() -> None:
    """Pause the cyclic garbage collector for the start-up, if it runs."""
    global _paused
    if not _paused and gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection(*, freeze: bool) -> None:
    """Resume what :func:`pause_collection` paused (nothing otherwise). ``freeze``: the app is
    built, what is alive now lives as long as the process and no collection walks it again."""
    global _paused
    if not _paused:
        return
    _paused = False
    if freeze:
        gc.freeze()
    gc.enable()


def start_up_done(app: Flask) -> None:
    """``app`` is built: end the pause (if :func:`pause_collection` made one) freezing what is
    alive, and close ``app``'s pooled database connections when the program exits, as the
    exit's garbage collection did before the freeze."""
    if not _paused:
        return
    resume_collection(freeze=True)
    atexit.register(close_database, app)


def close_database(app: Flask) -> None:
    """Close the pooled connections of ``app``'s bridge engine, if it built one and owns it."""
    from medshake_bridge.db import app_database

    database = app_database(app)
    if database.owned and database.engine is not None:
        database.engine.dispose()


def collection_paused() -> bool:
    """Whether the start-up pause is on (for tests)."""
    return _paused
