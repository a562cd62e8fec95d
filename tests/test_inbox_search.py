"""The inbox's search box looks in one folded column (``search_text``): without regard to case
or accents, in names, birth date, sender, subject and address; PostgreSQL answers it from a
trigram index (migration 0019), and the migration fills the column of documents already there.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import MetaData, Table, event, insert, inspect, select, text
from test_inbox_results import lab
from test_inbox_triage import LETTER, PASSWORD, _lines
from web_helpers import login

from medshake_bridge import migrate
from medshake_bridge.db import db
from medshake_bridge.inbox.filters import InboxFilter
from medshake_bridge.models.mail import SEARCH_INDEX, InboxDocument, Mailbox, ReceivedMessage
from medshake_bridge.search_text import fold, search_text
from medshake_bridge.users import create_user


def test_fold_and_search_text():
    assert fold("  Hélène   DUPONT-Étienne ") == "helene dupont-etienne"
    assert fold("ŒUF Straße Lætitia") == "oeuf strasse laetitia"
    stored = search_text(last_name="DUPONT-ÉTIENNE", first_name="Hélène",
                         birth_date=dt.date(1961, 3, 12), sender_name="LABO CENTRAL",
                         subject="Résultats", from_address="labo@Exemple.org")
    assert stored == ("dupont-etienne helene labo central resultats labo@exemple.org "
                      "12/03/1961 1961-03-12")


@pytest.fixture
def searchable(world):
    world.deliver(world.mail(text=lab("02/11/2026", "RES|Potassium|K|N|4,1|mmol/l|3,5|5,0|N|F\n",
                                      last="DUPONT-ÉTIENNE"), subject="Résultats urgents"))
    world.deliver(world.mail(text=LETTER, subject="Consultation"))
    assert world.collect().ok
    client = world.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    world.client = client
    return world


def test_search_ignores_accents_and_case_and_looks_in_subject_and_address(searchable):
    client = searchable.client
    for query in ("q=etienne", "q=ÉTIENNE", "q=Étienne+jeanne", "q=resultats+URGENTS",
                  "q=12/3/1961", "q=1961-03-12"):
        lines = _lines(client, query)
        assert len(lines) == 1 and "DUPONT-ÉTIENNE" in lines[0].replace("&#201;", "É"), query
    assert ["MARTIN" in line for line in _lines(client, "q=consultation")] == [True]
    # the address the mail came from (the sandbox's sender) finds both
    assert len(_lines(client, "q=alice")) == 2
    assert _lines(client, "q=etienne+consultation") == []
    assert _lines(client, "q=50%25") == []  # a "%" is a character, not a wildcard


def test_quotes_percent_and_backslash_are_searched_as_typed_on_every_database(db_app):
    with db_app.app_context():
        owner = create_user("bob", PASSWORD, role="practitioner").id
        mailbox = Mailbox(key="k", collector="pop3", host="h", port=110, login="l")
        db.session.add(mailbox)
        db.session.flush()
        texts = ["o'brien 50% a\\b", "obrien 500 ab", "d'artagnan"]
        for number, stored in enumerate(texts, start=1):
            message = ReceivedMessage(mailbox_id=mailbox.id, server_id=f"s{number}",
                                      message_id_header=f"<m{number}>", sha256="0" * 64,
                                      size=1, raw_path="/dev/null", state="processed")
            db.session.add(message)
            db.session.flush()
            db.session.add(InboxDocument(message_id=message.id, owner_user_id=owner,
                                         search_text=stored))
        db.session.commit()

        def found(words: str) -> list[str]:
            return sorted(db.session.scalars(select(InboxDocument.search_text).where(
                InboxFilter(q=words).condition(owner))))

        assert found("O'Brien") == [texts[0]]
        assert found("50%") == [texts[0]]  # "%" is a character, not "anything"
        assert found("a\\b") == [texts[0]]
        assert found("'") == [texts[2], texts[0]]
        assert found("_") == []
        assert found("obrien 500") == [texts[1]]


def test_the_search_column_is_filled_and_indexed_on_every_database(db_app):
    with db_app.app_context():
        connection = db.session.connection()
        columns = {column["name"] for column in inspect(connection).get_columns(
            "bridge_inbox_documents")}
        assert "search_text" in columns
        indexes = {index["name"] for index in inspect(connection).get_indexes(
            "bridge_inbox_documents")}
        if connection.dialect.name != "postgresql":
            assert SEARCH_INDEX not in indexes
            return
        assert SEARCH_INDEX in indexes
        definition = connection.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
            {"name": SEARCH_INDEX}).scalar_one()
        assert "gin" in definition and "gin_trgm_ops" in definition
        assert "fastupdate=off" in definition.replace(" ", "")
        # the search's SQL is the shape the index answers (a folded column, no lower())
        query = select(InboxDocument.id).where(InboxFilter(q="dupont").condition(1))
        sql = str(query.compile(dialect=connection.dialect,
                                compile_kwargs={"literal_binds": True}))
        # the word is written into the SQL sent (PostgreSQL plans each search for its words)
        sent: list[str] = []
        listener = lambda *args: sent.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            db.session.execute(query).all()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert "dupont%" in sent[-1], sent
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(f"EXPLAIN {sql}")).scalars())
        assert SEARCH_INDEX in plan, plan


def test_migration_fills_the_search_text_of_documents_already_stored(make_app):
    app = make_app()
    migrate.upgrade(app, "0016")
    with app.app_context():  # users, mailboxes and messages are as at 0016 (ORM rows)
        owner = create_user("bob", PASSWORD, role="practitioner").id
        mailbox = Mailbox(key="k", collector="pop3", host="h", port=110, login="l")
        db.session.add(mailbox)
        db.session.flush()
        db.session.execute(insert(ReceivedMessage).values(
            id=1, mailbox_id=mailbox.id, server_id="s1", message_id_header="<m1>",
            sha256="0" * 64, size=1, raw_path="/dev/null", state="processed", attempts=0,
            last_error="", subject="Compte rendu opératoire", from_address="chu@exemple.org",
            to_address="", date_header="", attachments_json="[]", signature_status="",
            signer="", stored_at=dt.datetime(2026, 11, 30, 10, 0)))
        connection = db.session.connection()
        as_at_0016 = Table("bridge_inbox_documents", MetaData(), autoload_with=connection)
        values = {column.name: column.default.arg for column in InboxDocument.__table__.columns
                  if column.default is not None and column.default.is_scalar
                  and column.name in as_at_0016.c}
        connection.execute(insert(as_at_0016).values(
            {**values, "id": 1, "message_id": 1, "owner_user_id": owner, "has_header": True,
             "patient_last_name": "LEFÈVRE", "patient_first_name": "Zoé",
             "patient_birth_date": dt.date(1950, 6, 5), "sender_name": "CHU",
             "created_at": dt.datetime(2026, 11, 30, 10, 0)}))
        db.session.commit()
    migrate.upgrade(app)
    with app.app_context():
        stored = db.session.scalar(select(InboxDocument.search_text))
    assert stored == ("lefevre zoe chu compte rendu operatoire chu@exemple.org "
                      "05/06/1950 1950-06-05")
    assert migrate.downgrade(app, "0016") == "0016"
    migrate.upgrade(app)
