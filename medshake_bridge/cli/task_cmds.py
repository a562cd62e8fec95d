"""``medshake-bridge tasks list|run`` and ``medshake-bridge scheduler`` (external mode)."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import click
from flask import current_app

from medshake_bridge.audit import audit
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.extension import bridge_state
from medshake_bridge.scheduler.runs import JobBusy, as_utc, execute_job, last_run
from medshake_bridge.scheduler.service import SchedulerService, poll_seconds, scheduler_mode
from medshake_bridge.scheduler.tasks import UnknownJobError, planned_task, planned_tasks


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@bridge_group.group("tasks")
def tasks_group() -> None:
    """Planned tasks: list them, run one now."""


@tasks_group.command("list")
def tasks_list() -> None:
    """Each task: id, enabled, schedule, next run, last outcome."""
    now = datetime.now(UTC)
    click.echo(f"{'ID':<24} {'ENABLED':<8} {'SCHEDULE':<22} {'NEXT RUN':<20} LAST RUN")
    for task in planned_tasks(bridge_state()):
        run = last_run(task.job_id)
        last = f"{run.outcome} ({_when(as_utc(run.started_at))})" if run else "never"
        click.echo(f"{task.job_id:<24} {'yes' if task.enabled else 'no':<8} "
                   f"{str(task.schedule):<22} {_when(task.next_run(now)):<20} {last}")


@tasks_group.command("run")
@click.argument("job_id")
def tasks_run(job_id: str) -> None:
    """Run the task JOB_ID now (recorded in the history like a scheduled run)."""
    try:
        task = planned_task(bridge_state(), job_id)
        result = execute_job(current_app._get_current_object(),  # type: ignore[attr-defined]
                             task.spec, trigger="cli")
    except (UnknownJobError, JobBusy) as exc:
        raise click.ClickException(str(exc)) from None
    assert result is not None  # only scheduled ticks can be taken by another process
    counts = ", ".join(f"{key} {value}" for key, value in result.counts.items()) or "no counts"
    audit("task.run", target=job_id, outcome="ok" if result.outcome == "ok" else "failed",
          detail=f"run {result.run_id}: {result.outcome}", actor=None, actor_login="cli")
    click.echo(f"{job_id}: {result.outcome} ({counts})")
    if result.error:
        click.echo(f"error: {result.error}")
    if result.outcome != "ok":
        raise SystemExit(1)


@bridge_group.command("scheduler")
@click.option("--stop-timeout", default=5.0, show_default=True, type=float,
              help="Seconds to wait for running tasks on SIGTERM before recording them as "
              "interrupted.")
def scheduler_cmd(stop_timeout: float) -> None:
    """Run the planned tasks in the foreground (external mode); stops on SIGTERM or Ctrl+C.

    Start as many as you like (several hosts included): one leads and runs the tasks, the
    others wait and take over if it dies."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    mode = scheduler_mode(app)
    if mode == "off":
        raise click.ClickException(
            "the scheduler is off (MEDSHAKE_BRIDGE_SCHEDULER=off); set it to external to run "
            "the planned tasks in this process")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    service = SchedulerService(app).start()
    click.echo(f"medshake-bridge scheduler started (mode {mode}, poll every "
               f"{poll_seconds(app):g} s); waiting to lead or leading.")
    try:
        while not stop.wait(0.2):
            pass
    finally:
        click.echo("Stopping the scheduler…")
        service.stop(wait_seconds=stop_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Scheduler stopped.")
