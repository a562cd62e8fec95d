"""Closing what dead workers left running, in this process (SQLite): only the work of workers
whose heartbeat stopped (or of this host's dead processes) is marked interrupted, never a live
worker's; an interrupted tick is given to the run that takes it over, once. The real kill -9
of a worker process is in ``test_scaleout_interrupted.py``.
"""

from __future__ import annotations

import datetime as dt
import os

from medshake_bridge.db import db
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.models.scale import QueueJob, WorkerHeartbeat
from medshake_bridge.models.settings import utcnow
from medshake_bridge.models.tasks import TaskRun
from medshake_bridge.scale.recovery import lost_after, recover_at_start, recover_lost_workers
from medshake_bridge.scheduler.runs import execute_job

DEAD_PID = 2 ** 22 + 12345  # above Linux's pid_max default: no such process


def _app(make_app):
    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_EXECUTOR="celery",
                   MEDSHAKE_BRIDGE_CELERY_BROKER_URL="redis://127.0.0.1:1/0",
                   MEDSHAKE_BRIDGE_WORKER_HEARTBEAT_SECONDS=0.5,
                   MEDSHAKE_BRIDGE_HOST="host-here")
    migrate.upgrade(app)
    return app


def _beat(name: str, host: str, pid: int, seconds_ago: float) -> None:
    seen = utcnow() - dt.timedelta(seconds=seconds_ago)
    db.session.add(WorkerHeartbeat(name=name, host=host, pid=pid, started_at=seen,
                                   last_seen_at=seen))


def _running(worker: str, host: str, pid: int, started_ago: float, job_id: str) -> None:
    started = utcnow() - dt.timedelta(seconds=started_ago)
    db.session.add(TaskRun(job_id=job_id, trigger="queue", started_at=started,
                           outcome="running", host=host, pid=pid))
    db.session.add(QueueJob(kind="job", target=job_id, trigger="schedule", state="running",
                            attempts=1, host=host, worker=worker, started_at=started,
                            created_at=started))


def _states() -> dict[str, tuple[str, str]]:
    runs = {run.job_id: run.outcome for run in db.session.query(TaskRun)}
    jobs = {job.target: job.state for job in db.session.query(QueueJob)}
    return {key: (runs[key], jobs[key]) for key in runs}


def test_the_leader_interrupts_only_the_work_of_silent_workers(make_app):
    app = _app(make_app)
    silent = lost_after(app) + 5
    with app.app_context():
        _beat("worker@alive", "host-a", 101, 0.1)
        _beat("worker@silent", "host-b", 202, silent)
        _running("worker@alive", "host-a", 101, silent + 10, "alive-task")
        _running("worker@silent", "host-b", 202, silent + 10, "silent-task")
        _running("worker@new", "host-c", 303, 0.5, "just-started")  # no heartbeat yet
        db.session.commit()
        done = recover_lost_workers(app)
        assert (done.runs, done.jobs) == (1, 1)
        assert _states() == {"alive-task": ("running", "running"),
                             "silent-task": ("interrupted", "interrupted"),
                             "just-started": ("running", "running")}
        run = db.session.query(TaskRun).filter_by(job_id="silent-task").one()
        assert run.ended_at is not None and "the worker on host-b stopped answering" in run.error
        assert not recover_lost_workers(app)  # nothing more the second time


def test_a_starting_worker_closes_what_dead_processes_of_its_host_left(make_app):
    app = _app(make_app)
    with app.app_context():
        _beat("worker@other-live", "host-here", os.getppid(), 0.1)  # a live process here
        _running("worker@me", "host-here", DEAD_PID, 30, "mine-before-kill")
        _running("worker@other-live", "host-here", os.getppid(), 30, "live-neighbour")
        _running("worker@elsewhere", "host-far", DEAD_PID, 30, "other-host")
        db.session.commit()
        done = recover_at_start(app, worker="worker@me")
        assert (done.runs, done.jobs) == (1, 1)
        assert _states() == {"mine-before-kill": ("interrupted", "interrupted"),
                             "live-neighbour": ("running", "running"),
                             "other-host": ("running", "running")}


def test_an_interrupted_tick_runs_again_once_when_taken_over(make_app):
    app = _app(make_app)
    calls = []
    spec = JobSpec(id="tick-task", func=lambda _app: calls.append(1) or {"runs": 1},
                   label_fr="t", label_en="t")
    tick = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        db.session.add(TaskRun(job_id="tick-task", trigger="queue", scheduled_for=tick,
                               outcome="interrupted", host="host-b", pid=DEAD_PID,
                               error="interrupted: the process 1 on host-b stopped before "
                               "the end"))
        db.session.commit()
    # a plain second delivery of the tick (not a take-over) does nothing
    assert execute_job(app, spec, trigger="queue", scheduled_for=tick) is None
    result = execute_job(app, spec, trigger="queue", scheduled_for=tick, take_over=True)
    assert result is not None and result.outcome == "ok" and calls == [1]
    # the tick is the new run's now: once more does nothing
    assert execute_job(app, spec, trigger="queue", scheduled_for=tick, take_over=True) is None
    assert calls == [1]
    with app.app_context():
        old, new = db.session.query(TaskRun).order_by(TaskRun.id).all()
        assert old.scheduled_for is None and "run again by a queue worker" in old.error
        assert old.outcome == "interrupted" and new.outcome == "ok"
        assert new.scheduled_for is not None
