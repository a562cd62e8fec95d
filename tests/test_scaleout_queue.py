"""The celery execution mode without workers: what is put on the queue, and what happens when
the queue is away. A Redis of the test's own (its lists are read with LLEN); SQLite.

The default (``inline``) is untouched: no Celery import, ``--enqueue`` and ``worker`` refuse
with the fix, ``workers`` says there is no queue.
"""

from __future__ import annotations

import html
import subprocess
import sys

import pytest
from scaleworld import REDIS_SERVER, RedisServer
from web_helpers import login, post

from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.models.scale import QueueJob
from medshake_bridge.scale.executor import broker_url, executor_mode
from medshake_bridge.scale.status import queue_depths


@pytest.fixture
def redis(tmp_path):
    import os

    from support.components import require_component

    require_component("redis", os.access(REDIS_SERVER, os.X_OK),
                      "no redis-server; install it with `apt-get install -y redis-server`")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def queued_world(world, redis):
    world.app.config.update(MEDSHAKE_BRIDGE_EXECUTOR="celery",
                            MEDSHAKE_BRIDGE_CELERY_BROKER_URL=redis.url(3))
    world.redis = redis
    return world


def _jobs(world) -> list[QueueJob]:
    with world.app.app_context():
        rows = list(db.session.query(QueueJob).order_by(QueueJob.id))
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_collect_now_enqueues_and_answers_at_once(queued_world):
    world = queued_world
    world.deliver(world.mail())
    client = world.app.test_client()
    assert login(client, "bob", "password for tests").status_code == 302
    page = html.unescape(post(client, "/inbox/collect", page="/inbox/",
                              follow_redirects=True).get_data(as_text=True))
    assert "Relève de 1 boîte(s) demandée" in page
    (job,) = _jobs(world)
    assert (job.kind, job.trigger, job.state, job.sends) == ("collect", "page", "queued", 1)
    assert queue_depths(world.redis.url(3)) == ({"collect": 1, "jobs": 0}, "")
    assert len(world.on_server()) == 1 and world.messages() == []  # nothing collected here

    again = html.unescape(post(client, "/inbox/collect", page="/inbox/",
                               follow_redirects=True).get_data(as_text=True))
    assert "déjà en attente de relève" in again
    assert len(_jobs(world)) == 1 and queue_depths(world.redis.url(3))[0]["collect"] == 1


def test_fetch_enqueue_keeps_the_jobs_when_the_broker_is_away(queued_world):
    world = queued_world
    world.redis.stop()
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["bridge", "fetch", "--enqueue"])
    assert result.exit_code == 1, result.output
    assert "0 queued" in result.output and "1 not sent" in result.output
    assert "The broker could not be reached" in result.output
    (job,) = _jobs(world)
    assert job.state == "unsent" and "the broker could not be reached" in job.error

    world.redis.start()
    result = runner.invoke(args=["bridge", "fetch", "--enqueue"])
    assert result.exit_code == 0, result.output
    assert "1 sent again" in result.output
    (job,) = _jobs(world)
    assert job.state == "queued" and job.error == ""
    assert queue_depths(world.redis.url(3))[0]["collect"] == 1


INLINE_PROBE = """
import sys
from cryptography.fernet import Fernet
from medshake_bridge import bridge_state, create_app, migrate
import medshake_bridge.cli, medshake_bridge.scale.celery_app, medshake_bridge.scale.dispatch
app = create_app({"INSTANCE_PATH": sys.argv[1],
                  "MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()]})
migrate.upgrade(app)
with app.app_context():
    from medshake_bridge.collect.pipeline import collect_all
    from medshake_bridge.scale.status import cluster_status
    collect_all(bridge_state()); cluster_status(app)
print("celery" in sys.modules)
"""


