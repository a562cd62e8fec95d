"""``SettingsStore.remembering()``: a run of work reads each setting once (issue 18).

A collection calls the plugins' ``medshake_message_stored`` for every message; a plugin reading
a site setting there cost one query per message. Inside the block the store answers from what it
read first, a write through the store is seen at once, and nothing leaks out of the block or
into another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.public import stored_message
from medshake_bridge.settings.store import run_memo
from medshake_bridge.users import create_user


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_a_setting_is_read_once_per_block_and_writes_are_seen(app_ctx):
    store = bridge_state().settings
    store.set("apicryptPopHost", "first.example.org")
    with store.remembering():
        with counted_queries() as seen:
            values = [store.get("apicryptPopHost") for _ in range(20)]
        assert values == ["first.example.org"] * 20
        assert len(seen) == 1
        store.set("apicryptPopHost", "second.example.org")  # through the store: seen at once
        assert store.get("apicryptPopHost") == "second.example.org"
        store.unset("apicryptPopHost")
        assert store.get("apicryptPopHost") == "pop.intermedic.org"  # the declared default
    assert run_memo() is None
    with counted_queries() as seen:
        store.get("apicryptPopHost")
        store.get("apicryptPopHost")
    assert len(seen) == 2  # outside a block: read every time, as before


def test_once_per_run_asks_once_in_a_run_and_every_time_outside(app_ctx):
    """The readers that keep an answer for a run (the back-ends offered, a message's
    owners, who may read whose mail) share this: once inside a block, each time outside."""
    from medshake_bridge.settings.store import once_per_run

    store = bridge_state().settings
    asked = []

    def ask():
        asked.append(1)
        return len(asked)

    with store.remembering():
        assert [once_per_run(("test",), ask) for _ in range(3)] == [1, 1, 1]
        assert once_per_run(("test", "other"), ask) == 2
    assert [once_per_run(("test",), ask) for _ in range(2)] == [3, 4]


def test_a_remembered_list_cannot_be_changed_by_a_caller(app_ctx):
    store = bridge_state().settings
    alice = create_user("alice", "correct horse battery").id
    store.set("apicryptInboxMailForUserID", str(alice), level="user", user_id=alice)
    with store.remembering():
        first = store.get("apicryptInboxMailForUserID", user_id=alice)
        first.append(999)
        assert store.get("apicryptInboxMailForUserID", user_id=alice) == [alice]


def test_another_thread_does_not_share_the_block(app):
    store = bridge_state(app).settings
    answers: list[object] = []

    def other() -> None:
        with app.app_context():
            answers.append(run_memo())
            answers.append(store.get("apicryptPopHost"))
            db.session.remove()

    with app.app_context():
        store.set("apicryptPopHost", "site.example.org")
        with store.remembering():
            assert store.get("apicryptPopHost") == "site.example.org"
            thread = threading.Thread(target=other)
            thread.start()
            thread.join(timeout=30)
    assert answers == [None, "site.example.org"]


def test_stored_message_reads_the_owners_once_per_block(app_ctx):
    alice = create_user("alice", "correct horse battery").id

    class Row:  # what stored_message reads of a message row and a document row
        id, mailbox, server_id, message_id_header = 1, None, "s1", "<m1@example.org>"
        subject = from_address = to_address = date_header = signature_status = signer = ""
        signature_invalid = unencrypted = external_sender = False
        attachments_json = "[]"

    class Document:
        id, message_id, owner_user_id, position, state = 7, 1, alice, 0, "new"
        has_header, patient_last_name, patient_first_name = False, "", ""
        patient_birth_date, sender_name, abnormal, body = None, "", False, "text"
        header_json, results_json = "{}", "[]"

    store = bridge_state().settings
    with store.remembering(), counted_queries() as seen:
        for _ in range(5):
            message, documents = stored_message(Row(), [Document()])
            assert [user.id for user in message.owners] == [alice]
            assert documents[0].owner.login == "alice"
    assert len(seen) == 1
