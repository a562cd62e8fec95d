"""Messages processed by forked worker processes (issue 18, sixth pass): every core works on
the messages' own processing, and the guarantees are those of the threads (no loss, nothing
twice, a crash of the parent or of a worker redone by the next run)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from multiprocessing.context import ForkProcess
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from mailworld import PER_MAILBOX
from medshake_apicrypt_v1.backend import ApicryptV1Backend
from medshake_maildir.collector import MaildirCollector

from medshake_bridge import bridge_state
from medshake_bridge.collect.pipeline import (
    FORK_MIN_MESSAGES,
    PROCESS_POOL_CONFIG,
    PROCESS_WORKERS_CONFIG,
    pool_kind,
)
from medshake_bridge.db import engine_url
from medshake_bridge.errors import ConfigurationError


class Rendezvous:
    """Each decryption leaves a file named after its process, then waits (polling files: the
    workers share nothing else) until ``wanted`` processes other than the test's are decrypting
    at once: a pool that ran in one process, or one message at a time, fails here."""

    def __init__(self, folder: Path, wanted: int) -> None:
        self.folder, self.wanted = folder, wanted
        folder.mkdir()

    def pids(self) -> set[int]:
        return {int(path.name.split("-")[0]) for path in self.folder.iterdir()}

    def wrap(self, decrypt):
        def decrypt_body(backend, armour: bytes) -> bytes:
            (self.folder / f"{os.getpid()}-{time.monotonic_ns()}").touch()
            deadline = time.monotonic() + 60
            while len(self.pids() - {TEST_PID}) < self.wanted:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"never {self.wanted} processes decrypting at once")
                time.sleep(0.01)
            return decrypt(backend, armour)

        return decrypt_body


TEST_PID = os.getpid()


def test_worker_processes_process_the_messages_at_once_on_every_database(db_world, monkeypatch,
                                                                          tmp_path):
    world = db_world
    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    world.app.config[PROCESS_WORKERS_CONFIG] = 2
    meeting = Rendezvous(tmp_path / "decrypting", wanted=2)
    monkeypatch.setattr(ApicryptV1Backend, "decrypt_body",
                        meeting.wrap(ApicryptV1Backend.decrypt_body))
    for index in range(7):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    seen = []
    report = world.collect(progress=lambda event, info: seen.append((event, info)))
    assert report.ok, [m.last_error for m in world.messages()]
    workers = meeting.pids() - {os.getpid()}
    assert len(workers) == 2 and os.getpid() not in meeting.pids()
    (mailbox,) = report.mailboxes
    assert (mailbox.fetched, mailbox.processed, mailbox.documents, mailbox.deleted) == (
        7, 7, 7, 7)
    messages = world.messages()
    assert {m.state for m in messages} == {"processed"}
    assert sorted(d.message_id for d in world.documents()) == [m.id for m in messages]
    assert sorted(m.subject for m in messages) == [f"Résultats {n}" for n in range(7)]
    # the workers' progress reaches the caller, once per message
    assert sorted(info["message"] for event, info in seen if event == "processed") == [
        m.id for m in messages]


def test_a_worker_process_that_dies_stops_the_mailbox_and_the_next_run_finishes(world,
                                                                                 monkeypatch):
    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    world.app.config[PROCESS_WORKERS_CONFIG] = 1
    real = ApicryptV1Backend.decrypt_body
    calls = {"n": 0}

    def dies_on_the_third(backend, armour):
        calls["n"] += 1  # counted in the worker's own copy
        if calls["n"] == 3:
            os._exit(7)  # the worker process only
        return real(backend, armour)

    monkeypatch.setattr(ApicryptV1Backend, "decrypt_body", dies_on_the_third)
    for index in range(5):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    report = world.collect()
    (mailbox,) = report.mailboxes
    assert mailbox.outcome == "error"
    assert "ended unexpectedly (exit code 7)" in mailbox.error
    assert "MEDSHAKE_BRIDGE_PROCESS_POOL" in mailbox.fix
    assert len(world.on_server()) == 5  # nothing deleted after a worker's death
    assert {m.state for m in world.messages()} == {"processed", "stored"}
    monkeypatch.setattr(ApicryptV1Backend, "decrypt_body", real)
    world.app.config[PROCESS_POOL_CONFIG] = "threads"
    again = world.collect()
    assert again.ok and again.total("fetched") == 0 and again.total("deleted") == 5
    messages = world.messages()
    assert len(messages) == 5 and {m.state for m in messages} == {"processed"}
    assert sorted(d.message_id for d in world.documents()) == [m.id for m in messages]


PARENT_KILLED = """
import os, signal, sys, time
from pathlib import Path
from medshake_bridge import bridge_state, create_app, hookimpl
from medshake_bridge.collect.pipeline import collect_all

pids = Path(sys.argv[4])
COLLECTION = os.getpid()

