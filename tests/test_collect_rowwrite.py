"""The processed message's row and its documents written by plain statements
(``collect/rowwrite.py``, issue 18): what is written is what the ORM would have written, on
the three databases, and the UPDATE follows the names processing passes (no list kept beside
it that a new column could be missing from)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from support.rows import add_received_message

from medshake_bridge.collect.rowwrite import insert_documents, update_processed
from medshake_bridge.db import db
from medshake_bridge.models import InboxDocument, Mailbox, ReceivedMessage
from medshake_bridge.users import create_user

WHEN = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def _stored_message() -> tuple[ReceivedMessage, int]:
    user = create_user("rowwriter", "password for tests", role="practitioner")
    row = add_received_message("maildir:rowwrite", state="stored", raw_path="/raw/1")
    db.session.commit()
    return row, user.id


def test_the_row_gets_exactly_the_values_given_on_every_database(db_app) -> None:
    with db_app.app_context():
        row, _ = _stored_message()
        values = {"subject": "Résultats", "from_address": "labo@example.org",
                  "signer": "Laboratoire", "state": "processed", "processed_at": WHEN,
                  "last_error": "une note"}
        update_processed(row, values)
        assert row not in db.session.dirty  # the attributes hold the values, unchanged
        assert row.subject == "Résultats"
        db.session.commit()
        row_id = row.id
        db.session.remove()
        again = db.session.get(ReceivedMessage, row_id)
        for key, value in values.items():
            stored = getattr(again, key)
            if isinstance(stored, dt.datetime) and stored.tzinfo is None:
                stored = stored.replace(tzinfo=dt.UTC)  # SQLite and MariaDB keep no zone
            assert stored == value, key
        assert again.to_address == ""  # a column not named is left as it was
        # another set of names gets its own statement, and a wrong name is refused
        update_processed(again, {"to_address": "moi@example.org"})
        db.session.commit()
        assert db.session.scalar(select(ReceivedMessage.to_address)) == "moi@example.org"
        with pytest.raises(KeyError):
            update_processed(again, {"no_such_column": 1})


def test_documents_get_their_ids_defaults_and_the_unique_key(db_app) -> None:
    with db_app.app_context():
        row, owner = _stored_message()
        documents = [InboxDocument(message_id=row.id, owner_user_id=owner, position=position,
                                   patient_last_name="MARTIN", created_at=WHEN)
                     for position in range(2)]
        insert_documents(documents)
        db.session.commit()
        assert all(document.id for document in documents)
        assert documents[0].id != documents[1].id
        assert documents[0] in db.session and documents[0] not in db.session.new
        stored = db.session.scalars(select(InboxDocument).order_by(InboxDocument.position)).all()
        assert [(d.patient_last_name, d.state, d.header_json, d.abnormal) for d in stored] == [
            ("MARTIN", "new", "{}", False)] * 2  # the columns' defaults were applied
        with pytest.raises(IntegrityError):  # a second processing of the message
            insert_documents([InboxDocument(message_id=row.id, owner_user_id=owner, position=0,
                                            created_at=WHEN)])
        db.session.rollback()


def test_a_batch_of_stored_rows_gets_each_its_own_id_on_every_database(db_app) -> None:
    """The reader's batch INSERT (``insert_new``, issue 18 fifth pass): each object gets the id
    of its own row (the processing threads are handed those ids), and the defaults."""
    from medshake_bridge.collect.rowwrite import insert_new

    with db_app.app_context():
        _, _ = _stored_message()
        mailbox_id = db.session.scalar(select(Mailbox.id))
        rows = [ReceivedMessage(mailbox_id=mailbox_id, server_id=f"batch-{n}",
                                sha256=f"{n:064d}", raw_path=f"/raw/batch-{n}", state="stored")
                for n in range(7)]
        insert_new(ReceivedMessage, rows)
        db.session.commit()
        assert len({row.id for row in rows}) == 7
        assert all(row in db.session and row not in db.session.new for row in rows)
        ids = [row.id for row in rows]
        db.session.expunge_all()
        for n, row_id in enumerate(ids):
            stored = db.session.get(ReceivedMessage, row_id)
            assert (stored.server_id, stored.raw_path) == (f"batch-{n}", f"/raw/batch-{n}")
            assert (stored.attempts, stored.last_error, stored.attachments_json) == (0, "", "[]")
