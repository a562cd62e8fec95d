"""The queue's jobs in the database: recorded before they are sent, claimed before they run,
finished once.

The broker may deliver a job twice (a worker died before acknowledging it, a message restored
after its visibility timeout, a job sent again after a broker outage). Each delivery claims the
job's row while holding the lock of what it works on (the mailbox, the job): a finished row is
never run again, and a row left "running" by a dead worker is taken over (its attempts then
count the retry). Every change commits at once, so every host sees it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from medshake_bridge import redaction
from medshake_bridge.db import db
from medshake_bridge.hostname import host_name
from medshake_bridge.models.scale import (
    EXPIRED,
    FINISHED_STATES,
    INTERRUPTED,
    PENDING_STATES,
    QUEUED,
    RUNNING,
    SKIPPED,
    UNSENT,
    QueueJob,
)
from medshake_bridge.models.settings import utcnow

MAX_ERROR = 4000


def record(kind: str, target: str, *, trigger: str, run_id: int | None = None) -> QueueJob:
    """A new job, not sent yet (committed: it survives a crash before the broker has it)."""
    job = QueueJob(kind=kind, target=target[:255], trigger=trigger[:20], run_id=run_id,
                   state=UNSENT, attempts=0, sends=0, enqueued_by=host_name(), host="",
                   worker="", created_at=utcnow(), counts_json="{}", error="")
    db.session.add(job)
    db.session.commit()
    return job


def mark_sent(job_id: int) -> None:
    db.session.execute(update(QueueJob).where(QueueJob.id == job_id, QueueJob.state == UNSENT)
                       .values(state=QUEUED, sent_at=utcnow(), error="",
                               sends=QueueJob.sends + 1))
    db.session.commit()


def mark_resent(job_id: int) -> None:
    """A queued job sent once more (its message may have been lost with the broker's data)."""
    db.session.execute(update(QueueJob).where(QueueJob.id == job_id, QueueJob.state == QUEUED)
                       .values(sent_at=utcnow(), sends=QueueJob.sends + 1))
    db.session.commit()


def mark_unsent(job_id: int, error: str) -> None:
    db.session.execute(update(QueueJob).where(QueueJob.id == job_id)
                       .values(state=UNSENT, error=redaction.redact(error)[:MAX_ERROR]))
    db.session.commit()


def pending(kind: str, target: str, *, since: dt.datetime) -> QueueJob | None:
    """The newest job for ``target`` still waiting or running, created after ``since``."""
    return db.session.scalars(
        select(QueueJob).where(QueueJob.kind == kind, QueueJob.target == target,
                               QueueJob.state.in_(PENDING_STATES),
                               QueueJob.created_at >= since)
        .order_by(QueueJob.id.desc()).limit(1)).first()


def expire_before(moment: dt.datetime) -> int:
    """Jobs never started (unsent or queued), or interrupted and never delivered again,
    created before ``moment`` are given up: a newer job replaces each (the broker lost them,
    or they waited through a long outage)."""
    result = db.session.execute(
        update(QueueJob).where(QueueJob.state.in_((UNSENT, QUEUED, INTERRUPTED)),
                               QueueJob.created_at < moment)
        .values(state=EXPIRED, finished_at=utcnow(),
                error="never started in time; replaced by a newer job"))
    db.session.commit()
    return int(result.rowcount or 0)


def unsent() -> list[QueueJob]:
    return list(db.session.scalars(select(QueueJob).where(QueueJob.state == UNSENT)
                                   .order_by(QueueJob.id)))


def claim(job_id: int, *, worker: str) -> QueueJob | None:
    """Mark the job running here; ``None`` when it is finished already (a second delivery).

    Call it holding the lock of what the job works on: then a row still "running" belongs to
    a worker that died (a live one would hold the lock), and is taken over."""
    result = db.session.execute(
        update(QueueJob).where(QueueJob.id == job_id, QueueJob.state.not_in(FINISHED_STATES))
        .values(state=RUNNING, attempts=QueueJob.attempts + 1, host=host_name(),
                worker=worker[:255], started_at=utcnow(), finished_at=None))
    db.session.commit()
    if not result.rowcount:
        return None
    return db.session.get(QueueJob, job_id)


def finish(job_id: int, state: str, *, counts: Mapping[str, Any] | None = None,
           error: str = "") -> None:
    db.session.execute(update(QueueJob).where(QueueJob.id == job_id).values(
        state=state, finished_at=utcnow(), error=redaction.redact(error)[:MAX_ERROR],
        counts_json=json.dumps(dict(counts or {}), ensure_ascii=False, sort_keys=True,
                               default=str)))
    db.session.commit()


def skip_if_waiting(job_id: int, reason: str) -> bool:
    """Finish a job that never started as skipped (another job held its mailbox); a job
    already running elsewhere is left to its worker. True when it was skipped."""
    result = db.session.execute(
        update(QueueJob).where(QueueJob.id == job_id, QueueJob.state.in_((UNSENT, QUEUED)))
        .values(state=SKIPPED, finished_at=utcnow(), error=reason[:MAX_ERROR]))
    db.session.commit()
    return bool(result.rowcount)