class KillTheParent:
    stored = 0

    @hookimpl
    def medshake_message_stored(self, message, documents):
        if os.getpid() == COLLECTION:
            os._exit(3)   # processed in the collection's own process: no worker was forked
        (pids / str(os.getpid())).touch()
        KillTheParent.stored += 1
        if KillTheParent.stored == int(sys.argv[3]):
            os.kill(os.getppid(), signal.SIGKILL)   # the collection's process, mid-pool

# the reader slowed down after the first batch: it is still downloading when the parent dies
from medshake_maildir.collector import MaildirCollector
fetch_to, fetched = MaildirCollector.fetch_to, [0]

def slow_fetch_to(self, server_id, dest):
    fetched[0] += 1
    if fetched[0] > 60:
        time.sleep(0.02)
    return fetch_to(self, server_id, dest)

MaildirCollector.fetch_to = slow_fetch_to

app = create_app({"INSTANCE_PATH": sys.argv[1], "MEDSHAKE_BRIDGE_SECRET_KEYS": [sys.argv[2]],
                  "MEDSHAKE_BRIDGE_PROCESS_WORKERS": 2,
                  "MEDSHAKE_BRIDGE_PLUGINS": [KillTheParent()]})
with app.app_context():
    collect_all(bridge_state())   # auto: this process runs no other thread
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_collection_killed_mid_pool_loses_nothing_and_its_workers_stop(db_world, tmp_path,
                                                                           monkeypatch):
    world = db_world
    total = FORK_MIN_MESSAGES + 20  # enough for ``auto`` to fork
    raw = world.mail(subject="Résultats")
    for index in range(total):
        world.deliver(raw.replace(b"Message-ID: <", f"Message-ID: <{index}.".encode(), 1))
    pids = tmp_path / "worker-pids"
    pids.mkdir()
    env = dict(os.environ)
    env.pop(PROCESS_POOL_CONFIG, None)
    if world.backend != "sqlite":
        env["MEDSHAKE_BRIDGE_DATABASE_URL"] = engine_url(world.app)
    crashed = subprocess.run(
        [sys.executable, "-c", PARENT_KILLED, world.app.instance_path, TEST_SECRET_KEY, "1",
         str(pids)], capture_output=True, timeout=300, env=env)
    assert crashed.returncode == -9, crashed.stderr.decode()
    workers = {int(path.name) for path in pids.iterdir()}
    assert 1 <= len(workers) <= 2
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # a worker notices within a second that its parent is gone
    assert not any(_alive(pid) for pid in workers)
    assert len(world.on_server()) == total  # the kill came before any deletion
    before = world.messages()
    done_before = sum(m.state == "processed" for m in before)
    assert 1 <= done_before < total
    assert len(world.documents()) == done_before  # committed with their message, once
    report = world.collect()
    assert report.ok, report
    (mailbox,) = report.mailboxes
    # every message the killed run had not committed is stored once now (its raw file
    # adopted when the killed run had downloaded it)
    assert mailbox.fetched == total - len(before)
    assert mailbox.processed == total - done_before
    assert mailbox.deleted == total and world.on_server() == []
    messages = world.messages()
    assert len(messages) == total and len({m.server_id for m in messages}) == total
    assert {m.state for m in messages} == {"processed"}
    assert sorted(d.message_id for d in world.documents()) == sorted(m.id for m in messages)


def test_a_worker_process_lends_its_own_file_limit_to_the_programs(world, monkeypatch):
    """In a forked worker no other thread writes files: the decryption programs get the
    file-size limit from the worker itself, without a prlimit per run, and a decryption that
    writes too much is still stopped and set aside."""
    from medshake_bridge.runner import Runner

    def no_prlimit(*args, **kwargs):
        raise AssertionError("prlimit started by a worker process")

    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxDecryptedMo", "1")
    world.deliver(world.mail(attachments=[("big.pdf", b"%PDF" + os.urandom(2_500_000))]))
    world.deliver(world.mail(attachments=[("small.pdf", b"%PDF" + os.urandom(1000))]))
    monkeypatch.setattr(Runner, "_limiter", no_prlimit)  # inherited by the forked workers
    report = world.collect()
    big, small = world.messages()
    assert small.state == "processed", small.last_error
    assert big.state == "failed" and big.error_cause == "content", big.last_error
    assert "big.pdf" in big.last_error and "apicryptMaxDecryptedMo" in big.error_fix
    assert report.total("processed") == 1 and len(world.on_server()) == 1


def test_which_workers_a_collection_uses(world):
    with world.app.app_context():
        state = bridge_state()
        for value, messages, expected in (("threads", 5000, "threads"),
                                          ("processes", 1, "processes"),
                                          ("auto", FORK_MIN_MESSAGES - 1, "threads"),
                                          (" Processes ", 1, "processes")):
            world.app.config[PROCESS_POOL_CONFIG] = value
            assert pool_kind(state, messages) == expected, value
        world.app.config[PROCESS_POOL_CONFIG] = "auto"
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:  # another thread could hold a lock a fork would copy held
            assert pool_kind(state, FORK_MIN_MESSAGES) == "threads"
        finally:
            stop.set()
            other.join()
        world.app.config[PROCESS_POOL_CONFIG] = "forks"
        with pytest.raises(ConfigurationError) as refused:
            pool_kind(state, 1)
        assert "auto, processes or threads" in refused.value.fix