def test_inline_mode_stays_as_it_was(app, tmp_path):
    assert executor_mode(app) == "inline"
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["bridge", "fetch", "--enqueue"])
    assert refused.exit_code == 2 and "MEDSHAKE_BRIDGE_EXECUTOR=celery" in refused.output
    worker = runner.invoke(args=["bridge", "worker"])
    assert worker.exit_code != 0 and "the execution mode is inline" in worker.output
    listed = runner.invoke(args=["bridge", "workers"])
    assert listed.exit_code == 0 and "Execution mode: inline" in listed.output
    # Celery is imported only in celery mode: an inline process never loads it.
    probe = subprocess.run([sys.executable, "-c", INLINE_PROBE, str(tmp_path / "probe")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert probe.stdout.strip() == "False", probe.stdout + probe.stderr


def test_a_wrong_mode_or_a_missing_broker_names_the_fix(app):
    app.config["MEDSHAKE_BRIDGE_EXECUTOR"] = "celeri"
    with pytest.raises(ConfigurationError) as wrong:
        executor_mode(app)
    assert "inline" in wrong.value.fix and "celery" in wrong.value.fix
    app.config["MEDSHAKE_BRIDGE_EXECUTOR"] = "celery"
    with pytest.raises(ConfigurationError) as missing:
        broker_url(app)
    assert "MEDSHAKE_BRIDGE_CELERY_BROKER_URL" in missing.value.fix
    result = app.test_cli_runner().invoke(args=["bridge", "fetch", "--enqueue"])
    assert result.exit_code == 2 and "MEDSHAKE_BRIDGE_CELERY_BROKER_URL" in result.output


def test_collect_now_without_a_broker_setting_says_what_to_do(world):
    world.app.config.update(MEDSHAKE_BRIDGE_EXECUTOR="celery",
                            MEDSHAKE_BRIDGE_CELERY_BROKER_URL="")
    world.deliver(world.mail())
    client = world.app.test_client()
    assert login(client, "bob", "password for tests").status_code == 302
    response = post(client, "/inbox/collect", page="/inbox/", follow_redirects=True)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "flash-error" in page and "MEDSHAKE_BRIDGE_CELERY_BROKER_URL" in page
    assert _jobs(world) == [] and len(world.on_server()) == 1


def test_the_history_purge_forgets_old_finished_jobs_and_gone_workers(app_ctx):
    import datetime as dt

    from medshake_bridge.models.scale import WorkerHeartbeat
    from medshake_bridge.models.settings import utcnow
    from medshake_bridge.scheduler.runs import purge_runs

    old = utcnow() - dt.timedelta(days=40)

    def job(state: str, created: dt.datetime) -> QueueJob:
        return QueueJob(kind="collect", target=f"pop3://{state}@x:995", trigger="schedule",
                        state=state, attempts=1, sends=1, enqueued_by="h", host="h", worker="w",
                        created_at=created, counts_json="{}", error="")

    db.session.add_all([job("ok", old), job("unsent", old), job("ok", utcnow()),
                        WorkerHeartbeat(name="gone@h", host="h", pid=1, queues="collect",
                                        concurrency=1, running=0, started_at=old,
                                        last_seen_at=old, broker_error=""),
                        WorkerHeartbeat(name="alive@h", host="h", pid=2, queues="collect",
                                        concurrency=1, running=0, started_at=old,
                                        last_seen_at=utcnow(), broker_error="")])
    db.session.commit()
    purge_runs(30)
    recent = utcnow() - dt.timedelta(days=1)
    left = sorted((row.state, row.created_at.replace(tzinfo=dt.UTC) > recent)
                  for row in db.session.query(QueueJob))
    assert left == [("ok", True), ("unsent", False)]  # a job still owed is never forgotten
    assert [row.name for row in db.session.query(WorkerHeartbeat)] == ["alive@h"]


def test_enqueue_passes_take_turns(queued_world, monkeypatch):
    """A pass waits for the one before it (else two passes, one stuck on an absent broker,
    would each record a job for the same mailbox), and gives up with LockBusy, recording
    nothing, when the other pass does not end."""
    from pathlib import Path

    from medshake_bridge.dblocks import LockBusy, named_lock
    from medshake_bridge.scale import dispatch

    world = queued_world
    world.deliver(world.mail())
    monkeypatch.setattr(dispatch, "PASS_WAIT_SECONDS", 0.5)
    with world.app.app_context():
        folder = Path(world.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
        with named_lock("queue-enqueue", folder=folder, file_name="queue-enqueue.lock"), \
                pytest.raises(LockBusy):
            dispatch.enqueue_collection(world.app, trigger="cli")
        assert _jobs(world) == []
        report = dispatch.enqueue_collection(world.app, trigger="cli")
    assert report.enqueued == 1 and len(_jobs(world)) == 1
