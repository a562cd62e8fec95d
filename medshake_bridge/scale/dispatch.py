"""Putting work on the queue (``celery`` mode): one job per mailbox, one per planned task.

Each job is recorded in the ledger *before* it is sent, so a broker outage loses nothing: the
job stays "unsent" and is sent again at the next pass (each scheduled collection, each "collect
now"). A mailbox that already has a job waiting or running gets no second one: it is collected
once per tick however late the workers are. Jobs that never started within twice the
visibility timeout are given up and replaced; a job queued more than a visibility timeout ago
and not started is sent once more (its message may have been lost with a broker restarted
without its data; the ledger runs it once however many messages carry it).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask

from medshake_bridge.collect.mailboxes import plan_mailboxes
from medshake_bridge.dblocks import LockBusy, named_lock
from medshake_bridge.extension import bridge_state
from medshake_bridge.models.scale import COLLECT, JOB, QUEUED, SEND, UNSENT, QueueJob
from medshake_bridge.models.settings import utcnow
from medshake_bridge.scale import ledger
from medshake_bridge.scale.celery_app import COLLECT_TASK, RUN_JOB_TASK, SEND_TASK, publish
from medshake_bridge.scale.executor import broker_url, visibility_timeout

log = logging.getLogger(__name__)


@dataclass
class EnqueueReport:
    """What one pass put on the queue."""

    mailboxes: int = 0
    enqueued: int = 0
    already_queued: int = 0
    resent: int = 0
    not_sent: int = 0
    expired: int = 0
    broker_error: str = ""
    problems: list[str] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)

    def as_counts(self) -> dict[str, int]:
        return {"mailboxes": self.mailboxes, "enqueued": self.enqueued,
                "already_queued": self.already_queued, "resent": self.resent,
                "not_sent": self.not_sent, "not_collected": len(self.problems)}


TASKS = {COLLECT: COLLECT_TASK, JOB: RUN_JOB_TASK, SEND: SEND_TASK}


def send_job(app: Flask, job: QueueJob, report: EnqueueReport, *args: object) -> bool:
    """Hand the recorded ``job`` to the broker (kept as unsent, with the error in ``report``,
    when the broker does not answer)."""
    return _send(app, job, report, *args)


def _send(app: Flask, job: QueueJob, report: EnqueueReport, *args: object) -> bool:
    task = TASKS.get(job.kind, RUN_JOB_TASK)
    again = job.state == QUEUED
    try:
        publish(app, task, job.id, *args)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the job waits in the ledger
        report.not_sent += 1
        report.broker_error = f"{type(exc).__name__}: {exc}"
        if not again:
            ledger.mark_unsent(job.id,
                               f"the broker could not be reached: {report.broker_error}")
        log.warning("queue: job %s kept, the broker could not be reached: %s", job.id,
                    report.broker_error)
        return False
    if again:
        ledger.mark_resent(job.id)
    else:
        ledger.mark_sent(job.id)
    return True


def _lost(app: Flask, job: QueueJob) -> bool:
    """A job handed to the broker more than a visibility timeout ago and not started: its
    message may have been lost (a broker restarted without its data). Sending it once more
    is harmless: the ledger runs a job once however many messages carry it."""
    if job.state != QUEUED or job.sent_at is None:
        return False
    sent = job.sent_at if job.sent_at.tzinfo else job.sent_at.replace(tzinfo=dt.UTC)
    return (utcnow() - sent).total_seconds() > visibility_timeout(app)


def _horizon(app: Flask) -> datetime:
    return utcnow() - dt.timedelta(seconds=2 * visibility_timeout(app) + 60)


# How long a pass waits for the one before it (a pass meeting an absent broker waits for its
# connection timeout once, then keeps the rest without trying each).
PASS_WAIT_SECONDS = 60.0


@contextmanager
def _passes_take_turns(app: Flask) -> Iterator[None]:
    """Hold the lock of the enqueue passes, waiting for the pass before this one.

    Why: two passes at once (a scheduled tick still waiting for an absent broker, then the next
    tick or a "collect now") would each find no job for a mailbox the other is about to record,
    and record a second one. Raises :class:`LockBusy` after ``PASS_WAIT_SECONDS``."""
    folder = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    deadline = time.monotonic() + PASS_WAIT_SECONDS
    held = ExitStack()
    while True:
        try:
            held.enter_context(named_lock("queue-enqueue", folder=folder,
                                          file_name="queue-enqueue.lock"))
            break
        except LockBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with held:
        yield


def enqueue_collection(app: Flask, *, trigger: str, user_ids: Collection[int] | None = None,
                       run_id: int | None = None) -> EnqueueReport:
    """One collection job per mailbox (every mailbox, or those one of ``user_ids`` is on) that
    has none waiting or running; sends again the ones a broker outage kept. Returns at once
    (after the pass before it, if one is running: passes take turns)."""
    broker_url(app)  # a missing or wrong broker setting stops here, with its fix
    with _passes_take_turns(app):
        return _enqueue_collection(app, trigger=trigger, user_ids=user_ids, run_id=run_id)


def _enqueue_collection(app: Flask, *, trigger: str, user_ids: Collection[int] | None,
                        run_id: int | None) -> EnqueueReport:
    state = bridge_state(app)
    report = EnqueueReport()
    horizon = _horizon(app)
    report.expired = ledger.expire_before(horizon)
    plans, problems = plan_mailboxes(state)
    if user_ids is not None:
        wanted = set(user_ids)
        plans = [plan for plan in plans if wanted & set(plan.owners)]
        problems = [problem for problem in problems if problem.user_id in wanted]
    report.problems = [str(problem) for problem in problems]
    report.mailboxes = len(plans)
    for plan in plans:
        waiting = ledger.pending(COLLECT, plan.identity.key, since=horizon)
        if waiting is None:
            job = ledger.record(COLLECT, plan.identity.key, trigger=trigger, run_id=run_id)
            report.jobs.append(job.id)
            if _send(app, job, report, plan.owners):
                report.enqueued += 1
            if report.broker_error:
                _keep_the_rest(plans, plan, report, trigger, run_id, horizon)
                break
        elif waiting.state == UNSENT or _lost(app, waiting):
            report.jobs.append(waiting.id)
            if _send(app, waiting, report, plan.owners):
                report.resent += 1
            elif report.broker_error:
                _keep_the_rest(plans, plan, report, trigger, run_id, horizon)
                break
        else:
            report.already_queued += 1
            report.jobs.append(waiting.id)
    return report


def _keep_the_rest(plans: list, current: object, report: EnqueueReport, trigger: str,
                   run_id: int | None, horizon: datetime) -> None:
    """The broker is away: record the remaining mailboxes' jobs as unsent without trying each
    (each try would wait for the broker again)."""
    rest = plans[plans.index(current) + 1:]
    for plan in rest:
        waiting = ledger.pending(COLLECT, plan.identity.key, since=horizon)
        if waiting is None:
            job = ledger.record(COLLECT, plan.identity.key, trigger=trigger, run_id=run_id)
            ledger.mark_unsent(job.id, f"the broker could not be reached: {report.broker_error}")
            report.jobs.append(job.id)
            report.not_sent += 1
        elif waiting.state == UNSENT:
            report.not_sent += 1
        else:
            report.already_queued += 1


def enqueue_planned(app: Flask, job_id: str, *, trigger: str,
                    scheduled_for: datetime | None = None) -> EnqueueReport:
    """One job that runs the planned task ``job_id`` on a worker (recorded there, with the
    worker's host, in the task history)."""
    broker_url(app)
    report = EnqueueReport()
    job = ledger.record(JOB, job_id, trigger=trigger)
    report.jobs.append(job.id)
    tick = scheduled_for.isoformat() if scheduled_for is not None else None
    if _send(app, job, report, tick):
        report.enqueued += 1
    return report


def resend_unsent(app: Flask) -> EnqueueReport:
    """Send again every job a broker outage kept (planned tasks included)."""
    report = EnqueueReport()
    for job in ledger.unsent():
        if _send(app, job, report):
            report.resent += 1
        else:
            break
    return report
