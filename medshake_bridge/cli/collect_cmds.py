"""``medshake-bridge fetch``: collect mailboxes now, with a progress bar and a summary.

Exit codes (documented in the README, relied on by cron jobs and monitoring): 0 everything was
collected and processed, 1 some mailbox or message failed or waits for an outage, 2 a
configuration error (a user's settings, a certificate, a program) stops some mail.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.collect.pipeline import CollectReport, collect_all, collect_workers
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.extension import bridge_state

EXIT_OK, EXIT_FAILED, EXIT_CONFIGURATION = 0, 1, 2


class ProgressPrinter:
    """Turns pipeline events into one progress bar per mailbox (fetching, then processing).

    When several mailboxes are collected at once (``parallel``), bars would overwrite each
    other: each mailbox gets a line when listed and a line when done instead.
    """

    def __init__(self, *, parallel: bool = False) -> None:
        self.bar: Any = None
        self.parallel = parallel

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "plan":
            self.parallel = self.parallel and info["mailboxes"] > 1
            click.echo(f"{info['mailboxes']} mailbox(es) to collect.")
        elif event == "listed" and self.parallel:
            click.echo(f"  {info['mailbox']}: {info['new']} new")
        elif event == "listed":
            self._finish()
            self.bar = click.progressbar(length=max(info["new"], 1),
                                         label=f"{info['mailbox']}: {info['new']} new")
            self.bar.__enter__()
        elif event == "fetched" and self.bar is not None:
            self.bar.update(1)
        elif event == "mailbox-done":
            self._finish()
            report = info["report"]
            status = "ok" if report.clean else (
                report.outcome.upper() if report.outcome != "ok" else "PROBLEMS")
            line = (f"  {report.mailbox}: {status}; {report.fetched} fetched, "
                    f"{report.processed} processed, {report.documents} document(s), "
                    f"{report.failed} failed, {report.waiting} waiting, "
                    f"{report.quarantined} quarantined, {report.deleted} deleted on the server")
            click.echo(line)
            if report.error:
                click.echo(f"    error: {report.error}")
                if report.fix:
                    click.echo(f"    fix: {report.fix}")
            if report.waiting:
                click.echo(f"    waiting ({report.waiting_cause}): {report.waiting_reason}")
                if report.waiting_fix:
                    click.echo(f"    fix: {report.waiting_fix}")

    def _finish(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None


def summary(report: CollectReport) -> str:
    names = ("fetched", "processed", "documents", "duplicates", "failed", "waiting",
             "quarantined", "deleted")
    counts = ", ".join(f"{report.total(name)} {name}" for name in names)
    return f"{len(report.mailboxes)} mailbox(es): {counts}."


@bridge_group.command("fetch")
@click.option("--user", "user_id", type=int, default=None, help="Only this user's mailbox.")
@click.option("--dry-run", is_flag=True, help="Collect and process but never delete on the "
              "server.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Mailboxes collected at once (default: MEDSHAKE_BRIDGE_COLLECT_WORKERS, "
              "else one per core).")
@click.option("--enqueue", is_flag=True, help="Celery mode: put one job per mailbox on the "
              "queue for the workers and return at once.")
def fetch_cmd(user_id: int | None, dry_run: bool, jobs: int | None, enqueue: bool) -> None:
    """Collect the Apicrypt mailboxes now.

    Exit status: 0 all collected, 1 some mailbox or message failed (or waits for an outage),
    2 a configuration error stops some mail (see the lines starting with "fix:").
    With --enqueue: 0 every job queued, 1 the broker did not answer (the jobs are kept and
    sent again), 2 a configuration error.
    """
    if enqueue:
        _enqueue(user_id, dry_run)
        return
    try:
        state = bridge_state()
        workers = collect_workers(state, jobs)
        report = collect_all(state, user_id=user_id, dry_run=dry_run,
                             progress=ProgressPrinter(parallel=workers > 1), retry_now=True,
                             workers=workers)
    except ConfigurationError as exc:
        _stop_for_configuration(exc, "collected")
    for problem in report.problems:
        click.echo(f"Not collected: {problem}")
    click.echo(summary(report))
    if dry_run:
        click.echo("Dry run: nothing was deleted on the servers.")
    if report.configuration_error:
        raise SystemExit(EXIT_CONFIGURATION)
    if not report.ok:
        raise SystemExit(EXIT_FAILED)


def _stop_for_configuration(exc: ConfigurationError, what: str) -> NoReturn:
    """A setting stops the whole command: say so with its fix, exit with code 2."""
    click.echo(f"Nothing {what}: {exc.message}", err=True)
    click.echo(f"fix: {exc.fix}", err=True)
    raise SystemExit(EXIT_CONFIGURATION) from None


def _enqueue(user_id: int | None, dry_run: bool) -> None:
    from flask import current_app

    from medshake_bridge.scale.dispatch import enqueue_collection
    from medshake_bridge.scale.executor import uses_celery

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if dry_run:
            raise ConfigurationError("--dry-run cannot be queued",
                                     fix="run `fetch --dry-run` without --enqueue")
        if not uses_celery(app):
            raise ConfigurationError(
                "--enqueue needs the celery execution mode",
                fix="set MEDSHAKE_BRIDGE_EXECUTOR=celery and MEDSHAKE_BRIDGE_CELERY_BROKER_URL, "
                "or run `fetch` without --enqueue")
        report = enqueue_collection(app, trigger="cli",
                                    user_ids=None if user_id is None else [user_id])
    except ConfigurationError as exc:
        _stop_for_configuration(exc, "queued")
    for problem in report.problems:
        click.echo(f"Not collected: {problem}")
    click.echo(f"{report.mailboxes} mailbox(es): {report.enqueued} queued, {report.resent} "
               f"sent again, {report.already_queued} already queued or running, "
               f"{report.not_sent} not sent.")
    if report.broker_error:
        click.echo(f"The broker could not be reached: {report.broker_error}", err=True)
        click.echo("fix: start Redis again; the jobs are kept and sent again by the next "
                   "scheduled collection or `fetch --enqueue` (see `medshake-bridge workers`)",
                   err=True)
    if report.problems:
        raise SystemExit(EXIT_CONFIGURATION)
    if report.not_sent:
        raise SystemExit(EXIT_FAILED)
