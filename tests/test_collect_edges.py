"""Edges of collect/pipeline.py that the mutation run found untested (docs/testing.md): when
a waiting message is tried again (its backoff, a person's "retry now", a setting changed after
its last try, not at the same instant), what the report and the banners say about it, that a
collection always files its mail under its own mailbox row, and which messages a batching
collector is told to fetch, a retry of a message that does not wait, a batch meeting the
unique key of a message another host stored; then (the second sample) how much of a header
block is read, the size cap's fallback, an outage holding the next messages, the length kept
of an error, the instant a message is deleted on the server, the work folders a crashed run
left, the setting problems a collection for one user reports, the mailbox a retry uses, a
message another host moved on, and which waiting reason a mailbox shows; then (the third
sample) the mailbox row another host created meanwhile, a server id two mailboxes share, the
From/To/Date cuts, a reused Message-ID with other bytes, a refused message's attachments, an
error in a processing thread, and the waiting reason merged from two threads.

A message waits after an outage or a setting stopped it; the tests put a real collected
message into that state in the database, exactly as ``_record_failure`` leaves it, then run
the real collection against the sandbox programs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from medshake_maildir.collector import MaildirCollector
from sqlalchemy import func, select, update

from medshake_bridge import bridge_state, clock
from medshake_bridge.collect.locks import mailbox_lock
from medshake_bridge.collect.mailboxes import plan_mailboxes
from medshake_bridge.collect.pipeline import _commit_rows, retry_message, waiting_messages
from medshake_bridge.db import db
from medshake_bridge.errors import CONFIGURATION, CONTENT, TRANSIENT, BridgeError
from medshake_bridge.models.mail import (
    DUPLICATE,
    FAILED,
    PROCESSED,
    QUARANTINED,
    STORED,
    InboxDocument,
    Mailbox,
    ReceivedMessage,
)
from medshake_bridge.models.settings import SettingValue, utcnow
from medshake_bridge.users import create_user

REASON = "the Apicrypt companion does not answer"
FIX = "start the Apicrypt companion, then wait: the mail is tried again"


def _failed_once(world, monkeypatch) -> int:
    """One message collected, which failed once (a program fault): its id."""
    world.deliver(world.mail())
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apiuncrypt:exit1")
    world.collect()
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT")
    (message,) = world.messages()
    assert message.state == FAILED
    return message.id


def _make_waiting(world, message_id: int, cause: str, *, last_attempt: dt.datetime,
                  next_attempt: dt.datetime) -> None:
    with world.app.app_context():
        db.session.execute(update(ReceivedMessage).where(ReceivedMessage.id == message_id)
                           .values(state=FAILED, error_cause=cause, error_fix=FIX,
                                   last_error=f"CompanionDown: {REASON}", attempts=0,
                                   waiting_since=last_attempt, last_attempt_at=last_attempt,
                                   next_attempt_at=next_attempt))
        db.session.commit()


def _last_setting_change(world) -> dt.datetime:
    with world.app.app_context():
        moment = db.session.scalar(select(func.max(SettingValue.updated_at)))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def test_a_waiting_message_waits_for_its_backoff_unless_a_person_asks(world, monkeypatch):
    message_id = _failed_once(world, monkeypatch)
    now = utcnow()
    _make_waiting(world, message_id, TRANSIENT, last_attempt=now,
                  next_attempt=now + dt.timedelta(minutes=10))
    report = world.collect()  # not due yet: not tried, reported as waiting with its reason
    (mailbox,) = report.mailboxes
    assert (mailbox.waiting, mailbox.processed, mailbox.failed) == (1, 0, 0)
    assert (mailbox.waiting_reason, mailbox.waiting_fix, mailbox.waiting_cause) == (
        REASON, FIX, TRANSIENT)
    assert not mailbox.clean and not report.ok and not report.configuration_error
    assert [m.state for m in world.messages()] == [FAILED] and world.documents() == []
    report = world.collect(retry_now=True)
    assert (report.total("processed"), report.total("waiting")) == (1, 0) and report.ok
    assert [m.state for m in world.messages()] == [PROCESSED] and len(world.documents()) == 1


def test_a_waiting_message_is_tried_once_its_backoff_is_over(world, monkeypatch):
    message_id = _failed_once(world, monkeypatch)
    now = utcnow()
    _make_waiting(world, message_id, TRANSIENT, last_attempt=now - dt.timedelta(minutes=2),
                  next_attempt=now - dt.timedelta(seconds=1))
    report = world.collect()
    assert (report.total("processed"), report.total("waiting")) == (1, 0)
    assert [m.state for m in world.messages()] == [PROCESSED]


def test_a_waiting_message_is_due_at_the_very_instant_its_backoff_ends(world, monkeypatch):
    message_id = _failed_once(world, monkeypatch)
    moment = utcnow().replace(microsecond=0) + dt.timedelta(minutes=5)
    _make_waiting(world, message_id, TRANSIENT, last_attempt=moment - dt.timedelta(minutes=1),
                  next_attempt=moment)
    with clock.frozen(moment):
        report = world.collect()
    assert (report.total("processed"), report.total("waiting")) == (1, 0)


def test_a_setting_changed_after_the_last_try_releases_configuration_waits_only(
        world, monkeypatch):
    message_id = _failed_once(world, monkeypatch)
    changed = _last_setting_change(world)
    later = utcnow() + dt.timedelta(hours=1)
    # last tried at the very instant of the last setting change: that change was already
    # there when it failed, so it does not release the message
    _make_waiting(world, message_id, CONFIGURATION, last_attempt=changed, next_attempt=later)
    report = world.collect()
    assert report.total("waiting") == 1 and report.configuration_error
    assert report.mailboxes[0].waiting_cause == CONFIGURATION
    # an outage is not cured by a setting: tried before the change, still waiting
    _make_waiting(world, message_id, TRANSIENT, last_attempt=changed - dt.timedelta(minutes=1),
                  next_attempt=later)
    assert world.collect().total("waiting") == 1
    # a setting waited for, changed after the last try: retried at once
    _make_waiting(world, message_id, CONFIGURATION,
                  last_attempt=changed - dt.timedelta(minutes=1), next_attempt=later)
    report = world.collect()
    assert (report.total("processed"), report.total("waiting")) == (1, 0)
    assert [m.state for m in world.messages()] == [PROCESSED]


def test_the_banners_list_only_messages_waiting_for_an_outage_or_a_setting(world):
    with world.app.app_context():
        first = Mailbox(key="maildir:first", collector="maildir")
        second = Mailbox(key="maildir:second", collector="maildir")
        db.session.add_all([first, second])
        db.session.flush()
        rows = {}
        for name, mailbox, state, cause in [
            ("outage", first, FAILED, TRANSIENT),
            ("setting", first, FAILED, CONFIGURATION),
            ("content", first, FAILED, CONTENT),
            ("uncaused", first, FAILED, ""),
            ("quarantined", first, QUARANTINED, CONFIGURATION),
            ("stored", first, STORED, ""),
            ("processed", first, PROCESSED, ""),
            ("other mailbox", second, FAILED, TRANSIENT),
        ]:
            rows[name] = ReceivedMessage(mailbox_id=mailbox.id, server_id=name, sha256="0" * 64,
                                         raw_path=f"/nowhere/{name}", state=state,
                                         error_cause=cause)
        db.session.add_all(rows.values())
        db.session.commit()
        ids = {row.id: name for name, row in rows.items()}
        assert [ids[row.id] for row in waiting_messages()] == [
            "outage", "setting", "other mailbox"]
        assert [ids[row.id] for row in waiting_messages([first.id])] == ["outage", "setting"]
        assert [ids[row.id] for row in waiting_messages([second.id])] == ["other mailbox"]
        assert waiting_messages([]) == []


def test_a_busy_mailbox_reports_nothing_listed_nor_fetched(world):
    world.deliver(world.mail())
    with world.app.app_context():
        (plan,), _ = plan_mailboxes(bridge_state())
        locks = Path(world.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
        with mailbox_lock(locks, plan.identity.key):
            (mailbox,) = world.collect().mailboxes
    assert mailbox.outcome == "busy"
    assert (mailbox.listed, mailbox.fetched, mailbox.processed, mailbox.deleted) == (0, 0, 0, 0)


def _left_over_mailbox_rows(world) -> str:
    """Rows of other mailboxes (another setting, another user) beside the one this world's
    collection will use; returns that one's key."""
    with world.app.app_context():
        (plan,), _ = plan_mailboxes(bridge_state())
        key = plan.identity.key
        db.session.add_all([Mailbox(key=key + "~old", collector="maildir"),
                            Mailbox(key="", collector="maildir")])
        db.session.commit()
    return key


