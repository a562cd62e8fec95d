"""The scheduler service: APScheduler 3 in the background, one leader, jobs from the table.

A control thread does the bookkeeping every ``MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS``:

* a follower tries to become the leader (see :mod:`medshake_bridge.scheduler.leader`);
* the leader checks it still is, and rebuilds its in-memory job list when the tasks table
  changed (a change made in this process wakes it at once through :meth:`reload_soon`);
* the leader forgets runs older than ``bridgeSchedulerHistoryDays`` once an hour.

Only the leader's ``BackgroundScheduler`` has jobs; it is built with an in-memory job store
(never a pickled one), ``coalesce=True``, ``max_instances=1`` and the misfire grace of
``bridgeSchedulerMisfireGrace``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from medshake_bridge.config import bridge_home
from medshake_bridge.db import db, engine_url
from medshake_bridge.extension import bridge_state
from medshake_bridge.scheduler.cron import CronFieldError
from medshake_bridge.scheduler.leader import LeaderElection
from medshake_bridge.scheduler.runs import (
    JobBusy,
    active_run_ids,
    execute_job,
    mark_interrupted,
    purge_runs,
)
from medshake_bridge.scheduler.tasks import planned_tasks, tasks_fingerprint

log = logging.getLogger(__name__)
EXTRAS_KEY = "scheduler"
MODES = ("embedded", "external", "off")
PURGE_EVERY_SECONDS = 3600
#: A job function with this attribute set puts its own work on the queue in ``celery`` mode
#: (the collection: one job per mailbox); the leader runs it instead of enqueueing it.
FANS_OUT = "medshake_fans_out"


class _JobAtTick:
    """A job seen through APScheduler's executor with its tick added to its keyword
    arguments (APScheduler does not hand the scheduled time to the function)."""

    def __init__(self, job: Any, run_time: datetime) -> None:
        self._job = job
        self.kwargs = {**job.kwargs, "scheduled_for": run_time}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class _TickExecutor(ThreadPoolExecutor):
    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        super()._do_submit_job(_JobAtTick(job, run_times[-1]), run_times)


def scheduler_mode(app: Flask) -> str:
    mode = str(app.config.get("MEDSHAKE_BRIDGE_SCHEDULER", "off")).strip().lower()
    return mode if mode in MODES else "off"


def poll_seconds(app: Flask) -> float:
    return max(float(app.config.get("MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS", 10)), 0.05)


class SchedulerService:
    """Start with :meth:`start`, stop with :meth:`stop`; one per process and app."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.election = LeaderElection(bridge_home(app), engine_url(app))
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._fingerprint: tuple | None = None
        self._last_purge = 0.0
        self.started = False

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> SchedulerService:
        if self.started:
            return self
        self.started = True
        bridge_state(self.app).extras[EXTRAS_KEY] = self
        self._thread = threading.Thread(target=self._control_loop,
                                        name="medshake-scheduler-control", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, wait_seconds: float = 5.0) -> None:
        """Stop scheduling, wait up to ``wait_seconds`` for running jobs, give up the lead.

        Runs still going after that are recorded as interrupted."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(wait_seconds, 1.0))
        self._stop_scheduler(wait_seconds)
        self.election.release()
        if bridge_state(self.app).extras.get(EXTRAS_KEY) is self:
            bridge_state(self.app).extras.pop(EXTRAS_KEY, None)
        self.started = False

    @property
    def is_leader(self) -> bool:
        return self.election.leading and self._scheduler is not None

    def status(self) -> dict[str, Any]:
        """What the system information page and ``doctor`` show about this scheduler."""
        scheduler = self._scheduler
        jobs = scheduler.get_jobs() if scheduler is not None else []
        upcoming = [job.next_run_time for job in jobs if job.next_run_time is not None]
        return {
            "mode": scheduler_mode(self.app),
            "running": self.started,
            "leader": self.is_leader,
            "jobs": [job.id for job in jobs],
            "next_run": min(upcoming).isoformat(timespec="minutes") if upcoming else "",
        }

    def reload_soon(self) -> None:
        """The tasks table changed in this process: rebuild the jobs now, not at the poll."""
        self._fingerprint = None
        self._wake.set()

    def next_run_time(self, job_id: str) -> datetime | None:
        """The leader's next run of ``job_id`` (``None`` when not scheduled here)."""
        scheduler = self._scheduler
        if scheduler is None:
            return None
        job = scheduler.get_job(job_id)
        return job.next_run_time if job is not None else None

    # -- control loop -----------------------------------------------------------------------
    def _control_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    self._tick()
                    db.session.remove()
            except Exception:  # noqa: BLE001 - never let the control thread die
                log.exception("scheduler: control loop error")
            self._wake.wait(poll_seconds(self.app))
            self._wake.clear()

    def _tick(self) -> None:
        if self.election.leading and not self.election.check():
            log.warning("scheduler: lost the lead; another process will run the jobs")
            self._stop_scheduler(0)
        if not self.election.leading:
            if not self.election.try_lead():
                return
            log.info("scheduler: this process now runs the planned tasks")
            mark_interrupted()
            self._start_scheduler()
        fingerprint = tasks_fingerprint()
        if fingerprint != self._fingerprint:
            self._rebuild_jobs()
        self._recover_lost_workers()
        if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            days = int(bridge_state(self.app).settings.get("bridgeSchedulerHistoryDays"))
            purged = purge_runs(days)
            if purged:
                log.info("scheduler: %s run(s) older than %s days forgotten", purged, days)

    def _recover_lost_workers(self) -> None:
        """``celery`` mode: close the runs and jobs of workers gone silent (killed, host
        lost) as interrupted; their jobs are delivered again (see
        :mod:`medshake_bridge.scale.recovery`)."""
        from medshake_bridge.errors import BridgeError
        from medshake_bridge.scale.executor import uses_celery

        try:
            if not uses_celery(self.app):
                return
        except BridgeError:
            return
        from medshake_bridge.scale.recovery import recover_lost_workers

        recover_lost_workers(self.app)

    def _start_scheduler(self) -> None:
        grace = int(bridge_state(self.app).settings.get("bridgeSchedulerMisfireGrace"))
        scheduler = BackgroundScheduler(
            executors={"default": _TickExecutor(max_workers=8)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(grace, 1)},
            daemon=True,
        )
        scheduler.start()
        self._scheduler = scheduler
        self._fingerprint = None

    def _stop_scheduler(self, wait_seconds: float) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.shutdown(wait=False)
        deadline = time.monotonic() + wait_seconds
        while active_run_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = active_run_ids()
        if left:
            with self.app.app_context():
                mark_interrupted(only_ids=left)
                db.session.remove()

    def _rebuild_jobs(self) -> None:
        """Make the in-memory job list match the tasks table (enabled jobs only)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        self._fingerprint = tasks_fingerprint()
        wanted = {}
        for task in planned_tasks(bridge_state(self.app)):
            if not task.enabled:
                continue
            try:
                wanted[task.job_id] = (task, task.schedule.trigger())
            except CronFieldError as exc:
                log.error("scheduler: job %s has an invalid schedule and is not run: %s",
                          task.job_id, exc)
        self._fingerprint = tasks_fingerprint()
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for job_id, (task, trigger) in wanted.items():
            existing = scheduler.get_job(job_id)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            scheduler.add_job(self._run_scheduled, trigger=trigger, id=job_id,
                              name=task.spec.label_en, args=(job_id,), replace_existing=True)
        log.info("scheduler: %s job(s) scheduled", len(wanted))

    def _run_scheduled(self, job_id: str, scheduled_for: datetime | None = None) -> None:
        if not self.election.leading:
            return
        with self.app.app_context():
            specs = {task.job_id: task.spec for task in planned_tasks(bridge_state(self.app))}
            db.session.remove()
        spec = specs.get(job_id)
        if spec is None:
            return
        if self._sent_to_queue(spec, scheduled_for):
            return
        try:
            execute_job(self.app, spec, trigger="schedule", scheduled_for=scheduled_for)
        except JobBusy:
            log.info("scheduler: %s is already running on this host; tick skipped", job_id)


    def _sent_to_queue(self, spec: Any, scheduled_for: datetime | None) -> bool:
        """``celery`` mode: a planned task other than the collection (which fans out one job
        per mailbox itself) runs on a worker; the leader only enqueues it."""
        from medshake_bridge.scale.executor import uses_celery

        if getattr(spec.func, FANS_OUT, False) or not uses_celery(self.app):
            return False
        job_id = spec.id
        from medshake_bridge.scale.dispatch import enqueue_planned

        with self.app.app_context():
            try:
                report = enqueue_planned(self.app, job_id, trigger="schedule",
                                         scheduled_for=scheduled_for)
            finally:
                db.session.remove()
        if report.broker_error:
            log.warning("scheduler: %s kept for the broker: %s", job_id, report.broker_error)
        return True


def running_service(app: Flask) -> SchedulerService | None:
    service = bridge_state(app).extras.get(EXTRAS_KEY)
    return service if isinstance(service, SchedulerService) else None


def notify_tasks_changed(app: Flask) -> None:
    """Called after the tasks table changed: this process's scheduler reloads at once (the
    others notice at their next poll)."""
    service = running_service(app)
    if service is not None:
        service.reload_soon()


def start_embedded(app: Flask, *, use_reloader: bool = False) -> SchedulerService | None:
    """Start the scheduler inside a serving process when the mode is ``embedded``.

    Never twice for one app, and never in the Werkzeug reloader's watching parent (only in the
    child that serves). Returns the service, or ``None`` when nothing was started."""
    if scheduler_mode(app) != "embedded":
        return None
    if use_reloader:
        from werkzeug.serving import is_running_from_reloader

        if not is_running_from_reloader():
            return None
    existing = running_service(app)
    if existing is not None:
        return existing
    return SchedulerService(app).start()


@contextmanager
def embedded_scheduler(app: Flask, *, use_reloader: bool = False) -> Iterator[
        SchedulerService | None]:
    """``with embedded_scheduler(app): app.run(...)``: the scheduler runs while the app serves
    (mode ``embedded`` only) and stops with it."""
    service = start_embedded(app, use_reloader=use_reloader)
    if service is not None:
        log.info("scheduler: embedded in this serving process")
    try:
        yield service
    finally:
        if service is not None:
            service.stop()
