"""The inbox's search text indexed on SQLite: an FTS5 table with the trigram tokenizer over
``bridge_inbox_documents.search_text``, kept in step by triggers (SQLite only; needs SQLite
3.34 or later built with FTS5, else nothing is made and the search keeps scanning)

A later migration that rebuilds ``bridge_inbox_documents`` on SQLite (Alembic's batch mode
copies the table and drops the old one, and its triggers with it) must make the triggers
again; until it does, the search does not use the index (it checks that the triggers exist).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

DOCUMENTS = "bridge_inbox_documents"
LISTING = "ix_bridge_inbox_documents_listing"
# rows, rows per owner, per owner and state, per owner, state and instant
LISTING_STAT = "1000000 100000 30000 2"
# External content: the index reads the text from the documents' table (not stored twice).
CREATE = [
    "CREATE VIRTUAL TABLE bridge_inbox_search USING fts5(search_text, "
    "content='bridge_inbox_documents', content_rowid='id', tokenize='trigram')",
    "INSERT INTO bridge_inbox_search(bridge_inbox_search) VALUES ('rebuild')",
    "CREATE TRIGGER bridge_inbox_search_insert AFTER INSERT ON bridge_inbox_documents BEGIN "
    "INSERT INTO bridge_inbox_search(rowid, search_text) VALUES (new.id, new.search_text); "
    "END",
    "CREATE TRIGGER bridge_inbox_search_delete AFTER DELETE ON bridge_inbox_documents BEGIN "
    "INSERT INTO bridge_inbox_search(bridge_inbox_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER bridge_inbox_search_update AFTER UPDATE OF search_text "
    "ON bridge_inbox_documents BEGIN "
    "INSERT INTO bridge_inbox_search(bridge_inbox_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO bridge_inbox_search(rowid, search_text) VALUES (new.id, new.search_text); "
    "END",
]
DROP = [
    "DROP TRIGGER IF EXISTS bridge_inbox_search_insert",
    "DROP TRIGGER IF EXISTS bridge_inbox_search_delete",
    "DROP TRIGGER IF EXISTS bridge_inbox_search_update",
    "DROP TABLE IF EXISTS bridge_inbox_search",
]
log = logging.getLogger(__name__)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite" or not _trigram_available():
        return
    for statement in CREATE:
        op.execute(statement)
    _listing_statistics()


def _trigram_available() -> bool:
    connection = op.get_bind()
    savepoint = connection.begin_nested()
    try:
        connection.execute(sa.text(
            "CREATE VIRTUAL TABLE temp.bridge_trigram_probe USING fts5(x, tokenize='trigram')"))
        connection.execute(sa.text("DROP TABLE temp.bridge_trigram_probe"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        log.warning("This SQLite (%s) has no FTS5 trigram tokenizer (3.34 or later built "
                    "with FTS5 is needed): the inbox search will scan the documents.",
                    sqlite3.sqlite_version)
        return False
    savepoint.commit()
    return True


def _listing_statistics() -> None:
    """Tell SQLite's planner that one person's documents in one state are many.

    Without statistics (the bridge never runs ``ANALYZE``) SQLite guesses that the listing
    index's first two columns narrow the table to about ten rows, so a search that found 11
    documents by id still walked that index through the whole inbox. One row of
    ``sqlite_stat1`` with the shape of a big inbox (documents of one owner and one state:
    thousands) makes it read the 11 rows by id; the plain list keeps its index. A real
    ``ANALYZE`` later replaces the row with measured figures, which say the same on a big
    inbox. ``ANALYZE sqlite_schema`` analyses no table of ours: it makes the statistics table
    when it is missing, and makes the connection load the statistics again.
    """
    connection = op.get_bind()
    connection.execute(sa.text("ANALYZE sqlite_schema"))
    known = connection.execute(sa.text(
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = :table AND idx = :index"),
        {"table": DOCUMENTS, "index": LISTING}).scalar()
    if not known:
        connection.execute(sa.text("INSERT INTO sqlite_stat1 (tbl, idx, stat) "
                                   "VALUES (:table, :index, :stat)"),
                           {"table": DOCUMENTS, "index": LISTING, "stat": LISTING_STAT})
    connection.execute(sa.text("ANALYZE sqlite_schema"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in DROP:
        op.execute(statement)
    connection = op.get_bind()
    if connection.execute(sa.text(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar():
        connection.execute(sa.text(
            "DELETE FROM sqlite_stat1 WHERE tbl = :table AND idx = :index AND stat = :stat"),
            {"table": DOCUMENTS, "index": LISTING, "stat": LISTING_STAT})
