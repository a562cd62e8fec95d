"""What an admin sees of the queue: broker, queue depth, workers and their jobs, per host.

The same facts feed ``medshake-bridge workers``, the planned tasks page and ``doctor``. Queue
depth is asked of Redis (``LLEN`` of each queue, priority lists included); everything else comes
from the database every host shares (heartbeats and the job ledger), so it is true whichever
host shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import case, func, select
from sqlalchemy.engine import make_url

from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.models.scale import (
    FAILED,
    INTERRUPTED,
    JOB,
    OK,
    QUEUED,
    RUNNING,
    SKIPPED,
    UNSENT,
    QueueJob,
    WorkerHeartbeat,
)
from medshake_bridge.models.settings import utcnow
from medshake_bridge.models.tasks import INTERRUPTED as RUN_INTERRUPTED
from medshake_bridge.models.tasks import TaskRun
from medshake_bridge.scale.executor import (
    QUEUES,
    broker_url,
    executor_mode,
    stale_after,
)

RECENT_HOURS = 24
BROKER_TIMEOUT = 2.0
# kombu's Redis transport keeps a queue's messages with priorities in extra lists named
# "<queue>\x06\x16<priority>"; the depth is the sum.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass
class WorkerView:
    name: str
    host: str
    pid: int
    queues: str
    concurrency: int
    running: int
    last_seen_at: datetime
    seconds_ago: float
    alive: bool
    stopped: bool
    broker_error: str


@dataclass
class HostView:
    host: str
    workers: int = 0
    running: int = 0
    ok: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    interrupted: int = 0


@dataclass
class ClusterStatus:
    mode: str
    broker: str = ""
    broker_error: str = ""
    queues: dict[str, int] = field(default_factory=dict)
    workers: list[WorkerView] = field(default_factory=list)
    hosts: list[HostView] = field(default_factory=list)
    unsent: int = 0
    unsent_since: datetime | None = None
    unsent_error: str = ""
    queued: int = 0
    config_error: str = ""

    @property
    def alive_workers(self) -> int:
        return sum(1 for worker in self.workers if worker.alive)


def redacted(url: str) -> str:
    """The broker URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy-shaped URL: keep the scheme only
        return url.split("://", 1)[0] + "://…"


def queue_depths(url: str) -> tuple[dict[str, int], str]:
    """Messages waiting in each queue, and the error when Redis did not answer."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=BROKER_TIMEOUT,
                                      socket_connect_timeout=BROKER_TIMEOUT)
        try:
            depths = {queue: sum(int(client.llen(queue + suffix))
                                 for suffix in PRIORITY_SUFFIXES) for queue in QUEUES}
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - the status says what went wrong
        return {}, f"{type(exc).__name__}: {exc}"
    return depths, ""


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _workers(app: Flask) -> list[WorkerView]:
    now = utcnow()
    limit = stale_after(app)
    views = []
    for row in db.session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.host,
                                                                   WorkerHeartbeat.name)):
        ago = (now - _aware(row.last_seen_at)).total_seconds()
        stopped = row.stopped_at is not None
        views.append(WorkerView(row.name, row.host, row.pid, row.queues, row.concurrency,
                                row.running, _aware(row.last_seen_at), ago,
                                not stopped and ago <= limit, stopped, row.broker_error))
    return views


def _hosts(workers: list[WorkerView]) -> list[HostView]:
    since = utcnow() - dt.timedelta(hours=RECENT_HOURS)
    rows = db.session.execute(
        select(QueueJob.host,
               func.sum(case((QueueJob.state == RUNNING, 1), else_=0)),
               func.sum(case((QueueJob.state == OK, 1), else_=0)),
               func.sum(case((QueueJob.state == FAILED, 1), else_=0)),
               func.sum(case((QueueJob.attempts > 1, 1), else_=0)),
               func.sum(case((QueueJob.state == SKIPPED, 1), else_=0)))
        .where(QueueJob.host != "", QueueJob.created_at >= since)
        .group_by(QueueJob.host)).all()
    hosts = {row[0]: HostView(row[0], 0, *(int(value or 0) for value in row[1:]))
             for row in rows}
    # Work cut short on a host (its worker killed or lost): the task runs marked interrupted
    # there, and the collections interrupted there and not yet taken over.
    interrupted = db.session.execute(
        select(TaskRun.host, func.count()).where(TaskRun.outcome == RUN_INTERRUPTED,
                                                 TaskRun.started_at >= since,
                                                 TaskRun.host != "")
        .group_by(TaskRun.host)).all()
    interrupted += db.session.execute(
        select(QueueJob.host, func.count()).where(QueueJob.state == INTERRUPTED,
                                                  QueueJob.kind != JOB, QueueJob.host != "")
        .group_by(QueueJob.host)).all()
    for host, count in interrupted:
        hosts.setdefault(host, HostView(host)).interrupted += int(count or 0)
    for worker in workers:
        if worker.alive:
            hosts.setdefault(worker.host, HostView(worker.host)).workers += 1
    return [hosts[name] for name in sorted(hosts)]


def cluster_status(app: Flask, *, ask_broker: bool = True) -> ClusterStatus:
    """Everything the pages show about the queue (call inside an app context)."""
    try:
        mode = executor_mode(app)
    except BridgeError as exc:
        return ClusterStatus(mode="?", config_error=str(exc))
    status = ClusterStatus(mode=mode)
    if mode != "celery":
        return status
    try:
        url = broker_url(app)
    except BridgeError as exc:
        status.config_error = str(exc)
        return status
    status.broker = redacted(url)
    if ask_broker:
        status.queues, status.broker_error = queue_depths(url)
    status.workers = _workers(app)
    status.hosts = _hosts(status.workers)
    # A job is "unsent" for an instant between its record and its send: only those whose
    # send failed (an error is recorded) are kept for the broker.
    unsent = db.session.execute(select(func.count(), func.min(QueueJob.created_at))
                                .where(QueueJob.state == UNSENT, QueueJob.error != "")).one()
    status.unsent = int(unsent[0] or 0)
    status.unsent_since = _aware(unsent[1]) if unsent[1] is not None else None
    if status.unsent:
        status.unsent_error = db.session.scalar(
            select(QueueJob.error).where(QueueJob.state == UNSENT, QueueJob.error != "")
            .order_by(QueueJob.id.desc()).limit(1)) or ""
    status.queued = int(db.session.scalar(select(func.count()).where(
        QueueJob.state == QUEUED)) or 0)
    return status