def test_mail_is_filed_under_its_own_mailbox_row_never_a_left_over_one(world):
    """Rows of mailboxes used before (another setting, another user) stay in the table; the
    collection must find its own row by its exact key, whatever the order of the rows."""
    key = _left_over_mailbox_rows(world)
    world.deliver(world.mail())
    assert world.collect().total("processed") == 1
    with world.app.app_context():
        (message,) = db.session.scalars(select(ReceivedMessage)).all()
        assert message.mailbox.key == key
        assert message.deleted_on_server_at is not None  # its own row marked, none other
        mine = db.session.scalars(select(Mailbox).where(Mailbox.key == key)).one()
        assert mine.last_outcome == "ok" and mine.last_finished_at is not None
        others = db.session.scalars(select(Mailbox).where(Mailbox.key != key)).all()
        assert [row.last_outcome for row in others] == ["", ""]


def test_a_batching_collector_is_told_only_the_messages_within_the_size_cap(world, monkeypatch):
    """IMAP and POP3 fetch the announced messages in batches (``prefetch``): a message over
    ``apicryptMaxMessageMB`` is left on the server, so it must not be announced (it would be
    downloaded for nothing); one of exactly the cap, or below it, is fetched."""
    announced: list[list[str]] = []
    monkeypatch.setattr(MaildirCollector, "prefetch", lambda self, ids: announced.append(ids),
                        raising=False)
    head = (b"From: labo@medical69.apicrypt.org\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
            b"Subject: clair\r\nContent-Type: text/plain\r\n\r\n")
    world.deliver(world.mail())
    world.deliver(head + b"x" * (1024 * 1024 - len(head)))
    world.deliver(head + b"y" * (1024 * 1024))
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxMessageMB", "1", level="user",
                                    user_id=world.bob)
    (mailbox,) = world.collect().mailboxes
    assert (mailbox.fetched, mailbox.skipped_too_large) == (2, 1)
    messages = world.messages()
    assert messages[1].size == 1024 * 1024
    assert announced == [[m.server_id for m in messages]]
    world.collect()
    assert len(announced) == 1  # nothing new: nothing announced


