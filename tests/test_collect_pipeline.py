"""The collection pipeline end to end: sandbox-encrypted mail in a Maildir to inbox documents.

Real parts only: the v1 back-end runs the sandbox programs as subprocesses, files and database
rows are real, the Maildir is a real folder the collector reads.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from mailworld import ALICE, BOB, PDF_1, PDF_2
from sqlalchemy import select

from medshake_bridge import bridge_state
from medshake_bridge.collect.locks import mailbox_lock
from medshake_bridge.db import db, engine_url


def test_lab_mail_reaches_the_inbox_with_identity_results_and_attachments(world):
    world.deliver(world.mail(attachments=[("compte-rendu.pdf", PDF_1), ("image.pdf", PDF_2)]))
    report = world.collect()
    assert report.ok, report
    (mailbox,) = report.mailboxes
    assert (mailbox.listed, mailbox.fetched, mailbox.processed, mailbox.documents,
            mailbox.deleted) == (1, 1, 1, 1, 1)
    (document,) = world.documents()
    assert document.owner_user_id == world.bob
    assert (document.patient_last_name, document.patient_first_name) == ("DUPONT", "Jeanne")
    assert document.patient_birth_date.isoformat() == "1961-03-12"
    assert document.has_header and document.abnormal and document.state == "new"
    results = json.loads(document.results_json)
    assert [r["label"] for r in results] == ["Hémoglobine", "Leucocytes"]
    assert [r["abnormal"] for r in results] == [True, False]
    assert "hémoglobine à surveiller" in document.body
    (message,) = world.messages()
    attachments = json.loads(message.attachments_json)
    assert [a["name"] for a in attachments] == ["compte-rendu.pdf", "image.pdf"]
    assert Path(attachments[0]["file"]).read_bytes() == PDF_1
    assert Path(attachments[1]["file"]).read_bytes() == PDF_2
    assert all(stat.S_IMODE(Path(a["file"]).stat().st_mode) == 0o600 for a in attachments)
    assert stat.S_IMODE(Path(message.raw_path).stat().st_mode) == 0o600
    assert message.subject == "Résultats" and message.from_address.startswith(ALICE)
    assert world.on_server() == []  # deleted only after everything above was committed


def test_dry_run_never_deletes_and_a_second_run_adds_nothing(world):
    world.deliver(world.mail())
    first = world.collect(dry_run=True)
    assert first.total("processed") == 1 and first.total("deleted") == 0
    assert len(world.on_server()) == 1
    second = world.collect(dry_run=True)
    assert second.total("fetched") == 0 and second.total("processed") == 0
    assert len(world.documents()) == 1
    third = world.collect()
    assert third.total("deleted") == 1 and world.on_server() == []
    assert len(world.documents()) == 1


def test_keep_on_server_and_delete_after_days(world):
    with world.app.app_context():
        bridge_state().settings.set("apicryptKeepOnServer", "true")
    world.deliver(world.mail())
    assert world.collect().total("deleted") == 0 and len(world.on_server()) == 1
    with world.app.app_context():
        store = bridge_state().settings
        store.set("apicryptKeepOnServer", "false")
        store.set("apicryptDeleteAfterDays", "7")
    assert world.collect().total("deleted") == 0 and len(world.on_server()) == 1
    with world.app.app_context():
        bridge_state().settings.set("apicryptDeleteAfterDays", "0")
    assert world.collect().total("deleted") == 1 and world.on_server() == []
    assert len(world.documents()) == 1


def test_body_that_does_not_decrypt_is_retried_then_quarantined_never_lost(world):
    raw = world.mail().replace(b"MEDSHAKE", b"MEDSHAKF", 1)
    world.deliver(raw)
    states = []
    for _ in range(4):
        world.collect()
        states.append(world.messages()[0].state)
    assert states == ["failed", "failed", "quarantined", "quarantined"]
    message = world.messages()[0]
    assert message.attempts == 3 and "decrypt" in message.last_error
    assert Path(message.raw_path).read_bytes() == raw
    assert len(world.on_server()) == 1  # never deleted while not processed
    assert world.documents() == []


def test_a_failing_program_is_retried_and_succeeds_once_fixed(world, monkeypatch):
    world.deliver(world.mail(attachments=[("a.pdf", PDF_1)]))
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apiuncryptpj:exit1")
    report = world.collect()
    assert report.total("failed") == 1 and world.documents() == []
    assert "apiuncryptpj" in world.messages()[0].last_error
    assert len(world.on_server()) == 1
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT")
    report = world.collect()
    assert report.total("processed") == 1 and len(world.documents()) == 1
    assert world.on_server() == []


def test_clear_text_body_with_hprim_markers_is_accepted(world):
    clear = (b"From: labo@medical69.apicrypt.org\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
             b"Subject: R\xe9sultats\r\nMessage-ID: <clear@test>\r\n"
             b"Content-Type: text/plain; charset=windows-1252\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n\r\n"
             + HPRIM_LAB.replace("\n", "\r\n").encode("cp1252"))
    world.deliver(clear)
    assert world.collect().total("processed") == 1
    (document,) = world.documents()
    assert document.patient_last_name == "DUPONT"
    assert "clear text" in world.messages()[0].last_error


def test_two_hprim_documents_in_one_message(world):
    second = HPRIM_LAB.replace("DUPONT", "MARTIN").replace("Jeanne", "Paul")
    text = HPRIM_LAB.replace("****FINFICHIER****\n", "") + second
    world.deliver(world.mail(text=text))
    world.collect()
    names = [(d.position, d.patient_last_name) for d in world.documents()]
    assert names == [(0, "DUPONT"), (1, "MARTIN")]


def test_mail_without_hprim_header_still_reaches_the_inbox(world):
    world.deliver(world.mail(text="Bonjour,\nvoici le compte rendu demandé.\nCordialement\n"))
    world.collect()
    (document,) = world.documents()
    assert not document.has_header and document.patient_last_name == ""
    assert "compte rendu demandé" in document.body


def test_duplicate_delivery_is_stored_once(world):
    raw = world.mail()
    world.deliver(raw)
    world.deliver(raw)
    report = world.collect()
    assert report.total("processed") == 1 and report.total("duplicates") == 1
    assert len(world.documents()) == 1 and report.total("deleted") == 2


def test_a_busy_mailbox_is_skipped_not_collected_twice(world):
    world.deliver(world.mail())
    with world.app.app_context():
        key = f"maildir://{world.maildir}@:0"
        locks = Path(world.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
        with mailbox_lock(locks, key):
            report = world.collect()
    assert report.mailboxes[0].outcome == "busy" and world.messages() == []
    assert world.collect().total("processed") == 1


def test_shared_mailbox_is_collected_once_for_each_owner(world):
    with world.app.app_context():
        second = world.add_user("bob2", BOB, world.maildir)
    world.deliver(world.mail())
    report = world.collect()
    assert len(report.mailboxes) == 1 and report.mailboxes[0].owners == [world.bob, second]
    owners = sorted(d.owner_user_id for d in world.documents())
    assert owners == [world.bob, second] and len(world.messages()) == 1


def test_attachment_names_are_made_harmless(world):
    raw = world.mail(clear_attachments=[
        ("../../etc/passwd", b"root:x:0:0"), ("CON", b"con"), ("x" * 300 + ".pdf", b"long"),
        ("same.pdf", b"one"), ("same.pdf", b"two"),
    ])
    world.deliver(raw)
    world.collect()
    attachments = json.loads(world.messages()[0].attachments_json)
    names = [a["name"] for a in attachments]
    assert names[0] == "passwd" and names[1] == "_CON"
    assert len(names[2]) <= 120 and names[2].endswith(".pdf")
    assert names[3:] == ["same.pdf", "same (2).pdf"]
    assert [Path(a["file"]).read_bytes() for a in attachments[3:]] == [b"one", b"two"]
    inbox = Path(attachments[0]["file"]).parent
    assert all(Path(a["file"]).parent == inbox for a in attachments)


def test_fetch_command_shows_progress_and_summary(world):
    world.deliver(world.mail())
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["bridge", "fetch", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 mailbox(es) to collect." in result.output
    assert "1 fetched, 1 processed, 1 document(s), 0 failed" in result.output
    assert "Dry run: nothing was deleted" in result.output
    assert len(world.on_server()) == 1
    result = runner.invoke(args=["bridge", "fetch", "--user", str(world.bob)])
    assert result.exit_code == 0, result.output
    assert "1 deleted" in result.output and world.on_server() == []


def test_fetch_command_exits_non_zero_when_a_mailbox_fails(world):
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaildir", str(world.tmp), level="user",
                                    user_id=world.bob)
    result = world.app.test_cli_runner().invoke(args=["bridge", "fetch"])
    assert result.exit_code == 1
    assert "is not a Maildir" in result.output and "apicryptMaildir" in result.output


CRASHING_COLLECTION = """
import os, sys
from medshake_bridge import bridge_state, create_app, hookimpl
from medshake_bridge.collect.pipeline import collect_all