def test_mailboxes_collected_at_once_each_in_its_own_process(two_full, monkeypatch, tmp_path):
    world = two_full
    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    meeting = Rendezvous(tmp_path / "decrypting", wanted=2)
    monkeypatch.setattr(ApicryptV1Backend, "decrypt_body",
                        meeting.wrap(ApicryptV1Backend.decrypt_body))
    seen = []
    report = world.collect(workers=2, progress=lambda event, info: seen.append((event, info)))
    assert report.ok, report
    assert len(meeting.pids() - {os.getpid()}) >= 2 and os.getpid() not in meeting.pids()
    # in the plan's order (Bob, then Carol), whichever finished first
    assert [m.owners for m in report.mailboxes] == [[world.bob], [world.carol]]
    assert [(m.fetched, m.processed, m.deleted) for m in report.mailboxes] == [
        (PER_MAILBOX, PER_MAILBOX, PER_MAILBOX)] * 2
    assert [event for event, _ in seen].count("mailbox-done") == 2
    assert [event for event, _ in seen].count("processed") == 2 * PER_MAILBOX
    messages = world.messages()
    assert len(messages) == 2 * PER_MAILBOX and {m.state for m in messages} == {"processed"}
    assert sorted(d.message_id for d in world.documents()) == [m.id for m in messages]


def test_a_mailbox_process_that_dies_fails_its_mailbox_only(two_full, monkeypatch):
    world = two_full
    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    fetch_to = MaildirCollector.fetch_to
    carols = str(world.carol_maildir)

    def dies_in_carols_mailbox(self, server_id, dest):
        if str(self.folder) == carols:
            os._exit(5)  # Carol's mailbox process, while downloading
        return fetch_to(self, server_id, dest)

    monkeypatch.setattr(MaildirCollector, "fetch_to", dies_in_carols_mailbox)
    report = world.collect(workers=2)
    bob, carol = report.mailboxes
    assert bob.outcome == "ok" and bob.processed == PER_MAILBOX
    assert carol.outcome == "error" and carol.owners == [world.carol]
    assert "ended unexpectedly (exit code 5)" in carol.error
    assert PROCESS_POOL_CONFIG in carol.fix
    assert len(list((world.carol_maildir / "new").iterdir())) == PER_MAILBOX  # all kept there
    monkeypatch.setattr(MaildirCollector, "fetch_to", fetch_to)
    again = world.collect(workers=2)
    assert again.ok, again
    assert [m.processed for m in again.mailboxes] == [0, PER_MAILBOX]
    assert len(world.documents()) == 2 * PER_MAILBOX


def test_where_no_process_can_be_forked_the_collection_runs_in_threads(two_full, monkeypatch,
                                                                       caplog):
    world = two_full
    world.app.config[PROCESS_POOL_CONFIG] = "processes"
    forks = []

    def refused(process):
        forks.append(process.name)
        raise OSError(11, "Resource temporarily unavailable")  # fork's EAGAIN: process limit

    monkeypatch.setattr(ForkProcess, "_Popen", staticmethod(refused))
    report = world.collect(workers=2)
    assert report.ok, report
    assert [(m.fetched, m.processed, m.deleted) for m in report.mailboxes] == [
        (PER_MAILBOX, PER_MAILBOX, PER_MAILBOX)] * 2
    assert len(world.documents()) == 2 * PER_MAILBOX
    # each mailbox's process was refused, then each mailbox's processing workers
    assert [name for name in forks if name.startswith("collect-process")] and [
        name for name in forks if not name.startswith("collect-process")]
    assert "collected here" in caplog.text and "threads instead" in caplog.text


def _connection_seen_by_a_child(engine, answer) -> None:
    with engine.connect() as connection:
        answer.send(id(connection.connection.dbapi_connection))
    answer.close()


def test_a_forked_child_never_uses_a_pooled_connection_of_its_parent(tmp_path):
    from sqlalchemy import create_engine, text

    from medshake_bridge.collect import forked

    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    with engine.connect() as connection:  # opened before the guard existed, then pooled
        connection.execute(text("select 1"))
        parents = id(connection.connection.dbapi_connection)
    context = forked.fork_context()  # installs the guard on every pool
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_connection_seen_by_a_child, args=(engine, sending))
    child.start()
    sending.close()
    childs = receiving.recv()
    child.join()
    assert child.exitcode == 0
    assert childs != parents  # the child opened its own
    with engine.connect() as connection:  # the parent's is still its own, in its pool
        assert id(connection.connection.dbapi_connection) == parents
    engine.dispose()