def test_a_retry_of_a_message_that_is_not_waiting_is_refused(world):
    world.deliver(world.mail())
    assert world.collect().total("processed") == 1
    (message,) = world.messages()
    with world.app.app_context():
        for message_id in (message.id, message.id + 1000):  # processed; unknown
            with pytest.raises(BridgeError, match="is not waiting for a retry") as caught:
                retry_message(bridge_state(), message_id)
            assert caught.value.fix == "refresh the quarantine page"
    assert [m.state for m in world.messages()] == [PROCESSED]
    assert len(world.documents()) == 1  # not processed a second time


def test_a_batch_stored_meanwhile_by_another_process_is_kept_row_by_row(world):
    """Two hosts storing the same message: the batch commit meets the unique key, and the
    rows are then committed one by one, each once; the count says how many were new."""
    with world.app.app_context():
        mailbox = Mailbox(key="maildir:shared", collector="maildir")
        db.session.add(mailbox)
        db.session.commit()

        def row(server_id: str) -> ReceivedMessage:
            return ReceivedMessage(mailbox_id=mailbox.id, server_id=server_id, sha256="0" * 64,
                                   raw_path=f"/raw/{server_id}", state=STORED)

        db.session.add(row("taken"))  # what the other host committed first
        db.session.commit()
        assert _commit_rows([row("new-1"), row("taken"), row("new-2")]) == 2
        assert _commit_rows([row("new-3")]) == 1
        assert _commit_rows([]) == 0
        stored = db.session.scalars(select(ReceivedMessage.server_id)
                                    .order_by(ReceivedMessage.server_id)).all()
        assert stored == ["new-1", "new-2", "new-3", "taken"]


def test_a_message_another_host_processed_first_is_counted_by_that_host_only(
        world, monkeypatch):
    """Two hosts processing one stored message: the one whose commit meets the unique key of
    the documents keeps nothing and counts nothing (neither processed nor failed); the message
    keeps the other host's documents, once."""
    import medshake_bridge.collect.pipeline as pipeline

    real_build = pipeline.build_documents

    def other_host_first(row, parsed, owners):
        documents = real_build(row, parsed, owners)
        twins = real_build(row, parsed, owners)  # what the other host stored meanwhile
        db.session.add_all(twins)
        row.state = PROCESSED
        db.session.commit()
        return documents

    monkeypatch.setattr(pipeline, "build_documents", other_host_first)
    world.deliver(world.mail())
    report = world.collect()
    assert (report.total("processed"), report.total("documents"), report.total("failed"),
            report.total("waiting"), report.total("quarantined")) == (0, 0, 0, 0, 0)
    assert report.ok
    assert [m.state for m in world.messages()] == [PROCESSED]
    assert len(world.documents()) == 1


# --- Found by the second pipeline sample (SAMPLE=80 SEED=21, docs/testing.md) ---------------


