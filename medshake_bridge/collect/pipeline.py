"""Collecting mailboxes: list → store raw → process → commit → hook → delete on the server.

Each step moves a message forward and commits, so a crash at any instant loses nothing and
duplicates nothing: a message is fetched again only if its raw file was not yet committed (at
most one per crash), processing is redone until it commits, and deletion on the server happens
only for messages whose documents are committed (and never in dry-run or keep-on-server mode).

Here: the mailboxes' collection (at once, each in its own process where it can), the reader,
the processing of one message and its retries. The workers that process while the reader
downloads are :mod:`~medshake_bridge.collect.workerpool`'s; what a run reports is
:mod:`~medshake_bridge.collect.reports`'.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import multiprocessing.connection
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from medshake_bridge.backends import backend_for, decrypted_limits
from medshake_bridge.collect import forked, headerblock
from medshake_bridge.collect.documents import build_documents
from medshake_bridge.collect.locks import MailboxBusy, mailbox_lock
from medshake_bridge.collect.mailboxes import MailboxPlan, plan_mailboxes
from medshake_bridge.collect.process import attachments_json, process_stored_message
from medshake_bridge.collect.provenance import is_external_sender
from medshake_bridge.collect.rawstore import (
    RawMessageFile,
    RawTooLarge,
    hash_file,
    raw_file_name,
    remove_partials,
)
from medshake_bridge.collect.reports import CollectReport, MailboxReport, Progress
from medshake_bridge.collect.rowwrite import insert_documents, insert_new, update_processed
from medshake_bridge.collect.workerpool import (
    PROCESSES,
    THREADS,
    ChunkHandler,
    ProcessingPool,
)
from medshake_bridge.db import db
from medshake_bridge.errors import (
    CONFIGURATION,
    CONTENT,
    TRANSIENT,
    BridgeError,
    ConfigurationError,
    error_cause,
)
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import MailCollector, ServerMessage
from medshake_bridge.models.mail import (
    DUPLICATE,
    FAILED,
    PROCESSED,
    QUARANTINED,
    STORED,
    Mailbox,
    ReceivedMessage,
)
from medshake_bridge.models.settings import SettingValue, utcnow
from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.webhooks import outbox
from medshake_bridge.workfolders import (
    ScratchFolders,
    held_work_dir,
    prepare_work_folder,
    remove_leftovers,
    reusing_work_dirs,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # tries of a message whose own content fails, before quarantine
# A message waiting for an outage or a setting is tried again after a delay that grows with
# the time it has waited (at least BACKOFF_MIN, at most BACKOFF_MAX seconds), and at once when
# a setting changed since its last try (configuration causes) or when a person asks.
BACKOFF_MIN = 60
BACKOFF_MAX = 30 * 60
FETCH_BATCH = 50
TAKEN = "taken"  # process_message_row: another process (another host) processed it first
FETCH_COMMIT_SECONDS = 0.25  # stored rows are committed at least this often while fetching
# Committed batches (of at most FETCH_BATCH rows) waiting for the processing threads; when they
# lags further behind, the reader waits for it instead of running far ahead.
PROCESS_QUEUE = 4
# A processing thread takes up to this many committed messages at a time (fewer when a batch
# would not give every thread a chunk): it reads their rows, the earlier copies of their
# Message-IDs (the duplicate check) and the webhook subscriptions with one query each for the
# chunk, not once per message (issue 18, fourth pass).
PROCESS_CHUNK = 8
#: App config key: how many mailboxes are collected at once (default: the number of cores).
WORKERS_CONFIG = "MEDSHAKE_BRIDGE_COLLECT_WORKERS"
#: App config key: how many messages are processed at once, in all the mailboxes collected
#: together (default: the number of cores); each mailbox gets its share, at least one.
PROCESS_WORKERS_CONFIG = "MEDSHAKE_BRIDGE_PROCESS_WORKERS"
#: App config key: what the processing workers are: ``auto`` (the default: processes for a
#: collection of at least FORK_MIN_MESSAGES new messages in a process that runs no other
#: thread, such as ``fetch``; threads otherwise), ``processes`` or ``threads``.
PROCESS_POOL_CONFIG = "MEDSHAKE_BRIDGE_PROCESS_POOL"
AUTO = "auto"
# Below this many new messages forking costs more than it saves (a fork and its exit: a few
# milliseconds each; a message's processing: a few milliseconds of one core).
FORK_MIN_MESSAGES = 100


def _quiet(event: str, info: dict[str, Any]) -> None:
    return None


def collect_workers(state: BridgeState, workers: int | None = None) -> int:
    """How many mailboxes to collect at once: ``workers`` if given, else the app's
    ``MEDSHAKE_BRIDGE_COLLECT_WORKERS``, else the number of cores."""
    value = workers if workers is not None else state.app.config.get(WORKERS_CONFIG)
    return _count_of(value, WORKERS_CONFIG, "mailboxes collected at once")


def process_workers(state: BridgeState, mailboxes_at_once: int = 1) -> int:
    """How many messages of one mailbox are processed at once: the app's
    ``MEDSHAKE_BRIDGE_PROCESS_WORKERS`` (else the number of cores) shared by the mailboxes
    collected at the same time, at least one each. More threads than cores gain little: a
    message's own work holds the interpreter lock, and the programs need the cores."""
    total = _count_of(state.app.config.get(PROCESS_WORKERS_CONFIG), PROCESS_WORKERS_CONFIG,
                      "messages processed at once")
    return max(1, -(-total // max(1, mailboxes_at_once)))


def pool_kind(state: BridgeState, new_messages: int | None = None) -> str:
    """Whether a mailbox's processing workers are threads or forked processes
    (``MEDSHAKE_BRIDGE_PROCESS_POOL``; see :class:`~.workerpool.ProcessingPool`). ``auto``
    forks only where it is safe (no other thread in this process:
    :func:`forked.can_fork_safely`) and worth it (at least :data:`FORK_MIN_MESSAGES` new
    messages; ``None``: not known yet, as for mailboxes collected at once, where only safety
    decides); ``processes`` forks wherever the platform can (an admin's or a test's choice: it
    may not be safe in a process running threads)."""
    value = str(state.app.config.get(PROCESS_POOL_CONFIG) or AUTO).strip().lower()
    if value not in (AUTO, THREADS, PROCESSES):
        raise ConfigurationError(
            f"{PROCESS_POOL_CONFIG}={value!r} is not a kind of processing worker",
            fix=f"set {PROCESS_POOL_CONFIG} to auto, processes or threads (or leave it unset)")
    if value == THREADS or not forked.fork_supported():
        return THREADS
    if value == PROCESSES:
        return PROCESSES
    worth_it = new_messages is None or new_messages >= FORK_MIN_MESSAGES
    return PROCESSES if worth_it and forked.can_fork_safely() else THREADS


def _count_of(value: Any, key: str, what: str) -> int:
    """A configured count (``None`` or empty: the number of cores), or the setting's fix."""
    if value in (None, ""):
        return os.cpu_count() or 1
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConfigurationError(
            f"{key}={value!r} is not a number of {what}",
            fix=f"set {key} to 1 or more (or leave it unset: one per core)")
    return number


def threads_share_the_database() -> bool:
    """Whether threads may each use their own session: not with an in-memory SQLite database,
    which is a single connection shared by every thread (then everything runs in one)."""
    url = db.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def collect_all(state: BridgeState, *, user_id: int | None = None, dry_run: bool = False,
                progress: Progress = _quiet, retry_now: bool = False,
                workers: int | None = None) -> CollectReport:
    """Collect every configured mailbox (or only the mailbox(es) ``user_id`` is on).

    A mailbox is always collected whole, for every user configured on it, whoever asked:
    collecting it for one user and deleting at the source would lose the others' mail.
    ``retry_now`` tries waiting messages without waiting for their backoff (a person asked).

    Up to ``workers`` mailboxes (see :func:`collect_workers`) are collected at once, each in
    its own thread with its own application context and database session, and each still
    under its own lock: a mailbox is never collected twice at the same time. The reports
    come back in the order of the plan whatever the order the mailboxes finish in.
    """
    plans, problems = plan_mailboxes(state)
    if user_id is not None:
        plans = [plan for plan in plans if user_id in plan.owners]
        problems = [problem for problem in problems if problem.user_id == user_id]
    report = CollectReport(problems=[str(problem) for problem in problems])
    progress("plan", {"mailboxes": len(plans)})
    at_once = min(collect_workers(state, workers), len(plans))
    if at_once <= 1 or not threads_share_the_database():
        for plan in plans:
            report.mailboxes.append(collect_mailbox(state, plan, dry_run=dry_run,
                                                    progress=progress, retry_now=retry_now))
        return report
    processing = process_workers(state, at_once)
    if pool_kind(state) == PROCESSES:
        report.mailboxes.extend(_collect_in_processes(
            state, plans, at_once, progress, dry_run=dry_run, retry_now=retry_now,
            processing=processing))
        return report
    said = threading.Lock()

    def serialised(event: str, info: dict[str, Any]) -> None:
        with said:
            progress(event, info)

    app = state.app

    def one(plan: MailboxPlan) -> MailboxReport:
        with app.app_context():
            return collect_mailbox(state, plan, dry_run=dry_run, progress=serialised,
                                   retry_now=retry_now, processing=processing)

    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="collect") as pool:
        report.mailboxes.extend(pool.map(one, plans))
    return report


def _collect_in_processes(state: BridgeState, plans: list[MailboxPlan], at_once: int,
                          progress: Progress, **options: Any) -> list[MailboxReport]:
    """Collect up to ``at_once`` mailboxes at a time, each in a forked process (its reader
    and its processing on every core, not in threads sharing one interpreter lock).

    Each child collects its mailbox exactly as a thread would (:func:`collect_mailbox`, under
    the mailbox's lock) and sends its progress events and its report through its own pipe (a
    pipe starts no thread in the child, which may then fork its own processing workers). A
    child that dies without its report gives its mailbox an error report: whatever it had
    committed stays, the next collection finishes the rest.
    """
    forked.release_connections(db)
    context = forked.fork_context()
    reports: dict[int, MailboxReport] = {}
    running: dict[Any, tuple[int, Any]] = {}  # reading end -> (plan index, process)
    waiting = list(enumerate(plans))
    parent = os.getpid()
    while waiting or running:
        while waiting and len(running) < at_once:
            index, plan = waiting.pop(0)
            reading, writing = context.Pipe(duplex=False)
            child = context.Process(target=_mailbox_child,  # may fork its own workers
                                    name=f"collect-{index}",
                                    args=(state, plan, writing, parent, options))
            try:
                child.start()
            except (OSError, AssertionError) as exc:  # no fork here: collected in this one
                log.warning("mailbox %s: no process could be forked (%s): collected here",
                            plan.identity.key, exc)
                reading.close()
                writing.close()
                reports[index] = collect_mailbox(state, plan, progress=progress, **options)
                continue
            writing.close()
            running[reading] = (index, child)
        for reading in multiprocessing.connection.wait(list(running)) if running else ():
            index, child = running[reading]
            try:
                kind, payload = reading.recv()
            except EOFError:  # the child ended: with its report sent, or died
                reading.close()
                del running[reading]
                child.join()
                if index not in reports:
                    reports[index] = _died(plans[index], child.exitcode)
                    progress("mailbox-done", {"report": reports[index]})
                continue
            if kind == "mailbox-done":  # the child's last event: its report
                reports[index] = payload["report"]
            progress(kind, payload)
    return [reports[index] for index in range(len(plans))]


def _mailbox_child(state: BridgeState, plan: MailboxPlan, writing: Any, parent: int,
                   options: dict[str, Any]) -> None:
    """A forked child collecting one mailbox (see :func:`_collect_in_processes`)."""
    forked.started_in_child()
    sending = threading.Lock()  # the child's own processing threads report too

    def forward(event: str, info: dict[str, Any]) -> None:
        if not forked.parent_is_gone(parent):
            with sending:
                writing.send((event, info))

    with state.app.app_context():
        collect_mailbox(state, plan, progress=forward, **options)  # ends with its report
    writing.close()


def _died(plan: MailboxPlan, exitcode: int | None) -> MailboxReport:
    report = MailboxReport(plan.identity.key, list(plan.owners), outcome="error")
    report.error = (f"the collection of this mailbox ended unexpectedly (exit code "
                    f"{exitcode}); what it had stored is kept and the next collection "
                    f"finishes it")
    report.fix = ("see the log of the collection; if it happens again, set "
                  f"{PROCESS_POOL_CONFIG}=threads")
    report.cause = TRANSIENT
    return report


def _mailbox_row(plan: MailboxPlan) -> Mailbox:
    identity = plan.identity
    row = db.session.scalars(select(Mailbox).where(Mailbox.key == identity.key)).first()
    if row is None:
        row = Mailbox(key=identity.key, collector=identity.collector, host=identity.host,
                      port=identity.port, login=identity.login)
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:  # created meanwhile by another process
            db.session.rollback()
            row = db.session.scalars(select(Mailbox).where(Mailbox.key == identity.key)).one()
    return row


def _folders(state: BridgeState, plan: MailboxPlan) -> tuple[Path, Path, Path]:
    inbox = Path(plan.settings["apicryptCheminInbox"])
    work = Path(plan.settings["apicryptCheminFichierC"])
    locks = Path(state.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    return inbox, work, locks


def _ready_work_folder(plan: MailboxPlan) -> Path:
    """The mailbox's work folder, checked (never chmod'ed), emptied of a crashed run's clear
    text; a world-writable folder fails this mailbox with its fix (a configuration error)."""
    work = prepare_work_folder(plan.settings["apicryptCheminFichierC"],
                               setting="apicryptCheminFichierC")
    remove_leftovers(work)
    for name in ("apicryptCheminFichierNC", "apicrypt2Spool"):
        folder = plan.settings.get(name)
        if folder and Path(str(folder)).is_dir():
            remove_leftovers(str(folder))
    return work


def collect_mailbox(state: BridgeState, plan: MailboxPlan, *, dry_run: bool = False,
                    progress: Progress = _quiet, retry_now: bool = False,
                    locked: bool = False, processing: int | None = None) -> MailboxReport:
    """Collect one mailbox under its lock (``locked``: the caller holds it already, as a queue
    worker does to claim its job first), processing ``processing`` messages at once (default:
    :func:`process_workers`)."""
    report = MailboxReport(plan.identity.key, list(plan.owners))
    mailbox = _mailbox_row(plan)
    inbox, work, locks = _folders(state, plan)
    mailbox.last_started_at = utcnow()
    db.session.commit()
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        with contextlib.nullcontext() if locked else mailbox_lock(locks, plan.identity.key):
            _ready_work_folder(plan)
            _collect_locked(state, plan, mailbox, inbox, work, report, dry_run, progress,
                            retry_now, processing or process_workers(state))
    except MailboxBusy:
        report.outcome = "busy"
        report.error = "another collection of this mailbox is running; skipped"
    except BridgeError as exc:
        db.session.rollback()
        report.outcome, report.error, report.fix = "error", exc.message, exc.fix
        report.cause = error_cause(exc)
        log.warning("mailbox %s: %s", plan.identity.key, exc)
    except Exception as exc:  # noqa: BLE001 - a plugin's collector bug stops its mailbox only
        db.session.rollback()
        plugin = plan.spec.plugin or plan.spec.key
        state.hooks.record_failure(plugin, f"collector {plan.spec.key}", exc)
        report.outcome = "error"
        report.error = (f"the {plan.spec.label} collector (plugin {plugin}) failed: "
                        f"{type(exc).__name__}: {exc}")
        report.fix = ("report it to the plugin's authors with the details on the Extensions "
                      "page; the other mailboxes are collected")
        report.cause = error_cause(exc)
    finally:
        session.expire_on_commit = expire_on_commit
    mailbox = db.session.get(Mailbox, mailbox.id)
    mailbox.last_finished_at = utcnow()
    mailbox.last_outcome = report.outcome
    mailbox.last_error = report.error
    mailbox.last_counts = json.dumps(asdict(report))
    db.session.commit()
    progress("mailbox-done", {"report": report})
    return report


def _collect_locked(state: BridgeState, plan: MailboxPlan, mailbox: Mailbox, inbox: Path,
                    work: Path, report: MailboxReport, dry_run: bool,
                    progress: Progress, retry_now: bool = False, processing: int = 1) -> None:
    collector = plan.spec.factory(plan.settings)
    collector.open()
    try:
        listed = collector.list_messages()
        report.listed = len(listed)
        known = set(db.session.scalars(
            select(ReceivedMessage.server_id).where(ReceivedMessage.mailbox_id == mailbox.id)))
        new = [item for item in listed if item.server_id not in known]
        progress("listed", {"mailbox": plan.identity.key, "new": len(new)})
        max_bytes = _max_message_bytes(plan.settings)
        raw_dir = inbox / "raw" / str(mailbox.id)
        on_disk: set[str] = set()  # complete raw files, from the same listing (we hold the lock)
        remove_partials(raw_dir, on_disk)  # a crashed run's partial downloads
        if new:
            ensure_private_dir(raw_dir)  # once, not for every message (see RawMessageFile)
        _announce_fetches(collector, [
            item.server_id for item in new if item.size <= max_bytes
            and raw_file_name(item.server_id) not in on_disk])
        chunk = max(1, min(PROCESS_CHUNK, FETCH_BATCH))
        with ProcessingPool(state, plan, mailbox, work, progress,
                            _chunk_handler(state, plan, inbox), workers=processing,
                            kind=pool_kind(state, len(new)),
                            enabled=threads_share_the_database(), chunk=chunk,
                            queue_size=PROCESS_QUEUE * -(-FETCH_BATCH // chunk)) as overlap:
            batch: list[ReceivedMessage] = []
            committed_at = time.monotonic()
            for item in new:
                if item.size > max_bytes:
                    report.skipped_too_large += 1
                    log.warning("message %s is %d bytes, over the cap: left on the server",
                                item.server_id, item.size)
                    continue
                try:
                    batch.append(_store_raw(collector, mailbox, item, raw_dir, report, max_bytes,
                                            on_disk))
                except RawTooLarge:  # the server announced less than it sent: cut, left there
                    report.skipped_too_large += 1
                    log.warning("message %s went over the cap of %d bytes while downloading: "
                                "left on the server", item.server_id, max_bytes)
                    continue
                if (len(batch) >= FETCH_BATCH
                        or time.monotonic() - committed_at >= FETCH_COMMIT_SECONDS):
                    report.fetched += _commit_rows(batch)
                    overlap.submit(batch)
                    batch, committed_at = [], time.monotonic()
                overlap.progress("fetched", {"server_id": item.server_id,
                                                "mailbox": plan.identity.key})
            report.fetched += _commit_rows(batch)
            overlap.submit(batch)
        overlap.merge_into(report)
        _process_pending(state, plan, mailbox, inbox, work, report, overlap.progress,
                         retry_now, handled=overlap.handled)
        deletable = [] if dry_run else _deletable(plan, mailbox, listed)
        if deletable:
            os.sync()  # raw copies and database on disk before the server copies go
            collector.delete(deletable)
        collector.close()
    except BaseException:
        collector.abort()
        raise
    if deletable:
        _mark_deleted(mailbox, deletable)
        report.deleted = len(deletable)


# One UPDATE per slice of server ids (was: every row loaded and flushed, one UPDATE each).
_MARK_DELETED = update(ReceivedMessage).where(
    ReceivedMessage.mailbox_id == bindparam("of_mailbox"),
    ReceivedMessage.server_id.in_(bindparam("server_ids", expanding=True)),
).values(deleted_on_server_at=bindparam("now")).execution_options(synchronize_session=False)
MARK_SLICE = 500  # server ids per statement: well under every database's parameter limit


def _mark_deleted(mailbox: Mailbox, server_ids: list[str]) -> None:
    """Record that ``server_ids`` are gone from the server (one commit)."""
    now = utcnow()
    for start in range(0, len(server_ids), MARK_SLICE):
        db.session.execute(_MARK_DELETED, {
            "of_mailbox": mailbox.id, "server_ids": server_ids[start:start + MARK_SLICE],
            "now": now})
    db.session.commit()


def _max_message_bytes(settings: dict[str, Any]) -> int:
    """``apicryptMaxMessageMB``: both what the server announces and what it sends."""
    try:
        megabytes = int(settings.get("apicryptMaxMessageMB") or 100)
    except (TypeError, ValueError):
        megabytes = 100
    return max(megabytes, 1) * 1024 * 1024


def _announce_fetches(collector: MailCollector, server_ids: list[str]) -> None:
    """Tell a collector that can batch (``prefetch``, optional in the interface) which
    messages will be fetched next and in which order: IMAP asks for them a batch per round
    trip, POP3 pipelines its RETR commands when the server allows it."""
    prefetch = getattr(collector, "prefetch", None)
    if prefetch is not None and server_ids:
        prefetch(server_ids)


def _store_raw(collector: MailCollector, mailbox: Mailbox, item: ServerMessage, raw_dir: Path,
               report: MailboxReport, max_bytes: int | None = None,
               on_disk: set[str] | None = None) -> ReceivedMessage:
    """Stream one message to its private file (or adopt the file a crashed run left).

    ``on_disk``: the names of the complete files the run found in ``raw_dir`` when it
    started (:func:`remove_partials`); without it the file system is asked."""
    final = raw_dir / raw_file_name(item.server_id)
    head, whole = b"", False
    if (final.name in on_disk) if on_disk is not None else final.is_file():
        sha256, size = hash_file(final)
        report.adopted += 1
    else:
        raw = RawMessageFile(raw_dir, final.name, limit=max_bytes, folder_ready=True)
        try:
            collector.fetch_to(item.server_id, raw.writer)
            final, sha256, size = raw.keep()
        except BaseException:
            raw.discard()
            raise
        head, whole = raw.writer.head, raw.writer.whole_head
    return ReceivedMessage(mailbox_id=mailbox.id, server_id=item.server_id,
                           message_id_header=headerblock.message_id(
                               headerblock.block_of(final, head, whole)),
                           sha256=sha256, size=size, raw_path=str(final), state=STORED)


def _commit_rows(rows: list[ReceivedMessage]) -> int:
    """Commit a batch of stored messages; returns how many are new rows.

    A batch saves a commit per message; a crash before it loses nothing, since the next run
    adopts the files already on disk. If another process stored one of them meanwhile (the
    unique constraint), the batch is retried row by row.
    """
    if not rows:
        return 0
    try:
        insert_new(ReceivedMessage, rows)  # one statement, not the ORM's flush
        db.session.commit()
        return len(rows)
    except IntegrityError:
        db.session.rollback()
    added = 0
    for row in rows:
        db.session.add(ReceivedMessage(**{
            column: getattr(row, column) for column in (
                "mailbox_id", "server_id", "message_id_header", "sha256", "size", "raw_path",
                "state")}))
        try:
            db.session.commit()
            added += 1
        except IntegrityError:
            db.session.rollback()
    return added


def _due(row: ReceivedMessage, now: dt.datetime, settings_changed: dt.datetime | None,
         retry_now: bool) -> bool:
    """Whether a stored or failed message is tried in this run."""
    if row.state == STORED or not row.error_cause or row.error_cause == CONTENT or retry_now:
        return True
    if row.next_attempt_at is None or _aware(row.next_attempt_at) <= now:
        return True
    return (row.error_cause != TRANSIENT and settings_changed is not None
            and row.last_attempt_at is not None
            and _aware(settings_changed) > _aware(row.last_attempt_at))


def _process_pending(state: BridgeState, plan: MailboxPlan, mailbox: Mailbox, inbox: Path,
                     work: Path | ScratchFolders, report: MailboxReport, progress: Progress,
                     retry_now: bool = False, handled: set[int] | frozenset[int] = frozenset()
                     ) -> None:
    """Process the stored and failed messages of the mailbox that are due, except those
    ``handled`` already in this run (by the processing thread)."""
    pending = list(db.session.scalars(
        select(ReceivedMessage).where(ReceivedMessage.mailbox_id == mailbox.id,
                                      ReceivedMessage.state.in_((STORED, FAILED)))
        .order_by(ReceivedMessage.id)))
    now = utcnow()
    settings_changed = db.session.scalar(select(func.max(SettingValue.updated_at)))
    outage: list[ReceivedMessage] = []
    todo = [row for row in pending if row.id not in handled]
    if not todo:
        return
    with held_work_dir(work, "collect-") if isinstance(work, Path) else nullcontext(
            work) as scratch, state.settings.remembering(), reusing_work_dirs():
        due = []
        for row in todo:
            if _due(row, now, settings_changed, retry_now):
                due.append(row)
            else:
                report.waiting += 1
                _note_waiting(report, row)
        for start in range(0, len(due), PROCESS_CHUNK):
            chunk = due[start:start + PROCESS_CHUNK]
            known = _Known.of(chunk)
            for row in chunk:
                _process_counted(state, plan, row, inbox, scratch, report, progress, outage,
                                 known)


def _process_counted(state: BridgeState, plan: MailboxPlan, row: ReceivedMessage, inbox: Path,
                     work: Path | ScratchFolders, report: MailboxReport, progress: Progress,
                     outage: list[ReceivedMessage], known: _Known | None = None) -> None:
    """Process one due message and count its outcome in ``report``. ``outage`` holds the
    message that met an outage in this run, if any: the following ones wait for it without
    being tried (asking again for each message would only add timeouts)."""
    if outage:
        _defer(row, outage[0])
        outcome = FAILED
    else:
        outcome, documents = process_message_row(state, row, plan.owners, plan.settings,
                                                 inbox, work, known)
    if outcome == PROCESSED:
        report.processed += 1
        report.documents += documents
    elif outcome == DUPLICATE:
        report.duplicates += 1
    elif outcome == QUARANTINED:
        report.quarantined += 1
    elif outcome == TAKEN:
        pass  # counted by the process that stored its documents
    elif row.error_cause in ("", CONTENT):
        report.failed += 1
    else:
        report.waiting += 1
        _note_waiting(report, row)
        if row.error_cause == TRANSIENT and not outage:
            outage.append(row)
    progress("processed", {"message": row.id, "outcome": outcome})


def _chunk_handler(state: BridgeState, plan: MailboxPlan, inbox: Path) -> ChunkHandler:
    """What a processing worker does with a chunk of committed ids: read the rows still
    stored, the chunk's duplicate check and subscriptions once, then each message as the
    sequential pass does (one commit each)."""
    def handle(chunk: list[int], report: MailboxReport, progress: Progress,
               outage: list[ReceivedMessage], scratch: Path | ScratchFolders,
               handled: Callable[[int], None]) -> None:
        # no read snapshot left open (the mailbox's read, an empty chunk): under REPEATABLE
        # READ (MariaDB) it would hide the rows committed since
        db.session.commit()
        rows = list(db.session.scalars(_STORED_OF_CHUNK, {"ids": chunk}))
        known = _Known.of(rows)
        for row in rows:
            _process_counted(state, plan, row, inbox, scratch, report, progress, outage, known)
            handled(row.id)

    return handle


def _note_waiting(report: MailboxReport, row: ReceivedMessage) -> None:
    if not report.waiting_reason or row.error_cause == CONFIGURATION:
        report.waiting_reason = row.last_error.partition(": ")[2] or row.last_error
        report.waiting_fix, report.waiting_cause = row.error_fix, row.error_cause


def _defer(row: ReceivedMessage, like: ReceivedMessage) -> None:
    """Mark ``row`` as waiting for the same outage as ``like``, without trying it."""
    now = utcnow()
    row.state, row.error_cause, row.error_fix = FAILED, like.error_cause, like.error_fix
    row.last_error = like.last_error
    row.waiting_since = row.waiting_since or now
    row.next_attempt_at = like.next_attempt_at
    db.session.commit()


def backoff(waiting_since: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """The delay before the next try of a waiting message: about as long as it has waited
    (so a short outage clears quickly and a long one costs few tries), within bounds."""
    waited = (now - _aware(waiting_since)).total_seconds()
    return dt.timedelta(seconds=min(BACKOFF_MAX, max(BACKOFF_MIN, waited)))


# Built once: SQLAlchemy then reuses its cache key and compiled form; building the statement
# for each message cost more than running it (issue 18, cProfile of a pass-through run).
_EARLIER_SAME_MESSAGE = select(ReceivedMessage.id).where(
    ReceivedMessage.mailbox_id == bindparam("mailbox_id"),
    ReceivedMessage.message_id_header == bindparam("message_id"),
    ReceivedMessage.sha256 == bindparam("sha256"),
    ReceivedMessage.id < bindparam("id"),
    ReceivedMessage.state != DUPLICATE,
).limit(1)


_STORED_OF_CHUNK = select(ReceivedMessage).where(
    ReceivedMessage.id.in_(bindparam("ids", expanding=True)),
    ReceivedMessage.state == STORED).order_by(ReceivedMessage.id)


_COPIES_OF = select(ReceivedMessage.id, ReceivedMessage.mailbox_id,
                    ReceivedMessage.message_id_header, ReceivedMessage.sha256).where(
    ReceivedMessage.mailbox_id.in_(bindparam("mailbox_ids", expanding=True)),
    ReceivedMessage.message_id_header.in_(bindparam("message_ids", expanding=True)),
    ReceivedMessage.state != DUPLICATE,
)


def _is_duplicate(row: ReceivedMessage) -> bool:
    """The same Message-ID and bytes as an earlier message of the same mailbox."""
    if not row.message_id_header:
        return False
    earlier = db.session.scalars(_EARLIER_SAME_MESSAGE, {
        "mailbox_id": row.mailbox_id, "message_id": row.message_id_header,
        "sha256": row.sha256, "id": row.id}).first()
    return earlier is not None


@dataclass
class _Known:
    """What a processing thread read once for a chunk of messages instead of once each.

    ``duplicates``: the ids of the chunk's rows that have an earlier copy (same mailbox,
    Message-ID and bytes, not itself a duplicate), the answer :func:`_is_duplicate` gives
    row by row: every row of the chunk was committed before the chunk was read, and so was
    every row of a smaller id this collection stored (its reader commits in id order), so the
    one query sees the earlier copies the per-row query saw. A row the chunk's earlier
    messages turn into duplicates while it waits changes nothing: a duplicate's own earlier
    copy is older still. ``subscriptions``: the webhook
    subscriptions to ``document.received`` at the start of the chunk (a subscription made
    while a message is processed could miss it either way).
    """

    duplicates: set[int]
    subscriptions: list[Any]

    @classmethod
    def of(cls, rows: list[ReceivedMessage]) -> _Known:
        with_ids = [row for row in rows if row.message_id_header]
        duplicates: set[int] = set()
        if with_ids:
            copies = db.session.execute(_COPIES_OF, {
                "mailbox_ids": sorted({row.mailbox_id for row in with_ids}),
                "message_ids": sorted({row.message_id_header for row in with_ids})}).all()
            for row in with_ids:
                if any(copy.id < row.id and copy.mailbox_id == row.mailbox_id
                       and copy.message_id_header == row.message_id_header
                       and copy.sha256 == row.sha256 for copy in copies):
                    duplicates.add(row.id)
        return cls(duplicates, outbox.subscribed(outbox.DOCUMENT_RECEIVED) if rows else [])


def process_message_row(state: BridgeState, row: ReceivedMessage, owners: list[int],
                        settings: dict[str, Any], inbox: Path, work: Path | ScratchFolders,
                        known: _Known | None = None) -> tuple[str, int]:
    """Process one stored message; returns its new state and its number of inbox documents.
    Commits. ``known``: the duplicate check and subscriptions read for its chunk."""
    if (row.id in known.duplicates) if known is not None else _is_duplicate(row):
        row.state, row.processed_at = DUPLICATE, utcnow()
        db.session.commit()
        return DUPLICATE, 0
    try:
        backend = backend_for(state, settings)
        result = process_stored_message(Path(row.raw_path), inbox / "messages" / str(row.id),
                                        work, backend, decrypted_limits(settings))
    except Exception as exc:  # noqa: BLE001 - recorded on the row; the raw file stays
        db.session.rollback()
        _record_failure(row, exc)
        return row.state, 0
    parsed = result.parsed
    values: dict[str, Any] = {
        "subject": parsed.subject, "from_address": parsed.from_address[:500],
        "to_address": parsed.to_address[:500], "date_header": parsed.date[:100],
        "attachments_json": attachments_json(result.attachments),
        "signature_status": result.signature_status, "signer": result.signer[:255],
        "signature_invalid": result.signature_invalid, "last_error": "; ".join(result.notes),
        "error_cause": "", "error_fix": "", "waiting_since": None, "next_attempt_at": None,
        "last_attempt_at": utcnow(), "unencrypted": result.unencrypted,
        "external_sender": is_external_sender(parsed.from_address, settings)}
    if (values["unencrypted"] or values["external_sender"]) and settings.get(
            "apicryptRefuseUnprotectedMail"):
        for key, value in values.items():
            setattr(row, key, value)
        return _refuse_unprotected(row, result.folder)
    values["state"], values["processed_at"] = PROCESSED, utcnow()
    try:
        # the row's new values first: its documents' search text uses its subject and sender
        update_processed(row, values)
        documents = build_documents(row, result.documents, owners)
        insert_documents(documents)
        outbox.document_received(  # announced in the same commit as the documents
            documents, None if known is None else known.subscriptions)
        db.session.commit()
    except IntegrityError:
        # Hosts sharing one database each hold their own mailbox lock, so two may process
        # the same stored message; the unique key on its documents keeps them once. The
        # loser keeps nothing and goes on with the next message.
        db.session.rollback()
        log.info("message %s (server id %s) was processed by another process meanwhile",
                 row.id, row.server_id)
        return TAKEN, 0
    _announce(state, row, documents)
    return PROCESSED, len(documents)


def _refuse_unprotected(row: ReceivedMessage, folder: Path | None) -> tuple[str, int]:
    """``apicryptRefuseUnprotectedMail``: no inbox document, straight to the quarantine (the
    raw message stays, an admin can read it there)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    reasons = [text for flag, text in ((row.unencrypted, "not encrypted with Apicrypt"),
                                       (row.external_sender, "sender outside the Apicrypt "
                                        "domains")) if flag]
    row.state, row.error_cause = QUARANTINED, CONTENT
    row.last_error = f"refused: {' and '.join(reasons)} ({row.from_address})"[:4000]
    row.error_fix = ("check with the sender; to accept such mail, turn off "
                     "apicryptRefuseUnprotectedMail or add the sender's domain to "
                     "apicryptSenderDomains, then retry")
    row.attachments_json = "[]"
    db.session.commit()
    log.warning("message %s refused: %s", row.id, row.last_error)
    return QUARANTINED, 0


def _record_failure(row: ReceivedMessage, exc: Exception) -> None:
    """Record a failed try. Only the message's own fault counts toward quarantine; an outage
    or a setting leaves it waiting (stored, on the server) with a growing delay."""
    now = utcnow()
    cause = error_cause(exc)
    row.last_error = f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"[:4000]
    row.error_cause, row.error_fix = cause, str(getattr(exc, "fix", "") or "")[:2000]
    row.last_attempt_at = now
    if cause == CONTENT:
        row.attempts += 1
        row.state = QUARANTINED if row.attempts >= MAX_ATTEMPTS else FAILED
        row.waiting_since = row.next_attempt_at = None
    else:
        row.state = FAILED
        row.waiting_since = row.waiting_since or now
        row.next_attempt_at = now + backoff(row.waiting_since, now)
    db.session.commit()
    log.warning("message %s (server id %s) failed (%s, try %d): %s", row.id, row.server_id,
                cause, row.attempts, row.last_error)


def waiting_messages(mailbox_ids: list[int] | None = None) -> list[ReceivedMessage]:
    """Messages kept for a retry because of an outage or a setting (the banners' source)."""
    query = select(ReceivedMessage).where(
        ReceivedMessage.state == FAILED,
        or_(ReceivedMessage.error_cause == TRANSIENT,
            ReceivedMessage.error_cause == CONFIGURATION))
    if mailbox_ids is not None:
        query = query.where(ReceivedMessage.mailbox_id.in_(mailbox_ids))
    return list(db.session.scalars(query.order_by(ReceivedMessage.id)))


def _announce(state: BridgeState, row: ReceivedMessage, documents: list[Any]) -> None:
    # each reaction on its own: a plugin's failure is recorded and never undoes the storage;
    # plugins get public copies (with the owners), never the session's rows; none is made
    # when no plugin listens (the copies were 4 % of a message's processing, fifth pass)
    if not state.hooks.implementations("medshake_message_stored"):
        return
    from medshake_bridge.public import stored_message

    message, public_documents = stored_message(row, documents)
    state.hooks.call("medshake_message_stored", message=message, documents=public_documents)


def _deletable(plan: MailboxPlan, mailbox: Mailbox, listed: list[ServerMessage]) -> list[str]:
    if plan.settings.get("apicryptKeepOnServer"):
        return []
    days = int(plan.settings.get("apicryptDeleteAfterDays") or 0)
    cutoff = utcnow() - dt.timedelta(days=days)
    on_server = {item.server_id for item in listed}
    # two columns, not the rows: loading 1,500 rows was a tenth of the reading thread
    rows = db.session.execute(select(ReceivedMessage.server_id, ReceivedMessage.stored_at).where(
        ReceivedMessage.mailbox_id == mailbox.id,
        ReceivedMessage.state.in_((PROCESSED, DUPLICATE)),
        ReceivedMessage.deleted_on_server_at.is_(None)))
    return [server_id for server_id, stored_at in rows
            if server_id in on_server and _aware(stored_at) <= cutoff]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def retry_message(state: BridgeState, message_id: int) -> str:
    """An admin's retry of a failed or quarantined message: three fresh tries, the first now.

    Processing uses the raw file only; the server is not contacted (the message may be gone
    from it already). Returns the message's new state.
    """
    row = db.session.get(ReceivedMessage, message_id)
    if row is None or row.state not in (FAILED, QUARANTINED):
        raise BridgeError(f"message {message_id} is not waiting for a retry",
                          fix="refresh the quarantine page")
    plans, _ = plan_mailboxes(state)
    plan = next((p for p in plans if p.identity.key == row.mailbox.key), None)
    if plan is None:
        raise BridgeError(
            f"no user owns the mailbox {row.mailbox.key} any more",
            fix="set apicryptAdresse and the mailbox settings of its owner again, then retry")
    inbox, work, _ = _folders(state, plan)
    _ready_work_folder(plan)
    row.attempts = 0
    db.session.commit()
    return process_message_row(state, row, plan.owners, plan.settings, inbox, work)[0]


def retry_all(state: BridgeState) -> dict[str, int]:
    """An admin's "retry all": every quarantined or failed message, once each, now.

    Returns how many ended in each state. Messages of a mailbox nobody owns any more are
    counted under ``"unowned"`` and left as they are.
    """
    ids = list(db.session.scalars(select(ReceivedMessage.id).where(
        ReceivedMessage.state.in_((FAILED, QUARANTINED))).order_by(ReceivedMessage.id)))
    counts: dict[str, int] = {}
    for message_id in ids:
        try:
            outcome = retry_message(state, message_id)
        except BridgeError:
            outcome = "unowned"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
