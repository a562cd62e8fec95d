"""On SQLite, the inbox search answers a rare word from an FTS5 trigram index (migration
0020) instead of reading every document; it finds the same documents as the plain ``LIKE``,
follows every change of a document through triggers, and migration 0020 goes down and up.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from flask import g
from sqlalchemy import delete, event, select, text, update
from test_inbox_triage import PASSWORD
from web_helpers import login

from medshake_bridge import migrate
from medshake_bridge.db import db
from medshake_bridge.inbox import search_index
from medshake_bridge.inbox.filters import InboxFilter
from medshake_bridge.models.mail import InboxDocument, Mailbox, ReceivedMessage
from medshake_bridge.search_text import search_text
from medshake_bridge.users import create_user

pytestmark = pytest.mark.skipif(sqlite3.sqlite_version_info < (3, 34),
                                reason="FTS5's trigram tokenizer needs SQLite 3.34")

NAMES = ["DUPONT", "DUPONTEL", "MARTIN", "LEFÈVRE", "O'BRIEN", "DURAND", "PATIENT42",
         "PATIENT420", "PATIENT4", "LI", "50%", "A_B"]


def _fill(app, count: int = 300) -> int:
    """``count`` documents of one owner, names cycling through :data:`NAMES`."""
    with app.app_context():
        owner = create_user("bob", PASSWORD, role="practitioner").id
        mailbox = Mailbox(key="k", collector="pop3", host="h", port=110, login="l")
        db.session.add(mailbox)
        db.session.flush()
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for number in range(count):
            last = NAMES[number % len(NAMES)]
            message = ReceivedMessage(mailbox_id=mailbox.id, server_id=f"s{number}",
                                      message_id_header=f"<m{number}>", sha256="0" * 64,
                                      size=1, raw_path="/dev/null", state="processed",
                                      subject="Résultats", from_address="labo@x.org")
            db.session.add(message)
            db.session.flush()
            db.session.add(InboxDocument(
                message_id=message.id, owner_user_id=owner, has_header=True,
                patient_last_name=last, patient_first_name="Zoé", sender_name="LABO",
                created_at=start + dt.timedelta(minutes=number),
                search_text=search_text(last_name=last, first_name="Zoé", sender_name="LABO",
                                        subject="Résultats", from_address="labo@x.org")))
        db.session.commit()
        return owner


def _found(owner: int, words: str, *, indexed: bool) -> list[int]:
    """Ids the search finds, with the index (when it can answer) or with ``LIKE`` alone."""
    g.pop("_bridge_inbox_search_ready", None)
    if not indexed:
        g._bridge_inbox_search_ready = False
    try:
        return sorted(db.session.scalars(select(InboxDocument.id).where(
            InboxFilter(q=words).condition(owner))))
    finally:
        g.pop("_bridge_inbox_search_ready", None)


WORDS = ["dupont", "DUPONT", "dupontel", "lefevre", "Lefèvre", "o'brien", "patient42",
         "patient4", "atient4", "li", "50%", "a_b", "zoe dupont", "pa", "zz", "zoé",
         "x.org", "nobody", '"dupont"', "dupont'", "résultats", "labo"]


def test_the_index_finds_what_the_like_finds(app):
    owner = _fill(app)
    with app.test_request_context():
        assert search_index.sqlite_index_ready()
        for words in WORDS:
            assert _found(owner, words, indexed=True) == _found(owner, words, indexed=False), \
                words
        assert len(_found(owner, "patient42", indexed=True)) == 50  # PATIENT42 and PATIENT420
        assert _found(owner, "nobody", indexed=True) == []


def _statements(app, client, url: str) -> list[tuple[str, object]]:
    sent: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    return sent


def test_a_rare_word_is_read_by_id_not_by_walking_the_inbox(app):
    """The page asks the FTS table, then reads the documents it found by id: no statement of
    the page walks the listing index (what the search did without the index)."""
    owner = _fill(app, 600)
    client = app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    sent = _statements(app, client, "/inbox/?q=lefevre")
    assert any("bridge_inbox_search MATCH" in statement for statement, _ in sent), sent
    listing = [(statement, parameters) for statement, parameters in sent
               if "FROM bridge_inbox_documents" in statement and "search_text LIKE" in statement]
    assert listing, sent
    with app.app_context():
        connection = db.session.connection()
        for statement, parameters in listing:
            plan = [row[3] for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters).all()]
            # (the unread badge's count walks the covering index: it does not search)
            searched = [line for line in plan if "bridge_inbox_documents" in line
                        and "COVERING INDEX" not in line]
            assert searched and all("INTEGER PRIMARY KEY" in line for line in searched), plan
    page = client.get("/inbox/?q=lefevre").get_data(as_text=True)
    assert page.count("data-document=") == 50
    with app.app_context():
        assert _count_like(owner, "lefevre") == 50


def _count_like(owner: int, word: str) -> int:
    return len(db.session.scalars(select(InboxDocument.id).where(
        InboxDocument.owner_user_id == owner,
        InboxDocument.search_text.like(f"%{word}%"))).all())


def test_a_common_or_short_word_keeps_the_plain_like(app):
    """A word in most documents (or of two letters) walks the listing index in order, which
    finds a page of them at once; reading thousands of rows by id would be slower."""
    owner = _fill(app, 60)
    with app.test_request_context():
        assert search_index.containing("labo") is not None  # 60 documents: few
        assert search_index.containing("pa") is None  # no trigram in two letters
        original = search_index.MAX_CANDIDATES
        search_index.MAX_CANDIDATES = 10
        try:
            assert search_index.containing("labo") is None
            assert len(_found(owner, "labo", indexed=True)) == 60
        finally:
            search_index.MAX_CANDIDATES = original


def test_triggers_keep_the_index_in_step(app):
    owner = _fill(app, 24)
    with app.test_request_context():
        martin = _found(owner, "martin", indexed=True)
        assert len(martin) == 2
        renamed = search_text(last_name="BERNARD", first_name="Zoé")
        db.session.execute(update(InboxDocument).where(InboxDocument.id == martin[0])
                           .values(search_text=renamed))
        db.session.execute(delete(InboxDocument).where(InboxDocument.id == martin[1]))
        db.session.commit()
        assert _found(owner, "martin", indexed=True) == []
        assert _found(owner, "bernard", indexed=True) == [martin[0]]
        check = db.session.execute(text(
            "INSERT INTO bridge_inbox_search(bridge_inbox_search, rank) "
            "VALUES ('integrity-check', 1)"))
        assert check is not None  # raises when the index and the documents disagree


def test_migration_0020_goes_down_and_up_and_indexes_what_came_meanwhile(make_app):
    app = make_app()
    migrate.upgrade(app)
    owner = _fill(app, 24)
    assert migrate.downgrade(app, "0019") == "0019"
    with app.app_context():
        names = set(db.session.scalars(text(
            "SELECT name FROM sqlite_master WHERE name LIKE 'bridge_inbox_search%'")))
        assert names == set()
        stats = db.session.execute(text(
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_bridge_inbox_documents_listing'"))
        assert stats.all() == []
        db.session.execute(update(InboxDocument).where(InboxDocument.id == 1).values(
            search_text=search_text(last_name="NOUVEAU")))
        db.session.commit()
    with app.test_request_context():
        assert not search_index.sqlite_index_ready()
        assert _found(owner, "nouveau", indexed=True) == [1]  # the LIKE, without the index
    assert migrate.upgrade(app) == "0020"
    with app.test_request_context():
        assert search_index.sqlite_index_ready()
        assert search_index.containing("nouveau") == [1]
        assert _found(owner, "dupont", indexed=True) == _found(owner, "dupont", indexed=False)