def _header_block(tmp_path: Path, filler: int) -> Path:
    """A message whose header block starts with ``filler`` bytes of header lines, then a
    Message-ID, then a body that looks like a header."""
    lines = [b"X-Filler: " + b"a" * 988 + b"\r\n"] * (filler // 1000 - 1)
    rest = filler - 1000 * len(lines)
    lines.append(b"X-Filler: " + b"b" * (rest - 12) + b"\r\n")
    path = tmp_path / "big-header.eml"
    path.write_bytes(b"".join(lines) + b"Message-ID: <late@test>\r\n\r\nX-Body: <body@test>\r\n")
    assert path.stat().st_size == filler + len(b"Message-ID: <late@test>\r\n\r\n"
                                               b"X-Body: <body@test>\r\n")
    return path


def test_a_header_block_is_read_up_to_256_kib_never_the_body(tmp_path):
    """The Message-ID (duplicate detection) is read from the header block only, and never
    past 256 KiB of it: a line that starts within the first 256 KiB is read, one that starts
    after is not (a huge header would otherwise be read whole into memory)."""
    from medshake_bridge.collect.headerblock import block_of, parse_block

    limit = 256 * 1024
    within = parse_block(block_of(_header_block(tmp_path, limit)))
    assert within["Message-ID"] == "<late@test>" and within["X-Body"] is None
    past = parse_block(block_of(_header_block(tmp_path, limit + 1)))
    assert past["Message-ID"] is None and past["X-Filler"] is not None


@pytest.mark.parametrize(("value", "mebibytes"), [
    (None, 100), ("", 100), ("beaucoup", 100), ("3", 3), (7, 7), ("0", 1), ("-4", 1)])
def test_the_size_cap_falls_back_to_100_mib_and_is_never_under_one(value, mebibytes):
    from medshake_bridge.collect.pipeline import _max_message_bytes

    assert _max_message_bytes({"apicryptMaxMessageMB": value}) == mebibytes * 1024 * 1024


@pytest.mark.parametrize(("cause", "tries"), [(TRANSIENT, 1), (CONFIGURATION, 2)])
def test_an_outage_holds_the_next_messages_untried_a_setting_does_not(world, monkeypatch,
                                                                       cause, tries):
    """After an outage (a transient cause) the next messages of the run wait for it without
    being tried; after a configuration cause each message is still tried (another message
    may not need the missing setting). One processing thread: with several, each may already
    be trying a message when the first outage is met."""
    import medshake_bridge.collect.pipeline as pipeline

    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = 1
    calls: list[str] = []

    def failing(raw_path, *args, **kwargs):
        calls.append(raw_path.name)
        raise BridgeError(REASON, fix=FIX, cause=cause)

    monkeypatch.setattr(pipeline, "process_stored_message", failing)
    world.deliver(world.mail(subject="first"))
    world.deliver(world.mail(subject="second"))
    (mailbox,) = world.collect().mailboxes
    assert len(calls) == tries
    assert (mailbox.waiting, mailbox.failed, mailbox.processed) == (2, 0, 0)
    assert (mailbox.waiting_reason, mailbox.waiting_cause) == (REASON, cause)
    first, second = world.messages()
    assert (second.state, second.error_cause, second.last_error) == (
        FAILED, cause, first.last_error)


def test_a_failure_keeps_4000_characters_of_its_error_and_2000_of_its_fix(world):
    from medshake_bridge.collect.pipeline import _record_failure

    with world.app.app_context():
        mailbox = Mailbox(key="maildir:long", collector="maildir")
        db.session.add(mailbox)
        db.session.commit()
        row = ReceivedMessage(mailbox_id=mailbox.id, server_id="long", sha256="0" * 64,
                              raw_path="/raw/long", state=STORED)
        db.session.add(row)
        db.session.commit()
        _record_failure(row, BridgeError("m" * 5000, fix="f" * 3000))
        db.session.expire_all()
        row = db.session.get(ReceivedMessage, row.id)
        assert row.last_error == "BridgeError: " + "m" * (4000 - len("BridgeError: "))
        assert row.error_fix == "f" * 2000
        assert (row.state, row.error_cause, row.attempts) == (FAILED, CONTENT, 1)


def test_mail_is_deleted_on_the_server_at_the_very_instant_its_delay_ends(world):
    stored = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with world.app.app_context():
        bridge_state().settings.set("apicryptDeleteAfterDays", "2")
    world.deliver(world.mail())
    with clock.frozen(stored):
        assert world.collect().total("processed") == 1
    assert world.messages()[0].stored_at.replace(tzinfo=dt.UTC) == stored
    just_before = stored + dt.timedelta(days=2) - dt.timedelta(microseconds=1)
    with clock.frozen(just_before):
        assert world.collect().total("deleted") == 0 and len(world.on_server()) == 1
    with clock.frozen(stored + dt.timedelta(days=2)):
        assert world.collect().total("deleted") == 1 and world.on_server() == []


def test_a_collection_clears_the_work_folders_a_crashed_run_left(world, tmp_path):
    """Clear text a crashed run left in the work folders (C, NC and the v2 spool) is removed
    before the mailbox is collected; what does not look like a bridge work folder stays."""
    from medshake_bridge.workfolders import IN_USE

    spool = tmp_path / "spool"
    spool.mkdir()
    with world.app.app_context():
        bridge_state().settings.set("apicrypt2Spool", str(spool), level="user",
                                    user_id=world.bob)
        (plan,), _ = plan_mailboxes(bridge_state())
    leftovers = []
    for name in ("apicryptCheminFichierC", "apicryptCheminFichierNC", "apicrypt2Spool"):
        folder = Path(plan.settings[name]) / "collect-crashed"
        folder.mkdir(parents=True)
        (folder / IN_USE).write_text("")
        (folder / "clear.txt").write_text("clear text")
        leftovers.append(folder)
    kept = spool / "not-ours"
    kept.mkdir()
    world.deliver(world.mail())
    assert world.collect().total("processed") == 1
    assert [folder.exists() for folder in leftovers] == [False, False, False]
    assert kept.is_dir()


def test_a_collection_for_one_user_reports_only_that_users_setting_problems(world):
    with world.app.app_context():
        carol = create_user("carol", "password for tests", role="practitioner")
        bridge_state().settings.set("apicryptAdresse", "carol.PETIT@medical69.apicrypt.org",
                                    level="user", user_id=carol.id)
        carol_id = carol.id
    world.deliver(world.mail())
    everyone = world.collect()
    assert len(everyone.problems) == 1 and not everyone.ok
    world.deliver(world.mail(subject="again"))
    for_bob = world.collect(user_id=world.bob)
    assert for_bob.problems == [] and for_bob.ok and for_bob.total("processed") == 1
    for_carol = world.collect(user_id=carol_id)
    assert len(for_carol.problems) == 1 and for_carol.mailboxes == []


def test_a_message_another_host_moved_on_before_its_processing_is_left_alone(world,
                                                                            monkeypatch):
    """Between this host's commit of a stored message and its processing, another host
    sharing the database quarantined it: the processing thread takes only messages still
    stored, so this host neither processes nor deletes it."""
    from medshake_bridge.collect.workerpool import ProcessingPool

    real_submit = ProcessingPool.submit

    def other_host_first(self, rows):
        ids = [row.id for row in rows if row.id is not None]
        if ids:  # another connection: this session's rows still say "stored"
            with db.engine.begin() as other_host:
                other_host.execute(update(ReceivedMessage).where(ReceivedMessage.id.in_(ids))
                                   .values(state=QUARANTINED, error_cause=CONTENT))
        real_submit(self, rows)

    monkeypatch.setattr(ProcessingPool, "submit", other_host_first)
    world.deliver(world.mail())
    (mailbox,) = world.collect().mailboxes
    assert (mailbox.fetched, mailbox.processed, mailbox.deleted) == (1, 0, 0)
    assert [m.state for m in world.messages()] == [QUARANTINED]
    assert world.documents() == [] and len(world.on_server()) == 1


def test_a_retry_uses_the_mailbox_of_its_message_not_the_first_one(world, monkeypatch):
    """With several mailboxes, an admin's retry processes the message with its own
    mailbox's settings and owners (not those of whichever mailbox is planned first)."""
    from mailbuild import HPRIM_LAB, sandbox_mail, seed_maildir
    from mailworld import ALICE, CAROL

    carol_maildir = world.tmp / "maildirs" / CAROL
    for sub in ("cur", "new", "tmp"):
        (carol_maildir / sub).mkdir(parents=True)
    with world.app.app_context():
        carol = world.add_user("carol", CAROL, carol_maildir)
    seed_maildir(carol_maildir, sandbox_mail(world.net, world.tmp / "sender-work", sender=ALICE,
                                             recipient=CAROL, text=HPRIM_LAB),
                 "1700000000.M1P1.carol")
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apiuncrypt:exit1")
    world.collect()
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT")
    (message,) = world.messages()
    assert message.state == FAILED
    with world.app.app_context():
        assert retry_message(bridge_state(), message.id) == PROCESSED
    assert [document.owner_user_id for document in world.documents()] == [carol]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_setting_to_fix_is_the_reason_shown_even_when_an_outage_follows(world, monkeypatch,
                                                                          threads):
    """A configuration cause needs an admin, an outage only time: when both stop messages of
    one run, the mailbox's waiting reason is the setting's, whatever comes after it.

    With one processing thread both causes meet in that thread's report (``_note_waiting``
    decides; the fourth pipeline sample's survivor ``error_cause > CONFIGURATION`` let the
    outage replace the setting there); with two, each message may go to its own thread and
    the reports' merge decides."""
    import medshake_bridge.collect.pipeline as pipeline

    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = threads
    causes = iter([(CONFIGURATION, "the certificate password is wrong"),
                   (TRANSIENT, REASON)])

    def failing(raw_path, *args, **kwargs):
        cause, reason = next(causes)
        raise BridgeError(reason, fix=f"fix for {cause}", cause=cause)

    monkeypatch.setattr(pipeline, "process_stored_message", failing)
    world.deliver(world.mail(subject="first"))
    world.deliver(world.mail(subject="second"))
    (mailbox,) = world.collect().mailboxes
    assert mailbox.waiting == 2
    assert (mailbox.waiting_reason, mailbox.waiting_fix, mailbox.waiting_cause) == (
        "the certificate password is wrong", "fix for configuration", CONFIGURATION)


# --- Found by the third pipeline sample (SAMPLE=120 SEED=21, docs/testing.md) ----------------

CLEAR_HPRIM = HPRIM_LAB.replace("\n", "\r\n")  # clear text, kept as such: it has end markers


def test_a_mailbox_row_created_meanwhile_by_another_process_is_the_one_used(world):
    """Two hosts starting the first collection of one mailbox at once: this one finds no row,
    the other commits it first, so this one's insert meets the unique key; it must then use
    that row (found by its exact key among the other rows), not fail nor take another."""
    from sqlalchemy import event, insert

    key = _left_over_mailbox_rows(world)
    raced: list[str] = []

    def other_host_first(mapper, connection, target) -> None:
        if target.key == key and not raced:
            raced.append(key)
            with db.engine.begin() as other_host:
                other_host.execute(insert(Mailbox).values(key=key, collector="maildir"))

    event.listen(Mailbox, "before_insert", other_host_first)
    try:
        world.deliver(world.mail())
        (report,) = world.collect().mailboxes
    finally:
        event.remove(Mailbox, "before_insert", other_host_first)
    assert raced == [key]
    assert (report.outcome, report.processed) == ("ok", 1)
    with world.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Mailbox)) == 3
        (message,) = db.session.scalars(select(ReceivedMessage)).all()
        assert message.mailbox.key == key
        assert message.mailbox.last_outcome == "ok"


