"""Several messages of one mailbox processed at once (issue 18, third pass): a pool of
processing threads, each with its own session, on every database; a crash in the middle of
the pool loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from conftest import TEST_SECRET_KEY
from medshake_apicrypt_v1.backend import ApicryptV1Backend

from medshake_bridge import bridge_state
from medshake_bridge.collect.pipeline import (
    PROCESS_WORKERS_CONFIG,
    collect_all,
    process_workers,
)
from medshake_bridge.db import engine_url
from medshake_bridge.errors import ConfigurationError


class Overlap:
    """Counts the bodies being decrypted at the same moment; each waits (an event, never a
    sleep) until ``wanted`` were seen at once, so a pool that processed one message at a
    time would fail its messages here instead of passing by luck."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.now = self.peak = 0
        self.condition = threading.Condition()
        self.threads: set[str] = set()

    def wrap(self, decrypt):
        def decrypt_body(backend, armour: bytes) -> bytes:
            with self.condition:
                self.now += 1
                self.peak = max(self.peak, self.now)
                self.threads.add(threading.current_thread().name)
                self.condition.notify_all()
                reached = self.condition.wait_for(lambda: self.peak >= self.wanted, timeout=60)
            try:
                if not reached:
                    raise RuntimeError(f"never {self.wanted} messages processed at once")
                return decrypt(backend, armour)
            finally:
                with self.condition:
                    self.now -= 1

        return decrypt_body


def test_several_messages_are_processed_at_once_on_every_database(db_world, monkeypatch):
    world = db_world
    world.app.config[PROCESS_WORKERS_CONFIG] = 3
    overlap = Overlap(wanted=3)
    monkeypatch.setattr(ApicryptV1Backend, "decrypt_body",
                        overlap.wrap(ApicryptV1Backend.decrypt_body))
    for index in range(7):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    report = world.collect()
    assert report.ok, [m.last_error for m in world.messages()]
    assert overlap.peak >= 3 and len(overlap.threads) >= 3
    assert all(name.startswith("collect-process-") for name in overlap.threads)
    (mailbox,) = report.mailboxes
    assert (mailbox.fetched, mailbox.processed, mailbox.documents, mailbox.deleted) == (
        7, 7, 7, 7)
    messages = world.messages()
    assert {m.state for m in messages} == {"processed"}
    documents = world.documents()
    assert sorted(d.message_id for d in documents) == [m.id for m in messages]
    assert sorted(m.subject for m in messages) == [f"Résultats {n}" for n in range(7)]


def test_the_number_of_processing_threads_is_configurable_and_shared(world):
    with world.app.app_context():
        state = bridge_state()
        world.app.config[PROCESS_WORKERS_CONFIG] = None
        assert process_workers(state) == (os.cpu_count() or 1)
        world.app.config[PROCESS_WORKERS_CONFIG] = "6"
        assert process_workers(state) == 6
        assert process_workers(state, mailboxes_at_once=4) == 2  # each mailbox its share
        assert process_workers(state, mailboxes_at_once=8) == 1  # never none
        world.app.config[PROCESS_WORKERS_CONFIG] = "0"
        with pytest.raises(ConfigurationError) as caught:
            process_workers(state)
    assert PROCESS_WORKERS_CONFIG in caught.value.message
    assert PROCESS_WORKERS_CONFIG in caught.value.fix


def test_a_bad_number_of_processing_threads_stops_the_mailbox_with_its_fix(world):
    world.app.config[PROCESS_WORKERS_CONFIG] = "many"
    world.deliver(world.mail())
    with world.app.app_context():
        report = collect_all(bridge_state(), workers=1)
    (mailbox,) = report.mailboxes
    assert mailbox.outcome == "error" and PROCESS_WORKERS_CONFIG in mailbox.fix
    assert len(world.on_server()) == 1 and world.documents() == []


CRASH_IN_THE_POOL = """
import os, sys, threading
from medshake_bridge import bridge_state, create_app, hookimpl
from medshake_bridge.collect.pipeline import collect_all

class CrashMidPool:
    stored = 0
    lock = threading.Lock()

    @hookimpl
    def medshake_message_stored(self, message, documents):
        with CrashMidPool.lock:
            CrashMidPool.stored += 1
            if CrashMidPool.stored == int(sys.argv[3]):
                os._exit(9)   # killed while the other threads are mid-message

app = create_app({"INSTANCE_PATH": sys.argv[1], "MEDSHAKE_BRIDGE_SECRET_KEYS": [sys.argv[2]],
                  "MEDSHAKE_BRIDGE_PROCESS_WORKERS": 3,
                  "MEDSHAKE_BRIDGE_PLUGINS": [CrashMidPool()]})
with app.app_context():
    collect_all(bridge_state())
"""


def test_a_crash_in_the_middle_of_the_pool_loses_nothing_and_duplicates_nothing(db_world):
    world = db_world
    total = 9
    for index in range(total):
        world.deliver(world.mail(subject=f"Résultats {index}"))
    env = dict(os.environ)
    if world.backend != "sqlite":
        env["MEDSHAKE_BRIDGE_DATABASE_URL"] = engine_url(world.app)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_IN_THE_POOL, world.app.instance_path, TEST_SECRET_KEY,
         "4"], capture_output=True, timeout=300, env=env)
    assert crashed.returncode == 9, crashed.stderr.decode()
    assert len(world.on_server()) == total  # the crash came before any deletion
    before = world.messages()
    done_before = sum(m.state == "processed" for m in before)
    assert done_before >= 4
    assert len(world.documents()) == done_before  # committed with their message, once
    report = world.collect()
    assert report.ok, report
    (mailbox,) = report.mailboxes
    # every message is stored once: what the first run committed is not fetched again
    assert mailbox.fetched + mailbox.adopted == total - len(before)
    assert mailbox.processed == total - done_before
    assert mailbox.deleted == total and world.on_server() == []
    messages = world.messages()
    assert len(messages) == total and len({m.server_id for m in messages}) == total
    assert {m.state for m in messages} == {"processed"}
    assert sorted(m.subject for m in messages) == [f"Résultats {n}" for n in range(total)]
    documents = world.documents()
    # one document per message: none lost, none twice
    assert sorted(d.message_id for d in documents) == sorted(m.id for m in messages)
