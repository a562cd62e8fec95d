"""What a dead worker leaves behind, closed so that history says what happened.

A worker killed (``kill -9``, a host lost) in the middle of a job leaves its task run and its
ledger row "running". Its message is still unacknowledged in Redis, so the job is delivered
again (late acknowledgement) and taken over; but the run it had started would stay "running"
for ever. Two passes close it:

* :func:`recover_at_start`: a worker starting marks what a dead process of *its own host* left
  running (a run whose process is gone, a ledger row of its own name or of a worker whose
  heartbeat stopped) as interrupted, before it takes any job;
* :func:`recover_lost_workers`: the scheduler leader, at each poll, marks as interrupted the
  runs and ledger rows of workers *on any host* whose last heartbeat is older than
  :func:`lost_after` (a few heartbeat intervals).

An interrupted ledger row is still pending: the redelivered message claims it (its attempts
count the retry) and the job runs again, once; a planned task's tick is given to the new run
(:func:`medshake_bridge.scheduler.runs.execute_job` with ``take_over``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select, update

from medshake_bridge.db import db
from medshake_bridge.hostname import host_name
from medshake_bridge.models.scale import INTERRUPTED as JOB_INTERRUPTED
from medshake_bridge.models.scale import RUNNING as JOB_RUNNING
from medshake_bridge.models.scale import QueueJob, WorkerHeartbeat
from medshake_bridge.models.settings import utcnow
from medshake_bridge.models.tasks import INTERRUPTED, RUNNING, TaskRun
from medshake_bridge.scale.executor import heartbeat_seconds
from medshake_bridge.scale.work import WORKER_TRIGGER
from medshake_bridge.scheduler.runs import LOST_WORKER_ERROR, mark_interrupted

log = logging.getLogger(__name__)
#: Missed heartbeats before a worker's running work is declared interrupted.
LOST_HEARTBEATS = 5
#: Stored on the ledger row (English, as every stored error; the pages translate it).
JOB_INTERRUPTED_ERROR = ("interrupted on {host} (worker {worker}): {why}; delivered again "
                         "to a worker")


@dataclass
class Recovered:
    """How many task runs and ledger jobs a pass marked as interrupted."""

    runs: int = 0
    jobs: int = 0

    def __bool__(self) -> bool:
        return bool(self.runs or self.jobs)


#: Never sooner than this: a heartbeat late on a loaded host must not interrupt live work.
LOST_MINIMUM_SECONDS = 5.0


def lost_after(app: Flask) -> float:
    """Seconds without a heartbeat after which a worker's running work is interrupted."""
    return max(LOST_HEARTBEATS * heartbeat_seconds(app), LOST_MINIMUM_SECONDS)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _alive_heartbeats(app: Flask) -> list[WorkerHeartbeat]:
    limit = utcnow() - dt.timedelta(seconds=lost_after(app))
    rows = db.session.scalars(select(WorkerHeartbeat).where(
        WorkerHeartbeat.stopped_at.is_(None)))
    return [row for row in rows if _aware(row.last_seen_at) >= limit]


def _interrupt_jobs(jobs: list[QueueJob], why: str) -> int:
    count = 0
    for job in jobs:
        error = JOB_INTERRUPTED_ERROR.format(host=job.host, worker=job.worker, why=why)
        result = db.session.execute(
            update(QueueJob).where(QueueJob.id == job.id, QueueJob.state == JOB_RUNNING)
            .values(state=JOB_INTERRUPTED, error=error[:4000]))
        count += int(result.rowcount or 0)
    db.session.commit()
    return count


def recover_at_start(app: Flask, *, worker: str) -> Recovered:
    """A worker named ``worker`` starts on this host: close what dead processes of this host
    left running. Call it before the worker takes jobs (inside an app context)."""
    host = host_name()
    done = Recovered(runs=mark_interrupted(starting=True))
    alive = {row.name for row in _alive_heartbeats(app) if row.name != worker}
    jobs = [job for job in db.session.scalars(select(QueueJob).where(
        QueueJob.state == JOB_RUNNING, QueueJob.host == host))
        if job.worker == worker or job.worker not in alive]
    done.jobs = _interrupt_jobs(jobs, "its worker stopped before the end")
    if done:
        log.warning("worker %s: %s run(s) and %s job(s) left running by a stopped process of "
                    "%s marked interrupted", worker, done.runs, done.jobs, host)
    return done


def recover_lost_workers(app: Flask) -> Recovered:
    """The leader's pass: runs and ledger jobs of workers (any host) not heard from for
    :func:`lost_after` seconds are marked interrupted; their jobs are delivered again."""
    seconds = lost_after(app)
    since = utcnow() - dt.timedelta(seconds=seconds)
    alive = _alive_heartbeats(app)
    alive_names = {row.name for row in alive}
    alive_processes = {(row.host, row.pid) for row in alive}
    done = Recovered()
    runs = [run for run in db.session.scalars(select(TaskRun).where(
        TaskRun.outcome == RUNNING, TaskRun.trigger == WORKER_TRIGGER))
        if (run.host, run.pid) not in alive_processes and _aware(run.started_at) < since]
    for run in runs:
        run.outcome = INTERRUPTED
        run.ended_at = utcnow()
        run.error = run.error or LOST_WORKER_ERROR.format(host=run.host, seconds=seconds)
    db.session.commit()
    done.runs = len(runs)
    jobs = [job for job in db.session.scalars(select(QueueJob).where(
        QueueJob.state == JOB_RUNNING))
        if job.worker not in alive_names and job.started_at is not None
        and _aware(job.started_at) < since]
    done.jobs = _interrupt_jobs(jobs, f"no heartbeat for {seconds:.0f} s")
    if done:
        log.warning("scheduler: %s run(s) and %s job(s) of workers gone silent marked "
                    "interrupted", done.runs, done.jobs)
    return done