def test_a_server_id_another_mailbox_also_has_is_fetched_and_deleted_here_only(world):
    """Server ids are each server's own numbering (POP3 UIDLs, Maildir names), so two
    mailboxes may hold the same one: a collection looks up and marks only its own rows,
    whether the other mailbox's row id is lower or higher than its own."""
    with world.app.app_context():
        lower = Mailbox(key="maildir:lower", collector="maildir")
        db.session.add(lower)
        db.session.commit()
        lower_id = lower.id
    assert world.collect().total("listed") == 0  # Bob's mailbox row, after the lower one
    server_id = world.deliver(world.mail()).name
    with world.app.app_context():
        higher = Mailbox(key="maildir:higher", collector="maildir")
        db.session.add(higher)
        db.session.commit()
        assert lower_id < db.session.scalar(select(Mailbox.id).where(
            Mailbox.key.notin_(["maildir:lower", "maildir:higher"]))) < higher.id
        others = [lower_id, higher.id]
        db.session.add_all([ReceivedMessage(mailbox_id=mailbox_id, server_id=server_id,
                                            sha256="0" * 64, raw_path=f"/raw/{mailbox_id}",
                                            state=PROCESSED) for mailbox_id in others])
        db.session.commit()
    (report,) = world.collect().mailboxes
    assert (report.listed, report.fetched, report.processed, report.deleted) == (1, 1, 1, 1)
    assert world.on_server() == []
    with world.app.app_context():
        rows = db.session.scalars(select(ReceivedMessage).where(
            ReceivedMessage.mailbox_id.in_(others))).all()
        assert [(row.state, row.deleted_on_server_at) for row in rows] == [
            (PROCESSED, None), (PROCESSED, None)]


