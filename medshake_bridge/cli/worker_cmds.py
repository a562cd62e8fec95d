"""``medshake-bridge worker`` (a Celery worker with the bridge's app context) and
``medshake-bridge workers`` (the queue, the workers and their jobs, per host)."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.errors import BridgeError
from medshake_bridge.hostname import host_name
from medshake_bridge.scale.executor import QUEUES, uses_celery
from medshake_bridge.scale.status import ClusterStatus, cluster_status


def _require_celery() -> None:
    try:
        celery_mode = uses_celery(current_app)
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None
    if not celery_mode:
        raise click.ClickException(
            "the execution mode is inline (MEDSHAKE_BRIDGE_EXECUTOR): there is no queue; set "
            "MEDSHAKE_BRIDGE_EXECUTOR=celery and MEDSHAKE_BRIDGE_CELERY_BROKER_URL to run "
            "workers (docs/scale-out.md)")


def _queues(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose among {', '.join(QUEUES)}", param_hint="--queues")
    return names


@bridge_group.command("worker")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=None,
              help="Jobs run at once (default: the number of cores).")
@click.option("--queues", "-Q", default=",".join(QUEUES), show_default=True,
              help="Queues to serve, comma-separated.")
@click.option("--name", default="", help="Worker name (default: bridge-<pid>@<host>).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker_cmd(concurrency: int | None, queues: str, name: str, loglevel: str) -> None:
    """Run a queue worker in the foreground (celery mode); stops on SIGTERM (warm: the jobs
    running are finished) or Ctrl+C."""
    _require_celery()
    from medshake_bridge.scale.celery_app import celery_for
    from medshake_bridge.scale.heartbeat import Heartbeat
    from medshake_bridge.scale.work import running_jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    chosen = _queues(queues)
    threads = concurrency or os.cpu_count() or 1
    node = name or f"bridge-{os.getpid()}@{host_name()}"
    try:
        worker_app = celery_for(app)
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None
    from medshake_bridge.db import db
    from medshake_bridge.scale.recovery import recover_at_start

    # Before taking any job: what a dead process of this host left "running" is closed as
    # interrupted (its jobs are delivered again and run here or elsewhere).
    recovered = recover_at_start(app, worker=node)
    db.session.remove()
    if recovered:
        click.echo(f"{recovered.runs} run(s) and {recovered.jobs} job(s) left running by a "
                   f"stopped process of host {host_name()} marked interrupted.")
    beat = Heartbeat(app, name=node, queues=chosen, concurrency=threads, running=running_jobs)
    from celery import signals

    def ready(**_: object) -> None:
        beat.start()

    def shutdown(**_: object) -> None:
        beat.stop()

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutdown.connect(shutdown, weak=False)
    click.echo(f"medshake-bridge worker {node}: queues {', '.join(chosen)}, "
               f"{threads} at once (host {host_name()}).")
    worker = worker_app.Worker(hostname=node, queues=chosen, concurrency=threads,
                               pool_cls="threads", loglevel=loglevel, without_gossip=True,
                               without_mingle=True, without_heartbeat=True, quiet=True)
    worker.start()
    sys.exit(worker.exitcode or 0)


def format_status(status: ClusterStatus) -> str:
    """The ``workers`` report as text (English, like every command's output)."""
    if status.config_error:
        return f"Configuration error: {status.config_error}"
    if status.mode != "celery":
        return ("Execution mode: inline (one process collects; no queue, no workers). "
                "See docs/scale-out.md to run workers.")
    lines = [f"Execution mode: celery; broker {status.broker}"]
    if status.broker_error:
        lines.append(f"Broker: UNREACHABLE ({status.broker_error})")
    else:
        depth = ", ".join(f"{name} {count}" for name, count in status.queues.items())
        lines.append(f"Queue depth: {depth}")
    if status.unsent:
        since = status.unsent_since.strftime("%Y-%m-%d %H:%M:%S UTC") if \
            status.unsent_since else "?"
        lines.append(f"Jobs kept for the broker: {status.unsent} since {since} "
                     "(sent again at the next collection or `fetch --enqueue`)")
    lines.append(f"Jobs queued (not started): {status.queued}")
    lines.append("")
    lines.append(f"{'WORKER':<36} {'HOST':<20} {'STATE':<8} {'LAST SEEN':>10} {'RUNNING':>7} "
                 "QUEUES")
    for worker in status.workers:
        state = "alive" if worker.alive else ("stopped" if worker.stopped else "gone")
        lines.append(f"{worker.name[:36]:<36} {worker.host[:20]:<20} {state:<8} "
                     f"{worker.seconds_ago:>8.0f} s {worker.running:>7} {worker.queues}")
        if worker.alive and worker.broker_error:
            lines.append(f"    cannot reach the broker: {worker.broker_error}")
    if not status.workers:
        lines.append("(no worker has ever reported; start `medshake-bridge worker`)")
    lines.append("")
    lines.append(f"Per host, last 24 h: {'HOST':<20} {'WORKERS':>7} {'RUNNING':>7} {'OK':>6} "
                 f"{'FAILED':>6} {'RETRIED':>7} {'SKIPPED':>7} {'INTERRUPTED':>11}")
    for host in status.hosts:
        lines.append(f"{'':<20} {host.host[:20]:<20} {host.workers:>7} {host.running:>7} "
                     f"{host.ok:>6} {host.failed:>6} {host.retried:>7} {host.skipped:>7} "
                     f"{host.interrupted:>11}")
    return "\n".join(lines)


@bridge_group.command("workers")
def workers_cmd() -> None:
    """List the queue workers (last heartbeat, jobs running, failed, retried, per host) and the
    queue depth. Exits with 1 when the broker is unreachable or no worker is alive."""
    status = cluster_status(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(format_status(status))
    if status.config_error:
        sys.exit(2)
    if status.mode == "celery" and (status.broker_error or not status.alive_workers):
        sys.exit(1)
