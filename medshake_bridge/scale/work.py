"""What a worker does with a job it receives: claim it in the ledger, do it, record the end.

Collecting a mailbox: the mailbox lock (in the database) is taken *before* the job is claimed.
Holding it, a row still "running" can only belong to a worker that died mid-mailbox (a live one
would hold the lock): the job is taken over and its attempts count the retry. When another job
holds the mailbox, a job that never started is finished as skipped (the other one collects the
mailbox whole); a job that is running elsewhere (a second delivery, after the visibility
timeout) comes back later: by then it is finished (nothing to do) or its worker died (taken
over).
The pipeline's own guarantees (raw bytes and rows committed before processing, deletion on the
server only after the documents are committed) make a retried mailbox lose and duplicate
nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from flask import Flask

from medshake_bridge.collect.locks import MailboxBusy, mailbox_lock
from medshake_bridge.collect.mailboxes import MailboxPlan, plan_mailboxes
from medshake_bridge.db import db
from medshake_bridge.dblocks import LockBusy, named_lock
from medshake_bridge.extension import BridgeState, bridge_state
from medshake_bridge.models.scale import FAILED, FINISHED_STATES, OK, SKIPPED, QueueJob
from medshake_bridge.scale import ledger

log = logging.getLogger(__name__)
_running_lock = threading.Lock()
_running = 0
WORKER_TRIGGER = "queue"
#: Returned when the job is running on another worker right now (a second delivery): the
#: Celery task then asks to be delivered again later, to take over if that worker dies.
BUSY_ELSEWHERE = "running elsewhere"


def running_jobs() -> int:
    """Jobs this process is working on right now (the heartbeat reports it)."""
    with _running_lock:
        return _running


class _Counted:
    def __enter__(self) -> None:
        global _running
        with _running_lock:
            _running += 1

    def __exit__(self, *exc: object) -> None:
        global _running
        with _running_lock:
            _running -= 1


def run_collect(app: Flask, job_id: int, owners: list[int] | None = None, *,
                worker: str) -> str:
    """Collect the mailbox of the ledger job ``job_id``; returns what happened (for the log).
    ``owners``: the users on it when the job was made (planning only them is what keeps a job
    cheap with thousands of users)."""
    with _Counted(), app.app_context():
        try:
            return _collect(app, job_id, owners or [], worker)
        finally:
            db.session.remove()


def _plan(state: BridgeState, key: str, owners: list[int]) -> MailboxPlan | None:
    """The mailbox ``key`` planned for ``owners`` (every user when none is given, or when none
    of them is on it any more). Users added to the mailbox after the job was made are
    collected for at the next tick, as in a collection planned once at its start."""
    found: MailboxPlan | None = None
    for user_id in owners:
        for plan in plan_mailboxes(state, user_id=user_id)[0]:
            if plan.identity.key != key:
                continue
            if found is None:
                found = plan
            else:
                found.owners.extend(owner for owner in plan.owners
                                    if owner not in found.owners)
    if found is not None:
        return found
    plans, _ = plan_mailboxes(state)
    return next((plan for plan in plans if plan.identity.key == key), None)


def _collect(app: Flask, job_id: int, owners: list[int], worker: str) -> str:
    from medshake_bridge.collect.pipeline import collect_mailbox

    job = db.session.get(QueueJob, job_id)
    if job is None or job.state in FINISHED_STATES:
        return "already done"
    state = bridge_state(app)
    key, trigger = job.target, job.trigger
    plan = _plan(state, key, [int(owner) for owner in owners])
    if plan is None:
        ledger.finish(job_id, SKIPPED, error="no user has this mailbox any more")
        return "skipped: no owner"
    locks = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    try:
        with mailbox_lock(locks, key):
            if ledger.claim(job_id, worker=worker) is None:
                return "already done"
            report = collect_mailbox(state, plan, locked=True,
                                     retry_now=trigger in ("page", "cli"))
            counts = {name: getattr(report, name) for name in (
                "listed", "fetched", "processed", "documents", "duplicates", "failed",
                "waiting", "quarantined", "deleted")}
            error = f"{report.error} ({report.fix})" if report.fix else report.error
            ledger.finish(job_id, OK if report.outcome == "ok" else FAILED, counts=counts,
                          error=error)
            return report.outcome
    except MailboxBusy:
        if ledger.skip_if_waiting(job_id, "another job was collecting this mailbox; it "
                                  "collected it whole"):
            return "skipped: mailbox busy"
        return BUSY_ELSEWHERE


def run_planned(app: Flask, job_id: int, scheduled_for: str | None, *, worker: str) -> str:
    """Run the planned task of the ledger job ``job_id`` (webhooks, clean-up, a plugin's)."""
    with _Counted(), app.app_context():
        try:
            return _planned(app, job_id, scheduled_for, worker)
        finally:
            db.session.remove()


def _planned(app: Flask, job_id: int, scheduled_for: str | None, worker: str) -> str:
    from medshake_bridge.scheduler.runs import JobBusy, execute_job
    from medshake_bridge.scheduler.tasks import planned_tasks

    job = db.session.get(QueueJob, job_id)
    if job is None or job.state in FINISHED_STATES:
        return "already done"
    specs = {task.job_id: task.spec for task in planned_tasks(bridge_state(app))}
    spec = specs.get(job.target)
    if spec is None:
        ledger.finish(job_id, SKIPPED, error=f"no plugin declares the task {job.target} here")
        return "skipped: unknown task"
    tick = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    folder = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    try:
        with named_lock(f"queue-job:{job_id}", folder=folder, file_name=f"queue-{job_id}.lock"):
            claimed = ledger.claim(job_id, worker=worker)
            if claimed is None:
                return "already done"
            again = claimed.attempts > 1  # delivered again: its first worker died
            db.session.remove()
            try:
                result = execute_job(app, spec, trigger=WORKER_TRIGGER, scheduled_for=tick,
                                     take_over=again)
            except JobBusy as exc:
                ledger.finish(job_id, SKIPPED, error=exc.message)
                return "skipped: running elsewhere"
            if result is None:
                ledger.finish(job_id, SKIPPED, error="this tick was run already")
                return "skipped: tick done"
            ledger.finish(job_id, OK if result.outcome == "ok" else FAILED,
                          counts=result.counts, error=result.error)
            return result.outcome
    except LockBusy:
        return BUSY_ELSEWHERE