def test_long_from_to_and_date_headers_are_cut_to_their_columns(world):
    """The From and To kept on a message are cut to 500 characters, the Date to 100 (their
    columns), whatever the sender wrote."""
    sender = "labo@medical69.apicrypt.org"
    recipients = ", ".join(f"copie{n:03d}@medical69.apicrypt.org" for n in range(20))
    date = "Tue, 1 Dec 2026 09:00:00 +0100 " + "(" + "x" * 120 + ")"
    world.deliver(f"From: {'L' * 600} <{sender}>\r\nTo: bob.DURAND@medical69.apicrypt.org, "
                  f"{recipients}\r\nDate: {date}\r\nSubject: clair\r\n"
                  "Message-ID: <long-headers@test>\r\nContent-Type: text/plain\r\n\r\n"
                  f"{CLEAR_HPRIM}".encode())
    assert world.collect().total("processed") == 1
    (message,) = world.messages()
    assert (len(message.from_address), len(message.to_address), len(message.date_header)) == (
        500, 500, 100)
    assert message.from_address == "L" * 500
    assert message.to_address.startswith("bob.DURAND@medical69.apicrypt.org, copie000@")
    assert message.date_header == date[:100]


def test_a_reused_message_id_is_a_duplicate_only_with_the_same_bytes_whatever_their_hashes(
        world):
    """A duplicate is the same Message-ID AND the same bytes: a sender reusing a Message-ID
    for another message (a corrected result) must not lose it, whichever order the bytes'
    hashes sort in (``test_collect_paths``' version of this test has one order only, so it
    tells ``==`` from one of ``>=`` and ``<=`` on the hashes, not from both)."""
    import hashlib

    mails = [("From: labo@medical69.apicrypt.org\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
              f"Subject: version {n}\r\nMessage-ID: <reused@test>\r\n"
              f"Content-Type: text/plain\r\n\r\n{CLEAR_HPRIM}").encode()
             for n in (1, 2, 3)]
    # by hash: the greatest, the least, the middle one (an earlier message's hash above it,
    # another's below it), then the greatest again (a true duplicate)
    high, middle, low = sorted(mails, key=lambda raw: hashlib.sha256(raw).hexdigest(),
                               reverse=True)
    for raw in (high, low, middle, high):
        world.deliver(raw)
    report = world.collect()
    assert (report.total("processed"), report.total("duplicates")) == (3, 1)
    assert [m.state for m in world.messages()] == [PROCESSED] * 3 + ["duplicate"]


