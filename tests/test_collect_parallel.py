"""Mailboxes collected in parallel (issue 18): each in its own thread and database session,
each under its own lock, nothing lost or duplicated, reports in the plan's order."""

from __future__ import annotations

import threading
import time

import pytest
from mailbuild import HPRIM_LAB, sandbox_mail, seed_maildir
from mailworld import ALICE, CAROL, PER_MAILBOX
from sqlalchemy import func, select

from medshake_bridge import bridge_state
from medshake_bridge.collect.pipeline import (
    PROCESS_POOL_CONFIG,
    WORKERS_CONFIG,
    collect_all,
    collect_workers,
)
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.models.mail import ReceivedMessage


def _events(world, workers: int):
    seen: list[tuple[float, str, str, str]] = []

    def progress(event: str, info: dict) -> None:
        mailbox = info.get("mailbox") or getattr(info.get("report"), "mailbox", "")
        seen.append((time.monotonic(), event, str(mailbox), threading.current_thread().name))

    report = world.collect(progress=progress, workers=workers)
    return report, seen


def test_two_mailboxes_are_collected_at_the_same_time_without_loss_or_duplicate(two_full):
    world = two_full
    world.app.config[PROCESS_POOL_CONFIG] = "threads"  # forked processes: test_collect_processes
    report, seen = _events(world, workers=2)
    assert report.ok, report
    assert [m.fetched for m in report.mailboxes] == [PER_MAILBOX, PER_MAILBOX]
    # In the plan's order (Bob, then Carol), whichever finished first.
    assert [m.owners for m in report.mailboxes] == [[world.bob], [world.carol]]
    listed = [at for at, event, _, _ in seen if event == "listed"]
    done = [at for at, event, _, _ in seen if event == "mailbox-done"]
    assert len(listed) == len(done) == 2
    assert max(listed) < min(done)  # both were being collected at once
    assert len({thread for _, event, _, thread in seen if event == "listed"}) == 2
    owners = sorted(document.owner_user_id for document in world.documents())
    assert owners == [world.bob] * PER_MAILBOX + [world.carol] * PER_MAILBOX
    with world.app.app_context():
        rows = db.session.execute(select(ReceivedMessage.mailbox_id, func.count()).group_by(
            ReceivedMessage.mailbox_id)).all()
    assert sorted(count for _, count in rows) == [PER_MAILBOX, PER_MAILBOX]
    assert world.on_server() == [] and list((world.carol_maildir / "new").iterdir()) == []
    again, _ = _events(world, workers=2)  # a second run finds nothing new and redoes nothing
    assert [m.fetched for m in again.mailboxes] == [0, 0] and len(world.documents()) == 8


def test_one_worker_collects_one_mailbox_after_the_other(two_full):
    report, seen = _events(two_full, workers=1)
    assert report.ok, report
    order = [event for _, event, _, _ in seen if event in ("listed", "mailbox-done")]
    assert order == ["listed", "mailbox-done", "listed", "mailbox-done"]


def test_a_mailbox_being_collected_elsewhere_is_skipped_not_collected_twice(two_full):
    """Two parallel collections of the same mailboxes (a scheduler and a click): every
    message is still stored once."""
    world = two_full
    results = []

    def run() -> None:
        results.append(world.collect(workers=2))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == 2 and all(r.ok or any(m.outcome == "busy" for m in r.mailboxes)
                                     for r in results)
    assert len(world.documents()) == 2 * PER_MAILBOX
    with world.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(ReceivedMessage))
    assert count == 2 * PER_MAILBOX


@pytest.mark.parametrize(("configured", "expected"), [(None, "cores"), ("3", 3), (1, 1)])
def test_the_number_of_workers_is_configurable(world, configured, expected):
    import os

    if configured is not None:
        world.app.config[WORKERS_CONFIG] = configured
    with world.app.app_context():
        found = collect_workers(bridge_state())
        assert collect_workers(bridge_state(), 5) == 5
    assert found == (os.cpu_count() if expected == "cores" else expected)


@pytest.mark.parametrize("bad", ["0", "many", -2])
def test_a_bad_number_of_workers_names_the_setting(world, bad):
    world.app.config[WORKERS_CONFIG] = bad
    with world.app.app_context(), pytest.raises(ConfigurationError) as caught:
        collect_all(bridge_state())
    assert WORKERS_CONFIG in caught.value.message and WORKERS_CONFIG in caught.value.fix




def test_parallel_collection_on_every_database(db_app, tmp_path, monkeypatch):
    """Threads with their own sessions on SQLite, PostgreSQL and MariaDB alike."""
    from mailworld import World

    world = World(db_app, tmp_path, monkeypatch)
    world.carol_maildir = world.tmp / "maildirs" / CAROL
    for sub in ("cur", "new", "tmp"):
        (world.carol_maildir / sub).mkdir(parents=True)
    with world.app.app_context():
        world.carol = world.add_user("carol", CAROL, world.carol_maildir)
    for number in range(2):
        world.deliver(world.mail())
        seed_maildir(world.carol_maildir, sandbox_mail(
            world.net, world.tmp / "sender-work", sender=ALICE, recipient=CAROL,
            text=HPRIM_LAB), f"1700000000.M{number}P1.carol")
    report = world.collect(workers=2)
    assert report.ok, report
    assert [m.processed for m in report.mailboxes] == [2, 2]
    owners = sorted(document.owner_user_id for document in world.documents())
    assert owners == [world.bob] * 2 + [world.carol] * 2


def test_an_in_memory_database_is_collected_in_one_thread(make_app, tmp_path, monkeypatch):
    """An in-memory SQLite database is one connection shared by every thread (StaticPool):
    two threads must never use it at once, so neither mailboxes at once nor the processing
    thread are used there, and the collection is still complete."""
    from mailworld import World

    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_DATABASE_URL="sqlite://")
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    world.deliver(world.mail())
    world.deliver(world.mail())
    report = world.collect(workers=4)
    assert report.ok, report
    assert [m.processed for m in report.mailboxes] == [2]
    assert len(world.documents()) == 2


def test_messages_are_processed_while_the_next_ones_download(world, monkeypatch):
    """The reader hands committed batches to the processing threads through a bounded queue:
    with batches of 2 and a queue of 4 batches, at most 8 messages wait in the queue and each
    of the two threads holds a chunk of 2, so processing must have started before the 16th
    message is fetched (the reader would wait otherwise), and every message is processed
    once."""
    monkeypatch.setattr("medshake_bridge.collect.pipeline.FETCH_BATCH", 2)
    monkeypatch.setattr("medshake_bridge.collect.pipeline.PROCESS_QUEUE", 4)
    monkeypatch.setattr("medshake_bridge.collect.pipeline.process_workers",
                        lambda state, mailboxes_at_once=1: 2)  # whatever the cores
    for _ in range(16):
        world.deliver(world.mail())
    events: list[tuple[str, str]] = []

    def progress(event: str, info: dict) -> None:
        events.append((event, threading.current_thread().name))

    report = world.collect(progress=progress, workers=1)
    assert report.ok, report
    assert report.total("fetched") == report.total("processed") == 16
    order = [event for event, _ in events if event in ("fetched", "processed")]
    assert order.index("processed") < len(order) - 1 - order[::-1].index("fetched")
    assert all(thread.startswith("collect-process")
               for event, thread in events if event == "processed")
    assert len(world.documents()) == 16
