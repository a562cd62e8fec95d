"""A worker killed (``kill -9``) in the middle of a planned task: history says "interrupted"
(with the host) instead of "running" for ever, and the task runs again exactly once.

Real parts: PostgreSQL, a Redis of the test's own, real ``medshake-bridge worker`` and
``scheduler`` processes under their own host names. The planned task is the test plugin's
``test-blocking``, which waits while a "hold" file exists: the test kills its worker while it
waits, lifts the hold, and starts another worker.

* same host: the new worker, starting, closes what the dead one left (``recover_at_start``);
* another host: the scheduler leader closes the runs of a worker whose heartbeat stopped
  (``recover_lost_workers``).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from scaleworld import scale_world_fixture, task_runs, wait_for  # noqa: F401 - the fixture

from medshake_bridge.db import db
from medshake_bridge.models.tasks import TaskRun

pytestmark = [pytest.mark.real_component("postgresql"), pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::ResourceWarning")]
TASK = "test-blocking"
TICK = datetime(2027, 1, 1, tzinfo=UTC)


def _runs(world) -> list[TaskRun]:
    return task_runs(world, TASK)


def _lines(folder) -> list[str]:
    path = folder / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


def _task_jobs(world) -> list:
    """The queue's jobs of the blocking task: a leader started by a test also puts the
    site's other planned jobs on the queue when their time comes (a collection every few
    minutes by day), whatever the test does."""
    return [job for job in world.jobs() if job.kind == "job" and job.target == TASK]


def _blocked_then_killed(world, host: str):
    """Put the blocking task on the queue (as the leader does at a tick), let ``host``'s
    worker start it, kill -9 that worker mid-task; returns the hold folder."""
    from medshake_bridge.scale.dispatch import enqueue_planned

    folder = world.tmp / "blocking"
    folder.mkdir()
    (folder / "hold").touch()
    world.extra_env.update(MEDSHAKE_TEST_BLOCKING_DIR=str(folder),
                           MEDSHAKE_TEST_COLLECT_SECONDS="0")
    world.start_worker(host, concurrency=1)
    world.wait_workers(1)
    with world.app.app_context():
        report = enqueue_planned(world.app, TASK, trigger="schedule", scheduled_for=TICK)
        db.session.remove()
    assert report.enqueued == 1, report
    wait_for(lambda: _lines(folder) == [f"start {host} " + _lines(folder)[0].split()[-1]]
             if _lines(folder) else None, 30, 0.1, "the task started on the worker")
    (run,) = wait_for(lambda: _runs(world) or None, 10, 0.1, "its run recorded")
    assert (run.outcome, run.host) == ("running", host)
    world.kill(host)  # kill -9 in the middle of the task
    (folder / "hold").unlink()  # the run that follows goes to its end
    assert [run.outcome for run in _runs(world)] == ["running"]
    return folder


def _ran_again_once(world, folder, first_host: str, second_host: str) -> list[TaskRun]:
    (job,) = wait_for(lambda: (lambda jobs: jobs if jobs and jobs[0].state == "ok" else None)(
        _task_jobs(world)), 45, 0.2, "the job delivered again and finished")
    assert (job.attempts, job.host) == (2, second_host)
    interrupted, again = _runs(world)
    assert (interrupted.outcome, interrupted.host) == ("interrupted", first_host)
    assert interrupted.ended_at is not None and "interrupted" in interrupted.error
    assert (again.outcome, again.host, again.trigger) == ("ok", second_host, "queue")
    assert again.scheduled_for is not None and again.scheduled_for == TICK
    starts = [line for line in _lines(folder) if line.startswith("start")]
    ends = [line for line in _lines(folder) if line.startswith("end")]
    assert [line.split()[1] for line in starts] == [first_host, second_host]
    assert [line.split()[1] for line in ends] == [second_host]
    return [interrupted, again]


def test_a_worker_restarted_on_its_host_closes_the_killed_run_and_the_task_runs_once_more(
        scale_world):
    world = scale_world
    folder = _blocked_then_killed(world, "host-a")
    world.start_worker("host-a", concurrency=1)  # the same host (and worker name) again
    (closed,) = wait_for(lambda: [run for run in _runs(world) if run.outcome == "interrupted"]
                         or None, 30, 0.1, "the killed run closed as interrupted")
    assert "on host-a stopped before the end" in closed.error
    _ran_again_once(world, folder, "host-a", "host-a")
    assert "marked interrupted" in world.log("host-a")


def test_the_leader_closes_the_runs_of_a_silent_worker_and_another_host_runs_the_task(
        scale_world):
    world = scale_world
    folder = _blocked_then_killed(world, "host-a")
    world.start_scheduler()
    # No other worker yet: only the leader can close the run (its heartbeat stopped).
    (closed,) = wait_for(lambda: [run for run in _runs(world) if run.outcome == "interrupted"]
                         or None, 40, 0.2, "the leader closed the silent worker's run")
    assert "the worker on host-a stopped answering" in closed.error
    (job,) = _task_jobs(world)
    assert (job.state, job.host) == ("interrupted", "host-a")
    assert "no heartbeat for" in job.error
    world.start_worker("host-b", concurrency=1)
    interrupted, _again = _ran_again_once(world, folder, "host-a", "host-b")
    assert "run again by a queue worker" in interrupted.error

    from web_helpers import login

    from medshake_bridge.cli.worker_cmds import format_status
    from medshake_bridge.scale.status import cluster_status
    from medshake_bridge.users import create_user

    with world.app.app_context():
        status = cluster_status(world.app)
        create_user("admin", "password for tests 1", role="admin")
        db.session.remove()
    assert {host.host: host.interrupted for host in status.hosts}["host-a"] == 1
    assert "INTERRUPTED" in format_status(status)
    client = world.app.test_client()
    login(client, "admin", "password for tests 1")
    page = html.unescape(client.get("/admin/tasks/").get_data(as_text=True))
    assert "Tâches interrompues ces dernières 24 heures" in page and ": host-a." in page
    history = html.unescape(client.get("/admin/tasks/history").get_data(as_text=True))
    assert "interrompue" in history and "host-a:" in history
    assert "relancée par un worker de la file" in history