class CrashAfterCommit:
    stored = 0

    @hookimpl
    def medshake_message_stored(self, message, documents):
        CrashAfterCommit.stored += 1
        if CrashAfterCommit.stored == int(sys.argv[3]):
            os._exit(9)   # killed: after the commit, before the deletion on the server

# one processing thread: the messages are committed in order (the pool's own crash test is
# in test_collect_pool.py)
app = create_app({"INSTANCE_PATH": sys.argv[1], "MEDSHAKE_BRIDGE_SECRET_KEYS": [sys.argv[2]],
                  "MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH": [],
                  "MEDSHAKE_BRIDGE_PROCESS_WORKERS": 1,
                  "MEDSHAKE_BRIDGE_PLUGINS": [CrashAfterCommit()]})
with app.app_context():
    collect_all(bridge_state())
"""


def test_killed_between_storing_and_deleting_loses_nothing_duplicates_nothing(world):
    import subprocess
    import sys

    from conftest import TEST_SECRET_KEY

    for index in range(3):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_COLLECTION, world.app.instance_path, TEST_SECRET_KEY,
         "2"], capture_output=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr.decode()
    assert len(world.on_server()) == 3  # nothing deleted: the crash came before deletion
    assert [m.state for m in world.messages()] == ["processed", "processed", "stored"]
    report = world.collect()
    assert report.total("fetched") == 0  # nothing fetched twice
    assert report.total("processed") == 1  # only the message that was not processed yet
    assert report.total("deleted") == 3 and world.on_server() == []
    subjects = sorted(m.subject for m in world.messages())
    assert subjects == ["Résultats 0", "Résultats 1", "Résultats 2"]
    assert len(world.documents()) == 3


def test_admin_retry_of_a_quarantined_message_processes_it(world, monkeypatch):
    from medshake_bridge.collect.pipeline import retry_message

    world.deliver(world.mail())
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apiuncrypt:exit1")
    for _ in range(3):
        world.collect()
    (message,) = world.messages()
    assert message.state == "quarantined" and world.documents() == []
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT")
    with world.app.app_context():
        assert retry_message(bridge_state(), message.id) == "processed"
    assert len(world.documents()) == 1
    assert world.collect().total("deleted") == 1 and world.on_server() == []


def test_a_raw_file_left_by_a_crash_is_adopted_not_fetched_again(world):
    from medshake_bridge.collect.rawstore import raw_file_name

    path = world.deliver(world.mail())
    world.collect(dry_run=True)  # creates the mailbox row (id 1) and stores the message
    with world.app.app_context():
        from medshake_bridge.models.mail import InboxDocument, ReceivedMessage

        message = db.session.scalars(select(ReceivedMessage)).one()
        raw_path = Path(message.raw_path)
        db.session.query(InboxDocument).delete()
        db.session.delete(message)  # as if the run had died before committing its row
        db.session.commit()
    assert raw_path.name == raw_file_name(path.name.split(":")[0])
    assert raw_path.is_file()
    world.deliver(world.mail(subject="second"))
    second_name = raw_file_name(sorted(world.on_server())[-1].name.split(":")[0])
    partial = raw_path.parent / f".{second_name}.99999.part"  # a download cut by a crash
    partial.write_bytes(b"From: half a message")
    report = world.collect()
    (mailbox,) = report.mailboxes
    assert (mailbox.adopted, mailbox.fetched, mailbox.processed) == (1, 2, 2)
    assert len(world.documents()) == 2 and world.on_server() == []
    assert not partial.exists()  # replaced by the complete download


CONCURRENT_COLLECTION = """
import json, sys
from medshake_bridge import bridge_state, create_app
from medshake_bridge.collect.pipeline import collect_all
app = create_app({"INSTANCE_PATH": sys.argv[1], "MEDSHAKE_BRIDGE_SECRET_KEYS": [sys.argv[2]]})
with app.app_context():
    bridge_state().settings.get("apicryptMaildir")  # connected and ready
