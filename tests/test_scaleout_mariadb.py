"""The celery execution mode on MariaDB: the per-mailbox lock is ``GET_LOCK`` there.

Real parts: MariaDB (this session's own database on 127.0.0.1:3306), a Redis of the test's
own, dovecot over POP3/TLS, the sandbox programs, and two real ``medshake-bridge worker``
processes under their own host names. Several mailboxes are collected by both workers, each
once; then two jobs race for one mailbox: while the first holds it (its collection held in the
middle by the test plugin), the second, on whichever worker thread takes it (each with its own
database connection), finds the lock taken and is skipped; nothing is lost or duplicated.
"""

from __future__ import annotations

import pytest
from scaleworld import scale_world_mariadb_fixture, wait_for  # noqa: F401 - the fixture
from sqlalchemy import func, select

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models.mail import ReceivedMessage
from medshake_bridge.models.scale import COLLECT

pytestmark = [pytest.mark.real_component("mariadb"), pytest.mark.real_component("dovecot"),
              pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]


def _no_duplicates(world) -> None:
    pairs = world.query(select(ReceivedMessage.mailbox_id, ReceivedMessage.server_id,
                               func.count()).group_by(ReceivedMessage.mailbox_id,
                                                      ReceivedMessage.server_id))
    assert pairs and all(count == 1 for *_, count in pairs)
    assert world.stored() == world.seeded == world.processed() == world.documents()


def _job(world, job_id: int):
    return next(job for job in world.jobs() if job.id == job_id)


def test_two_workers_on_mariadb_collect_each_mailbox_once_and_race_for_one_under_get_lock(
        scale_world_mariadb):
    world = scale_world_mariadb
    assert world.database_url.startswith("mysql")
    hold = world.tmp / "hold"
    world.extra_env["MEDSHAKE_TEST_STORED_HOLD"] = str(hold)
    mailboxes = world.add_mailboxes(4)
    world.seed(mailboxes, 2)
    world.start_worker("host-a", concurrency=2)
    world.start_worker("host-b", concurrency=2)
    world.wait_workers(2)
    result = world.app.test_cli_runner().invoke(args=["bridge", "fetch", "--enqueue"])
    assert result.exit_code == 0, result.output
    assert "4 queued" in result.output
    wait_for(world.everything_collected, 60, 0.3, "the 4 mailboxes collected")
    _no_duplicates(world)
    first = wait_for(lambda: (lambda jobs: jobs if len(jobs) == 4 and all(
        job.state == "ok" for job in jobs) else None)(world.jobs()), 20, 0.2,
        "the 4 jobs finished")
    assert sorted(job.target for job in first) == sorted({job.target for job in first})
    assert all(job.attempts == 1 and job.host in ("host-a", "host-b") for job in first)

    # The race: job A collects mailbox 1 and is held in the middle, its GET_LOCK taken;
    # job B for the same mailbox, taken by another worker thread, must not collect it too.
    from medshake_bridge.collect.mailboxes import plan_mailboxes
    from medshake_bridge.scale import ledger
    from medshake_bridge.scale.celery_app import COLLECT_TASK, publish
    from medshake_bridge.scale.dispatch import enqueue_collection

    world.seed(mailboxes[:1], 3, first=2)
    hold.touch()
    with world.app.app_context():
        report = enqueue_collection(world.app, trigger="cli", user_ids=[mailboxes[0].user_id])
        db.session.remove()
    assert report.enqueued == 1
    (job_a,) = report.jobs
    running = wait_for(lambda: (lambda job: job if job.state == "running" else None)(
        _job(world, job_a)), 30, 0.1, "job A collecting, held in the middle")
    wait_for(lambda: world.stored() > world.seeded - 3, 30, 0.1, "job A stored a message")
    busy_host = running.host
    with world.app.app_context():
        (plan,) = [plan for plan in plan_mailboxes(bridge_state(world.app))[0]
                   if plan.identity.key == running.target]
        job_b = ledger.record(COLLECT, plan.identity.key, trigger="cli").id
        publish(world.app, COLLECT_TASK, job_b, plan.owners)
        ledger.mark_sent(job_b)
        db.session.remove()
    skipped = wait_for(lambda: (lambda job: job if job.state == "skipped" else None)(
        _job(world, job_b)), 30, 0.1, "job B skipped: the mailbox is locked")
    assert "another job was collecting this mailbox" in skipped.error
    assert _job(world, job_a).state == "running"
    hold.unlink()
    done = wait_for(lambda: (lambda job: job if job.state == "ok" else None)(
        _job(world, job_a)), 30, 0.2, "job A finished")
    assert done.host == busy_host and done.attempts == 1
    assert wait_for(world.everything_collected, 30, 0.3, "mailbox 1 collected whole")
    _no_duplicates(world)
    assert world.processed() == 11
