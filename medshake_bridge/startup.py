"""The start-up of a short command: no cyclic garbage collection while it builds its app.

Importing SQLAlchemy, the models and the plugins and building the app make about 130,000
objects that live as long as the process. Python's cyclic garbage collector walked them again
and again while they were being made: in a ``medshake-bridge fetch`` of an empty mailbox, 189
young and middle collections and one full one, 40 to 78 ms of CPU out of 0.6 to 0.7 s (timed
with ``gc.callbacks``, issue 18); with the pause, 69 collections (while Flask is imported,
before the command is known) and about 10 ms. ``medshake-bridge fetch`` and
``send`` (:data:`~medshake_bridge.lazy_cli.COLLECTION_ONLY`), run as the program, pause the
collector from the moment the command is known until their app is built, then move what is
alive to the permanent generation (:func:`gc.freeze`, which Python's documentation describes
for a server's start-up objects) and collect as usual: the collections made during the run (one
per 700 new container objects) no longer walk the app either.

Only the program's own start-up is paused (``main()`` called without arguments, as the console
script does): a test or a host that calls the command line in its own process is left alone.
What the pause leaves uncollected is the start-up's own cyclic garbage, made once: 73 objects
(about 20 KB) when measured.
"""

from __future__ import annotations

import gc

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


def collection_paused() -> bool:
    """Whether the start-up pause is on (for tests)."""
    return _paused