print("ready", flush=True)
sys.stdin.readline()  # the start signal: every process begins at the same moment
with app.app_context():
    report = collect_all(bridge_state())
print(json.dumps([m.outcome for m in report.mailboxes]))
"""


def test_several_processes_collecting_at_once_store_each_message_once(db_world, tmp_path):
    """What two web workers ("collect now") and a scheduler do at the same moment. On
    PostgreSQL and MariaDB the processes stand for three hosts (own instance folders, so no
    shared lock file): the mailbox lock held in the database keeps them from collecting at
    once, and the database's unique keys keep each message once."""
    import os
    import subprocess
    import sys

    from conftest import TEST_SECRET_KEY

    world = db_world
    for index in range(12):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    env = dict(os.environ)
    one_host = world.backend == "sqlite"
    if not one_host:
        env["MEDSHAKE_BRIDGE_DATABASE_URL"] = engine_url(world.app)
    instances = [world.app.instance_path if one_host else str(tmp_path / f"host{n}")
                 for n in range(3)]
    processes = [subprocess.Popen(
        [sys.executable, "-c", CONCURRENT_COLLECTION, instance, TEST_SECRET_KEY],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env) for instance in instances]
    try:
        for process in processes:  # a barrier: all started and connected before any collects
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert all(outcome in (["ok"], ["busy"]) for outcome in outcomes), outcomes
    assert ["ok"] in outcomes
    # On PostgreSQL and MariaDB the mailbox lock is in the database (issue 19): the three
    # "hosts" share it as processes of one host share the lock file, so they never collect the
    # mailbox at the same time (a late one may still find it free once the first is done).
    messages = world.messages()
    assert len(messages) == 12 and len({m.server_id for m in messages}) == 12
    assert len(world.documents()) == 12
    assert sorted(d.message_id for d in world.documents()) == sorted(m.id for m in messages)
    world.collect()  # whatever a busy process left: deleted now, nothing duplicated
    assert world.on_server() == [] and len(world.documents()) == 12


