"""Scale-out state shared by every host: the queue's job ledger and the workers' heartbeats.

In ``celery`` execution mode the broker (Redis) only carries job ids; what a job is for, whether
it ran, where and how it ended lives here, in the database every host shares. A message the
broker delivers twice (late acknowledgement after a worker died, a restored message) finds its
row already finished and does nothing: the ledger turns Celery's at-least-once delivery into
exactly-once work. Workers write a heartbeat row so every host's pages can say who is alive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

# States of a queued job.
UNSENT = "unsent"        # recorded, but the broker could not be reached: sent again later
QUEUED = "queued"        # handed to the broker
RUNNING = "running"      # a worker started it (attempts counts the starts)
OK = "ok"                # finished
FAILED = "failed"        # finished with an error (a mailbox error, a job's failure)
SKIPPED = "skipped"      # nothing to do (another job held the mailbox, no owner any more)
EXPIRED = "expired"      # never started within the expiry: replaced by a newer job
# its worker died while running it (killed, host lost): delivered again and taken over
INTERRUPTED = "interrupted"
JOB_STATES = (UNSENT, QUEUED, RUNNING, OK, FAILED, SKIPPED, EXPIRED, INTERRUPTED)
PENDING_STATES = (UNSENT, QUEUED, RUNNING, INTERRUPTED)
FINISHED_STATES = (OK, FAILED, SKIPPED, EXPIRED)

COLLECT = "collect"      # collect one mailbox (target: the mailbox key)
JOB = "job"              # run one planned task (target: the job id)
SEND = "send"            # send one message (target: the sent-message row's id)
JOB_KINDS = (COLLECT, JOB, SEND)


class QueueJob(db.Model):
    """One unit of work put on the queue, and what became of it."""

    __tablename__ = "bridge_queue_jobs"
    __table_args__ = (
        Index("ix_bridge_queue_jobs_target_state", "kind", "target", "state"),
        Index("ix_bridge_queue_jobs_host_state", "host", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, default="schedule")
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=UNSENT)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sends: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    enqueued_by: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    host: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    worker: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    counts_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")

    def __repr__(self) -> str:
        return f"<QueueJob {self.id} {self.kind} {self.target} {self.state}>"


class WorkerHeartbeat(db.Model):
    """A worker process, as it last reported itself."""

    __tablename__ = "bridge_worker_heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    pid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    queues: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    concurrency: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    running: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                   default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    broker_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
