"""The inbox search on SQLite through an FTS5 trigram index (migration 0020).

A word of the search box is looked for with ``search_text LIKE '%word%'``; PostgreSQL answers
that from its trigram index (migration 0019), but SQLite has no index for a ``LIKE`` with a
leading ``%``, so a one-patient search read every document of the inbox (1.4 s at 1,000,000
documents). Migration 0020 adds, on SQLite only, an FTS5 table with the ``trigram`` tokenizer
over ``search_text`` (external content: the text is not stored twice), kept in step by
triggers. A word of 3 characters or more then also asks the FTS table for the documents
whose text contains it: a phrase of trigrams matches exactly the texts that contain the word,
and the ``LIKE`` stays in the condition, so the documents found are the same as without the
index. Shorter words have no trigram: they keep the plain ``LIKE``.

The index is used only when the table and its three triggers are all there (an older
database, a SQLite without FTS5, or a later rebuild of the documents' table that dropped the
triggers all fall back to the ``LIKE``, which is always right).
"""

from __future__ import annotations

from flask import g, has_app_context
from sqlalchemy import column, select, table, text

from medshake_bridge.db import db

FTS_TABLE = "bridge_inbox_search"
TRIGGERS = (f"{FTS_TABLE}_insert", f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update")
MIN_LENGTH = 3  # a trigram index cannot answer a shorter word
# Past this many documents a word is common: walking the listing index in order and testing
# the LIKE finds a page of them sooner than reading each of their rows by id. Reading the
# ids costs about 10 µs each (a word in every one of 1,000,000 documents: 8 ms for 500).
MAX_CANDIDATES = 500
_READY = "_bridge_inbox_search_ready"

search_rows = table(FTS_TABLE, column("rowid"), column("search_text"))


def sqlite_index_ready() -> bool:
    """True on SQLite when the FTS table and its triggers exist (checked once per request)."""
    if not has_app_context() or db.engine.dialect.name != "sqlite":
        return False
    if _READY in g:
        return bool(g.get(_READY))
    names = set(db.session.scalars(
        text("SELECT name FROM sqlite_master WHERE name IN (:a, :b, :c, :d)"),
        {"a": FTS_TABLE, "b": TRIGGERS[0], "c": TRIGGERS[1], "d": TRIGGERS[2]}))
    ready = names == {FTS_TABLE, *TRIGGERS}
    setattr(g, _READY, ready)
    return ready


def phrase(folded_word: str) -> str:
    """An FTS5 phrase matching the word as typed (quotes doubled, nothing else special)."""
    return '"' + folded_word.replace('"', '""') + '"'


def containing(folded_word: str) -> list[int] | None:
    """Ids of the documents whose search text contains ``folded_word``, when they are few;
    ``None`` when the index cannot answer (too short a word, not SQLite, no index) or when
    the word is common (more than :data:`MAX_CANDIDATES` documents).

    The ids are read first, then given to the list as ``id IN (…)``: SQLite's planner cannot
    tell how many documents an FTS query finds, and with a sub-query it kept walking the
    listing index; with the ids it reads those rows only. A common word ("jeanne" in every
    document) is better served by that walk, which stops after a page of matches: the
    ``LIKE`` alone does it, as before this index.
    """
    if len(folded_word) < MIN_LENGTH or not sqlite_index_ready():
        return None
    found = list(db.session.scalars(
        select(search_rows.c.rowid).where(text(f"{FTS_TABLE} MATCH :phrase").bindparams(
            phrase=phrase(folded_word))).limit(MAX_CANDIDATES + 1)))
    return found if len(found) <= MAX_CANDIDATES else None
