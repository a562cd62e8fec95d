"""Running one job and recording the run.

Call convention for job functions (``JobSpec.func``): ``func(app)`` is called inside an app
context of ``app`` and returns a mapping of counts (``{"fetched": 3}``) or ``None``. Raising
records the run as failed with the error; raising :class:`JobFailed` also keeps its counts.

Every run gets a row in ``bridge_task_runs`` *before* the function is called. A scheduled run
carries its tick (``scheduled_for``), unique per job: when two schedulers reach the same tick
(a leader change at that instant), the second insert fails and that process skips the tick.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from medshake_bridge import redaction
from medshake_bridge.db import db
from medshake_bridge.dblocks import LockBusy, named_lock
from medshake_bridge.errors import BridgeError
from medshake_bridge.hostname import host_name
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.models.scale import FINISHED_STATES, QueueJob, WorkerHeartbeat
from medshake_bridge.models.settings import utcnow
from medshake_bridge.models.tasks import (
    FAILED,
    INTERRUPTED,
    OK,
    RUNNING,
    TaskRun,
)

log = logging.getLogger(__name__)
MAX_ERROR_LENGTH = 4000
_active_lock = threading.Lock()
_active_runs: set[int] = set()
_current_run: contextvars.ContextVar[int | None] = contextvars.ContextVar("bridge_run",
                                                                          default=None)


class JobFailed(BridgeError):
    """Raised by a job that did part of its work: the run is recorded as failed with
    ``counts``."""

    def __init__(self, message: str, *, counts: Mapping[str, Any] | None = None,
                 fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.counts = dict(counts or {})


class JobBusy(BridgeError):
    """The job is running right now on this host."""


@dataclass
class RunResult:
    run_id: int
    job_id: str
    outcome: str
    counts: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def as_utc(value: datetime | None) -> datetime | None:
    """Database times as aware UTC (SQLite hands them back without a zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clean_counts(result: Any) -> dict[str, Any]:
    if not isinstance(result, Mapping):
        return {}
    counts: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, bool | int | float | str) or value is None:
            counts[str(key)] = value
        else:
            counts[str(key)] = str(value)
    return counts


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, BridgeError) else f"{type(exc).__name__}: {exc}"
    return redaction.redact(text)[:MAX_ERROR_LENGTH]


@contextmanager
def job_lock(app: Flask, job_id: str) -> Iterator[None]:
    """One run of a job at a time: on this host (SQLite, a file lock) or on every host sharing
    the database (PostgreSQL / MariaDB, a database lock) - a click on "run now" during a
    scheduled run, or two workers handed the same job."""
    folder = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:32]
    with ExitStack() as held:
        try:
            held.enter_context(named_lock(f"job:{job_id}", folder=folder,
                                          file_name=f"job-{digest}.lock"))
        except LockBusy:
            raise JobBusy(f"the job {job_id} is running right now",
                          fix="wait for the current run to end (see the run history)") from None
        yield


def execute_job(app: Flask, spec: JobSpec, *, trigger: str,
                scheduled_for: datetime | None = None,
                take_over: bool = False) -> RunResult | None:
    """Run ``spec`` now and record it; ``None`` when another process already ran this tick.

    ``take_over``: this is a queue job delivered again after its worker died; a run of the
    same tick left interrupted (or still "running" with nobody holding the job's lock) gives
    its tick to this run instead of counting as done, so the tick runs again once.

    Raises :class:`JobBusy` when the job is running on this host already.
    """
    with app.app_context(), job_lock(app, spec.id):
        for attempt in (1, 2):
            run = TaskRun(job_id=spec.id, trigger=trigger, scheduled_for=scheduled_for,
                          started_at=utcnow(), outcome=RUNNING, counts_json="{}", error="",
                          host=host_name(), pid=os.getpid())
            db.session.add(run)
            try:
                db.session.commit()
                break
            except IntegrityError:
                db.session.rollback()
                if attempt == 1 and take_over and _free_interrupted_tick(spec.id,
                                                                         scheduled_for):
                    continue
                log.info("job %s: tick %s already run by another process", spec.id,
                         scheduled_for)
                return None
        run_id = run.id
        with _active_lock:
            _active_runs.add(run_id)
        try:
            return _call_and_record(app, spec, run_id)
        finally:
            with _active_lock:
                _active_runs.discard(run_id)


def _call_and_record(app: Flask, spec: JobSpec, run_id: int) -> RunResult:
    outcome, error, counts = OK, "", {}
    token = _current_run.set(run_id)
    try:
        counts = _clean_counts(spec.func(app))
    except JobFailed as exc:
        outcome, error, counts = FAILED, _error_text(exc), _clean_counts(exc.counts)
        log.warning("job %s failed: %s", spec.id, error)
    except Exception as exc:  # noqa: BLE001 - a job's bug is recorded, the scheduler goes on
        outcome, error = FAILED, _error_text(exc)
        log.exception("job %s raised", spec.id)
    finally:
        _current_run.reset(token)
    db.session.rollback()  # whatever the job left half-done is not ours to commit
    run = db.session.get(TaskRun, run_id)
    run.outcome = outcome
    run.error = error
    run.counts_json = json.dumps(counts, ensure_ascii=False, sort_keys=True)
    run.ended_at = utcnow()
    db.session.commit()
    return RunResult(run_id, spec.id, outcome, counts, error)