def test_refused_unprotected_mail_leaves_no_attachment_on_disk(world):
    """``apicryptRefuseUnprotectedMail``: a refused message's attachments, already written
    to its folder by the processing, are removed with it (only the raw message stays, for
    the quarantine)."""
    with world.app.app_context():
        bridge_state().settings.set("apicryptRefuseUnprotectedMail", "true")
        (plan,), _ = plan_mailboxes(bridge_state())
    world.deliver(b"From: evil@attacker.example\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
                  b"Subject: clair\r\nMessage-ID: <refused@test>\r\nMIME-Version: 1.0\r\n"
                  b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
                  b"--b\r\nContent-Type: text/plain\r\n\r\n" + CLEAR_HPRIM.encode() +
                  b"--b\r\nContent-Type: application/pdf\r\n"
                  b'Content-Disposition: attachment; filename="r.pdf"\r\n\r\n'
                  b"%PDF-1.4 clair\r\n--b--\r\n")
    world.collect()
    (message,) = world.messages()
    assert (message.state, message.attachments_json) == (QUARANTINED, "[]")
    assert "not encrypted with Apicrypt" in message.last_error
    assert Path(message.raw_path).is_file()
    messages_folder = Path(plan.settings["apicryptCheminInbox"]) / "messages"
    assert list(messages_folder.glob(f"{message.id}*")) == []


def test_a_processing_thread_that_cannot_make_its_work_folder_stops_the_mailbox(
        world, monkeypatch):
    """The disk full (or the like) when a processing thread makes its work folder: the error
    stops the mailbox with its message (it is raised in the reader's thread once the queue is
    emptied), the messages stay stored, and the next run processes them."""
    import errno
    import threading

    import medshake_bridge.collect.pipeline as pipeline
    import medshake_bridge.collect.workerpool as workerpool

    real_held = workerpool.held_work_dir

    def held(root, prefix="work-"):
        if threading.current_thread().name.startswith("collect-process"):
            raise OSError(errno.ENOSPC, "No space left on device (test)")
        return real_held(root, prefix)

    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = 1
    monkeypatch.setattr(workerpool, "held_work_dir", held)
    world.deliver(world.mail(subject="first"))
    world.deliver(world.mail(subject="second"))
    (mailbox,) = world.collect().mailboxes
    assert mailbox.outcome == "error" and "No space left on device (test)" in mailbox.error
    assert [m.state for m in world.messages()] == [STORED, STORED]
    assert world.documents() == [] and len(world.on_server()) == 2
    monkeypatch.setattr(workerpool, "held_work_dir", real_held)
    assert world.collect().total("processed") == 2 and world.on_server() == []


def test_a_bug_met_in_a_processing_thread_stops_the_mailbox_at_that_message(world, monkeypatch):
    """An unexpected error (a bug, not a message's fault) in a processing thread is not
    recorded on the message: the thread processes nothing more, the error stops the mailbox
    before the sequential pass, and every message stays stored for the next run."""
    import medshake_bridge.collect.pipeline as pipeline

    real_build = pipeline.build_documents
    calls: list[str] = []

    def buggy(row, parsed, owners):
        calls.append(row.server_id)
        raise RuntimeError("bug in the documents (test)")

    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = 1
    monkeypatch.setattr(pipeline, "build_documents", buggy)
    for n in range(3):
        world.deliver(world.mail(subject=f"message {n}"))
    (mailbox,) = world.collect().mailboxes
    assert mailbox.outcome == "error" and "bug in the documents (test)" in mailbox.error
    assert len(calls) == 1  # the thread stopped at it; no sequential pass
    assert [m.state for m in world.messages()] == [STORED] * 3
    assert world.documents() == [] and len(world.on_server()) == 3
    monkeypatch.setattr(pipeline, "build_documents", real_build)
    assert world.collect().total("processed") == 3 and world.on_server() == []


def test_a_setting_to_fix_met_by_one_thread_outranks_an_outage_met_by_another(
        world, monkeypatch):
    """Two processing threads, each stopped by its own message (held until both are in, so
    each thread has one): whichever thread met the setting to fix, the mailbox's waiting
    reason is the setting's, not the outage's (the threads' reports are merged in order)."""
    import threading

    import medshake_bridge.collect.pipeline as pipeline

    both_in = threading.Barrier(2, timeout=120)
    causes = iter([(CONFIGURATION, "the certificate password is wrong"),
                   (TRANSIENT, REASON)])
    handed = threading.Lock()
    threads: list[str] = []

    def failing(raw_path, *args, **kwargs):
        both_in.wait()
        with handed:
            cause, reason = next(causes)
            threads.append(threading.current_thread().name)
        raise BridgeError(reason, fix=f"fix for {cause}", cause=cause)

    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = 2
    monkeypatch.setattr(pipeline, "process_stored_message", failing)
    world.deliver(world.mail(subject="first"))
    world.deliver(world.mail(subject="second"))
    (mailbox,) = world.collect().mailboxes
    assert len(set(threads)) == 2
    assert mailbox.waiting == 2
    assert (mailbox.waiting_reason, mailbox.waiting_fix, mailbox.waiting_cause) == (
        "the certificate password is wrong", "fix for configuration", CONFIGURATION)


