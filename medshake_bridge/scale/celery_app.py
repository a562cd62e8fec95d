"""The Celery app of one bridge app, built on first use (``celery`` mode only).

Celery is imported here and nowhere else, so ``inline`` installations never need it. Each task
runs inside an application context of the bridge's Flask app and removes its database session
at the end. The queue carries only a job id (JSON): what the job is for lives in the ledger.

Delivery: late acknowledgement (``task_acks_late``) and ``task_reject_on_worker_lost``, so a job
whose worker dies is delivered again; Redis gives an unacknowledged job to another worker after
``MEDSHAKE_BRIDGE_CELERY_VISIBILITY_TIMEOUT`` seconds. One job is reserved per worker thread at
a time (``worker_prefetch_multiplier=1``), so a slow worker does not sit on jobs others could run.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from medshake_bridge.errors import ConfigurationError
from medshake_bridge.extension import bridge_state
from medshake_bridge.scale.executor import (
    COLLECT_QUEUE,
    JOBS_QUEUE,
    broker_url,
    result_backend,
    visibility_timeout,
)

EXTRAS_KEY = "celery"
COLLECT_TASK = "medshake_bridge.collect_mailbox"
RUN_JOB_TASK = "medshake_bridge.run_job"
SEND_TASK = "medshake_bridge.send_message"
ROUTES = {COLLECT_TASK: COLLECT_QUEUE, RUN_JOB_TASK: JOBS_QUEUE, SEND_TASK: JOBS_QUEUE}
# Sending a job: a broker that does not answer is retried briefly, then the job stays in the
# ledger as "unsent" and is sent again later (the caller never waits long).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                 "interval_max": 1.0}
BROKER_SOCKET_TIMEOUT = 5.0


def _import_celery() -> Any:
    try:
        import celery
    except ImportError:
        raise ConfigurationError(
            "MEDSHAKE_BRIDGE_EXECUTOR=celery but Celery is not installed",
            fix="pip install 'medshake-bridge[scale]' (or set MEDSHAKE_BRIDGE_EXECUTOR=inline)",
        ) from None
    return celery


def celery_for(app: Flask) -> Any:
    """The Celery app bound to ``app`` (made once per app and process)."""
    state = bridge_state(app)
    existing = state.extras.get(EXTRAS_KEY)
    if existing is not None:
        return existing
    celery = _import_celery()
    backend = result_backend(app)
    timeout = visibility_timeout(app)
    worker_app = celery.Celery("medshake_bridge", broker=broker_url(app), backend=backend,
                               set_as_current=False)
    worker_app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=backend is None,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_default_queue=JOBS_QUEUE,
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        task_publish_retry_policy=PUBLISH_RETRY,
        broker_transport_options={
            "visibility_timeout": timeout,
            "unacked_restore_interval": max(1, min(10, int(timeout / 2))),
            "unacked_restore_throttle": 1,
            "socket_timeout": BROKER_SOCKET_TIMEOUT,
            "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    _register_tasks(app, worker_app)
    state.extras[EXTRAS_KEY] = worker_app
    return worker_app


def _register_tasks(app: Flask, worker_app: Any) -> None:
    from medshake_bridge.scale import work

    again = max(1.0, min(visibility_timeout(app), 60.0))

    def settle(task: Any, outcome: str) -> str:
        if outcome == work.BUSY_ELSEWHERE:
            raise task.retry(countdown=again, max_retries=None)
        return outcome

    @worker_app.task(name=COLLECT_TASK, bind=True)
    def collect_mailbox(task: Any, job_id: int, owners: list[int] | None = None) -> str:
        return settle(task, work.run_collect(app, int(job_id), owners,
                                             worker=str(task.request.hostname or "")))

    @worker_app.task(name=SEND_TASK, bind=True)
    def send_message(task: Any, job_id: int) -> str:
        from medshake_bridge.send.queued import run_send

        return settle(task, run_send(app, int(job_id), worker=str(task.request.hostname or "")))

    @worker_app.task(name=RUN_JOB_TASK, bind=True)
    def run_job(task: Any, job_id: int, scheduled_for: str | None = None) -> str:
        return settle(task, work.run_planned(app, int(job_id), scheduled_for,
                                             worker=str(task.request.hostname or "")))


def publish(app: Flask, task_name: str, *args: Any) -> None:
    """Hand one job to the broker; raises when the broker cannot be reached."""
    worker_app = celery_for(app)
    worker_app.send_task(task_name, args=list(args), queue=ROUTES[task_name], retry=True,
                         retry_policy=PUBLISH_RETRY)