def current_run_id() -> int | None:
    """The id of the run whose job function is executing in this context (``None`` outside
    one): a job that fans out work (the queued collection) tags it with its run."""
    return _current_run.get()


def active_run_ids() -> set[int]:
    """Runs of this process still going (the scheduler waits for them when it stops)."""
    with _active_lock:
        return set(_active_runs)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_interrupted_tick(job_id: str, scheduled_for: datetime | None) -> bool:
    """The run holding ``(job_id, scheduled_for)`` was cut short: record it as interrupted and
    release its tick (its ``scheduled_for`` is cleared, the unique guard then lets the retry
    in). Called holding the job's lock: on PostgreSQL / MariaDB a run still "running" then
    belongs to a process that is gone (a live one would hold the lock); with a file lock (one
    host) only a run already marked interrupted is taken over."""
    from medshake_bridge.dblocks import current_database_url, lock_backend

    if scheduled_for is None:
        return False
    url = current_database_url()
    takeable = [INTERRUPTED]
    if url is not None and lock_backend(url) == "database":
        takeable.append(RUNNING)
    held = db.session.scalars(select(TaskRun).where(
        TaskRun.job_id == job_id, TaskRun.scheduled_for == scheduled_for)).first()
    if held is None or held.outcome not in takeable:
        return False
    if held.outcome == RUNNING:
        held.outcome = INTERRUPTED
        held.ended_at = utcnow()
        held.error = held.error or INTERRUPTED_ERROR.format(host=held.host, pid=held.pid)
    held.scheduled_for = None
    held.error = f"{held.error}; {RUN_AGAIN_NOTE}"[:MAX_ERROR_LENGTH]
    db.session.commit()
    log.warning("job %s: tick %s was interrupted on %s; it runs again here", job_id,
                scheduled_for, held.host)
    return True


#: What an interrupted run says (English, like every stored error; the pages translate it).
INTERRUPTED_ERROR = "interrupted: the process {pid} on {host} stopped before the end"
LOST_WORKER_ERROR = ("interrupted: the worker on {host} stopped answering (no heartbeat for "
                     "{seconds:.0f} s); its job is delivered again")
RUN_AGAIN_NOTE = "run again by a queue worker"


def mark_interrupted(*, only_ids: set[int] | None = None, starting: bool = False) -> int:
    """Close runs left "running" by a process of this host that died (or, with ``only_ids``,
    those runs of ours); they are recorded as interrupted.

    ``starting``: called by a process that has run nothing yet (a queue worker starting), so
    a run carrying this process's own id is a dead process's too (a restarted container often
    gets the same pid back)."""
    host = host_name()
    query = select(TaskRun).where(TaskRun.outcome == RUNNING, TaskRun.host == host)
    if only_ids is not None:
        query = query.where(TaskRun.id.in_(only_ids or {-1}))
    count = 0
    for run in db.session.scalars(query):
        if only_ids is None and _pid_alive(run.pid) and not (
                starting and run.pid == os.getpid()):
            continue
        run.outcome = INTERRUPTED
        run.ended_at = utcnow()
        run.error = run.error or INTERRUPTED_ERROR.format(host=run.host, pid=run.pid)
        count += 1
    db.session.commit()
    return count


def purge_runs(keep_days: int) -> int:
    """Forget runs that started more than ``keep_days`` days ago (and, with them, finished
    queue jobs and workers not seen for as long: the ``celery`` mode's history)."""
    if keep_days <= 0:
        return 0
    limit = datetime.now(UTC) - timedelta(days=keep_days)
    result = db.session.execute(delete(TaskRun).where(TaskRun.started_at < limit))
    db.session.execute(delete(QueueJob).where(QueueJob.created_at < limit,
                                              QueueJob.state.in_(FINISHED_STATES)))
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < limit))
    db.session.commit()
    return int(result.rowcount or 0)


def last_run(job_id: str) -> TaskRun | None:
    return db.session.scalars(select(TaskRun).where(TaskRun.job_id == job_id)
                              .order_by(TaskRun.id.desc()).limit(1)).first()


def run_history(*, job_id: str = "", page: int = 1,
                per_page: int = 50) -> tuple[list[TaskRun], int]:
    """One page of runs, newest first, and how many match."""
    query = select(TaskRun)
    if job_id:
        query = query.where(TaskRun.job_id == job_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(TaskRun.id.desc())
                              .offset(max(page - 1, 0) * per_page).limit(per_page))
    return list(rows), int(total)


def counts_of(run: TaskRun) -> dict[str, Any]:
    try:
        value = json.loads(run.counts_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
