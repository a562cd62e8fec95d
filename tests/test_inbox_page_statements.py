"""The inbox list asks the database a fixed number of statements, however many lines it shows:
no statement per line, every count in one statement (each statement is a round trip, a plan
and SQLAlchemy's work: on PostgreSQL at 1,000,000 documents they were most of the page)."""

from __future__ import annotations

import re

from sqlalchemy import event, select, text
from test_inbox_search_sqlite import _fill, _statements
from test_inbox_triage import PASSWORD
from web_helpers import login

from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.reads import DocumentRead
from medshake_bridge.models.settings import utcnow
from medshake_bridge.users import create_user


def _sent(app, client, url: str) -> list[str]:
    """The page's statements, but the hook guard's list of suspended plugins, which any page
    reads again once 5 seconds have passed (``SUSPENSIONS_TTL``): not the list's own."""
    return [statement for statement, _parameters in _statements(app, client, url)
            if "FROM bridge_plugin_suspensions" not in statement]


PAGE_STATEMENTS = 6
"""A practitioner's first list page: the session's user, the delegation setting, the lines with
every count, their readings, the mailboxes with their waiting mail, the collection task. (10
before issue 18's second PostgreSQL pass: the delegation setting read twice, the counts apart
from the lines, the owners' names asked for the person looking, the waiting mail apart from
the mailboxes.)"""


def test_the_list_asks_the_same_few_statements_for_2_or_50_lines(make_db_app):
    app = make_db_app()
    owner = _fill(app, 2)
    client = app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    client.get("/inbox/")  # first page of the session: settings rows made, caches filled
    few = _sent(app, client, "/inbox/")
    with app.app_context():
        sophie = create_user("sophie", PASSWORD, role="secretary").id
    _fill_more(app, owner, sophie)
    many = _sent(app, client, "/inbox/")
    assert client.get("/inbox/").get_data(as_text=True).count("data-seen-by") == 10
    assert len(many) == len(few) <= PAGE_STATEMENTS, many
    counting = [statement for statement in many
                if "count(*)" in statement and "bridge_inbox_documents" in statement]
    assert len(counting) == 1, counting  # the lines, the tabs, the listed state, the badge
    # further pages ask the counts apart (a page past the end would count twice)
    assert len(_sent(app, client, "/inbox/?page=2")) == PAGE_STATEMENTS + 1
    # a tab without lines asks its counts apart, and shows them
    empty = _sent(app, client, "/inbox/?state=filed")
    assert len(empty) == PAGE_STATEMENTS, empty
    tabs = re.findall(r'data-tab="(\w+)">.*?<span class="count">(\d+)</span>',
                      client.get("/inbox/?state=filed").get_data(as_text=True), re.S)
    assert tabs == [("new", "62"), ("filed", "0"), ("removed", "0")], tabs
    for url in ("/inbox/", "/inbox/?page=2", "/inbox/?page=9"):  # full, 12 lines, past the end
        tabs = re.findall(r'data-tab="(\w+)">.*?<span class="count">(\d+)</span>',
                          client.get(url).get_data(as_text=True), re.S)
        assert tabs == [("new", "62"), ("filed", "0"), ("removed", "0")], (url, tabs)
    # a search on SQLite: the index's presence, then the ids of a rare word's documents
    filtered = _sent(app, client, "/inbox/?q=dupont")
    extra = 2 if db_app_is_sqlite(app) else 0
    assert len(filtered) == len(few) + extra, filtered


def _fill_more(app, owner: int, reader: int) -> None:
    """60 more documents (a full page); another person opened 10 of them."""
    with app.app_context():
        template = db.session.scalars(select(InboxDocument).where(
            InboxDocument.owner_user_id == owner).order_by(InboxDocument.id)).first()
        added = [InboxDocument(
            message_id=template.message_id, owner_user_id=owner, position=number + 1,
            has_header=True, patient_last_name=f"DUPONT{number}",
            created_at=template.created_at, search_text=f"dupont{number}")
            for number in range(60)]
        db.session.add_all(added)
        db.session.flush()
        now = utcnow()
        for document in sorted(added, key=lambda added: added.id)[-10:]:  # on the first page
            db.session.add(DocumentRead(document_id=document.id, user_id=reader,
                                        first_read_at=now, last_read_at=now))
        db.session.commit()


def db_app_is_sqlite(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def test_the_waiting_mail_banner_reads_failed_messages_by_index_after_an_analyze(app):
    """With statistics of a big, analysed SQLite (every message "processed"), the banner's
    query still reads the failed messages through the state's index, not every message."""
    _fill(app, 2)
    with app.app_context():
        db.session.execute(text("ANALYZE sqlite_schema"))
        db.session.execute(text(
            "INSERT INTO sqlite_stat1 VALUES ('bridge_received_messages', "
            "'ix_bridge_received_messages_state', '1000000 1000000'), "
            "('bridge_received_messages', 'sqlite_autoindex_bridge_received_messages_1', "
            "'1000000 1000000 1')"))
        db.session.commit()
        db.engine.dispose()  # new connections read the statistics
    client = app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    with app.app_context():
        engine = db.engine
    plans: list[list[str]] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY bridge_received_messages.mailbox_id" in statement:
            plans.append([row[3] for row in cursor.connection.execute(
                f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()])

    event.listen(engine, "before_cursor_execute", explain)
    try:
        assert client.get("/inbox/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", explain)
    assert plans and "ix_bridge_received_messages_state" in " ".join(plans[0]), plans