def _clear_mail(body_part: bytes, headers: str) -> bytes:
    head = ("From: labo@medical69.apicrypt.org\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
            f"Subject: clair\r\nMessage-ID: <clear-{abs(hash(body_part))}@test>\r\n"
            f"{headers}\r\n\r\n")
    return head.encode("ascii") + body_part


@pytest.mark.parametrize(("encoding", "line_end"), [
    ("utf-16", "\r\n"), ("mac_roman", "\r"), ("cp1252", "\n\r"), ("utf-8", "\n")])
def test_clear_hprim_bodies_in_every_encoding_seen_in_the_field(world, encoding, line_end):
    import base64

    text = HPRIM_LAB.replace("Jeanne", "Jeanne-Hélène").replace("\n", line_end)
    raw_body = text.encode(encoding)
    world.deliver(_clear_mail(
        base64.encodebytes(raw_body),
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64"))
    assert world.collect().total("processed") == 1
    (document,) = world.documents()
    assert (document.patient_last_name, document.patient_first_name) == (
        "DUPONT", "Jeanne-Hélène")
    assert "hémoglobine à surveiller" in document.body and document.abnormal


def test_attachment_only_mail_and_malformed_mime_reach_the_inbox(world):
    world.deliver(world.mail(with_body=False, attachments=[("seul.pdf", PDF_1)]))
    world.deliver(_clear_mail(HPRIM_LAB.encode("cp1252") + b"\r\n--dangling\r\n",
                              "Content-Type: multipart/mixed; boundary=\"never-closed\""))
    report = world.collect()
    assert report.total("processed") == 2, [m.last_error for m in world.messages()]
    documents = world.documents()
    # processed at once by two threads: either may commit first
    assert sorted(d.message_id for d in documents)[:2] == [1, 2]
    attachments = [json.loads(m.attachments_json) for m in world.messages()]
    assert [a["name"] for a in attachments[0]] == ["seul.pdf"]
    assert Path(attachments[0][0]["file"]).read_bytes() == PDF_1
    # the text of the never-closed multipart is kept, not dropped
    assert [d.patient_last_name for d in documents if d.message_id == 2][0] == "DUPONT"
