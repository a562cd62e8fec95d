"""A worker's heartbeat: its row in ``bridge_worker_heartbeats``, refreshed every few seconds.

The row says which host and process it is, which queues it serves, how many jobs it is running
and whether it can reach the broker, so any host's pages (and ``workers``, ``doctor``) can tell
live workers from gone ones without asking the broker. A worker that stops cleanly marks its
row stopped; one that is killed simply stops beating.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.db import db
from medshake_bridge.hostname import host_name
from medshake_bridge.models.scale import WorkerHeartbeat
from medshake_bridge.models.settings import utcnow
from medshake_bridge.scale.executor import broker_url, heartbeat_seconds

log = logging.getLogger(__name__)
BROKER_PING_TIMEOUT = 2.0


def broker_problem(url: str) -> str:
    """Empty when the Redis broker answers a PING, else what went wrong."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=BROKER_PING_TIMEOUT,
                                      socket_connect_timeout=BROKER_PING_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure is what the page shows
        return f"{type(exc).__name__}: {exc}"
    return ""


class Heartbeat:
    """Start with :meth:`start` once the worker is ready; :meth:`stop` marks it stopped."""

    def __init__(self, app: Flask, *, name: str, queues: list[str], concurrency: int,
                 running: Callable[[], int]) -> None:
        self.app = app
        self.name = name[:255]
        self.queues = ",".join(queues)[:255]
        self.concurrency = concurrency
        self.running = running
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.beat(started=True)
        self._thread = threading.Thread(target=self._loop, name="medshake-heartbeat",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.beat(stopped=True)

    def _loop(self) -> None:
        interval = heartbeat_seconds(self.app)
        while not self._stop.wait(interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the database is away: beat again later
                log.exception("worker heartbeat failed")

    def beat(self, *, started: bool = False, stopped: bool = False) -> None:
        """Write this worker's row now."""
        with self.app.app_context():
            try:
                problem = "" if stopped else broker_problem(broker_url(self.app))
                self._write(started, stopped, problem)
            finally:
                db.session.remove()

    def _write(self, started: bool, stopped: bool, problem: str) -> None:
        now = utcnow()
        row = db.session.scalars(select(WorkerHeartbeat).where(
            WorkerHeartbeat.name == self.name)).first()
        if row is None:
            row = WorkerHeartbeat(name=self.name, started_at=now)
            db.session.add(row)
        if started:
            row.started_at, row.stopped_at = now, None
        row.host, row.pid = host_name(), os.getpid()
        row.queues, row.concurrency = self.queues, self.concurrency
        row.running = 0 if stopped else self.running()
        row.last_seen_at = now
        row.broker_error = problem[:2000]
        if stopped:
            row.stopped_at = now
        try:
            db.session.commit()
        except IntegrityError:  # the same name started twice at once: the other wrote first
            db.session.rollback()