def test_a_mailbox_stopped_by_a_setting_is_a_configuration_error_a_busy_one_is_not(world):
    """``fetch`` exits 2 (an admin must act) when a mailbox stopped on a setting; a mailbox
    skipped because another collection holds it is no such error."""
    import medshake_bridge.collect.pipeline as pipeline

    world.deliver(world.mail())
    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = "many"
    report = world.collect()
    (mailbox,) = report.mailboxes
    assert (mailbox.outcome, mailbox.cause) == ("error", CONFIGURATION)
    assert report.configuration_error and not report.ok
    world.app.config[pipeline.PROCESS_WORKERS_CONFIG] = 1
    with world.app.app_context():
        (plan,), _ = plan_mailboxes(bridge_state())
        locks = Path(world.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
        with mailbox_lock(locks, plan.identity.key):
            busy = world.collect()
    assert busy.mailboxes[0].outcome == "busy"
    assert not busy.configuration_error and not busy.ok


# --- Found by the fourth pipeline sample (SAMPLE=60 SEED=21, docs/testing.md) -----------------


def test_a_collection_asked_for_one_user_deletes_on_the_server_like_the_scheduled_one(world):
    """The inbox page's "collect" (``collect_for``) and a queue worker call ``collect_mailbox``
    without saying ``dry_run``: a collection is real unless asked otherwise, so the mail it
    processed goes from the server (with ``dry_run=True`` as the default, a survivor of the
    fourth sample, the server would fill up whatever the site's deletion settings)."""
    from medshake_bridge.inbox.delegation import collect_for
    from medshake_bridge.models import User

    world.deliver(world.mail())
    with world.app.app_context():
        report, _names = collect_for(db.session.get(User, world.bob))
    (mailbox,) = report.mailboxes
    assert (mailbox.outcome, mailbox.processed, mailbox.deleted) == ("ok", 1, 1)
    assert world.on_server() == []


def test_a_collected_document_is_found_by_its_message_subject_and_sender(world):
    """A document's search text holds its message's subject and From address, which
    processing writes with the same UPDATE as the row's new state (``collect/rowwrite.py``):
    the row must hold them when its documents are built (a survivor of ``rowwrite.py``, the
    row's attributes left as they were after the UPDATE, left both out of the search)."""
    from mailworld import ALICE

    from medshake_bridge.search_text import fold

    world.deliver(world.mail(subject="Bilan lipidique Zorglub"))
    assert world.collect().total("processed") == 1
    documents = world.documents()
    assert documents
    for document in documents:
        assert fold("Bilan lipidique Zorglub") in document.search_text
        assert fold(f"{ALICE}@medical69.apicrypt.org") in document.search_text


@pytest.mark.parametrize("earlier_bytes", ["same", "sorting before", "sorting after"])
def test_a_retry_never_processes_again_a_copy_of_a_message_processed_before(world,
                                                                             earlier_bytes):
    """An admin's retry checks, one message at a time, that no earlier message of the same
    mailbox has its Message-ID and bytes: such a copy becomes a duplicate, not a second set
    of documents; the same Message-ID with other bytes is processed, whichever way the two
    hashes sort (the collection's chunks check this in ``_Known``; a retry has its own
    query, which no test reached before the fourth pipeline sample)."""
    world.deliver(world.mail())
    assert world.collect().total("processed") == 1
    with world.app.app_context():
        (first,) = db.session.scalars(select(ReceivedMessage)).all()
        sha256 = first.sha256
        if earlier_bytes != "same":  # the earlier message had other bytes than the retried one
            first.sha256 = ("0" if earlier_bytes == "sorting before" else "f") * 64
        copy = ReceivedMessage(mailbox_id=first.mailbox_id, server_id="copy-of-the-first",
                               message_id_header=first.message_id_header, sha256=sha256,
                               size=first.size, raw_path=first.raw_path, state=FAILED)
        db.session.add(copy)
        db.session.commit()
        assert copy.message_id_header
        outcome = retry_message(bridge_state(), copy.id)
        documents = db.session.scalar(select(func.count()).select_from(InboxDocument).where(
            InboxDocument.message_id == copy.id))
    if earlier_bytes == "same":
        assert (outcome, documents) == (DUPLICATE, 0)
    else:
        assert outcome == PROCESSED and documents > 0


@pytest.mark.parametrize("slice_size", [2, 500])
def test_every_message_deleted_on_the_server_is_marked_so_in_slices(world, monkeypatch,
                                                                    slice_size):
    """The rows of the messages a collection deleted on the server are marked gone by one
    UPDATE per slice of server ids (``MARK_SLICE``): every row, across slice boundaries (a
    survivor of the fifth pass, the first slice started at -1, marked only the last of a
    small collection)."""
    from medshake_bridge.collect import pipeline

    monkeypatch.setattr(pipeline, "MARK_SLICE", slice_size)
    for n in range(5):
        world.deliver(world.mail(subject=f"envoi {n}"))
    (report,) = world.collect().mailboxes
    assert (report.processed, report.deleted) == (5, 5)
    assert world.on_server() == []
    with world.app.app_context():
        marks = db.session.scalars(select(ReceivedMessage.deleted_on_server_at)).all()
    assert len(marks) == 5 and None not in marks
