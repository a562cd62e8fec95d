"""A mailbox's processing workers: threads or forked processes fed by the mailbox reader.

The reader commits the rows of the messages it stored, then hands their ids to the pool
through a bounded queue; each worker processes them with the collection's own per-message
code (the ``handle_chunk`` it is given), in its own application context, database session and
work folders. Split from :mod:`medshake_bridge.collect.pipeline` (issue 18, seventh pass):
the pool knows how work is shared and how a worker's end, failure or death is reported, not
what processing a message means.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from medshake_bridge.collect import forked
from medshake_bridge.collect.mailboxes import MailboxPlan
from medshake_bridge.collect.reports import MailboxReport, Progress
from medshake_bridge.db import db
from medshake_bridge.errors import CONFIGURATION, BridgeError
from medshake_bridge.extension import BridgeState
from medshake_bridge.models.mail import STORED, Mailbox, ReceivedMessage
from medshake_bridge.workfolders import ScratchFolders, held_work_dir, reusing_work_dirs

log = logging.getLogger(__name__)

THREADS, PROCESSES = "threads", "processes"

#: What a worker does with a chunk of committed message ids: ``(ids, its report, progress,
#: the run's outage list, its work folders, handled)``, ``handled(id)`` called for each
#: message processed (or deferred); the pool catches what it raises.
ChunkHandler = Callable[[list[int], MailboxReport, Progress, list[ReceivedMessage],
                         "Path | ScratchFolders", Callable[[int], None]], None]


class ProcessingPool:
    """Process stored messages while the next ones download, several at once (issue 18).

    The mailbox reader commits stored rows, then hands their ids to a small pool of processing
    workers through a bounded queue (it waits when the queue is full). With the real programs a
    message's time goes mostly to waiting for the decryption programs, which releases the
    interpreter lock: while one worker waits for its ``apiuncrypt``, another parses or stores
    its message, and on several cores several programs run at once.

    The workers are threads, or forked processes (``kind="processes"``, see
    :func:`~medshake_bridge.collect.pipeline.pool_kind`): a message's own work holds the
    interpreter lock, so only processes use every core for it. Each worker has its own
    application context, database session, held work folder (its :class:`ScratchFolders`) and
    reused program folders (:func:`reusing_work_dirs`), and processes each message exactly as
    the sequential run does (one commit per message), so the guarantees hold in both: rows are
    committed before they are processed; an id is queued once and taken by one worker, which
    processes it only while it is still ``stored``; a crash redoes at most the message being
    downloaded and the ones being processed (up to one per worker), each kept once by its
    documents' unique key; documents are committed with their message's new state; deletion on
    the server waits for every worker to finish. The queue is first in, first out, so messages
    are committed about in the order they arrived (a message may overtake at most the ones the
    other workers are processing). Whatever the workers did not reach (they stop at the first
    unexpected error, which is then raised here; a worker process that dies is such an error) is
    processed afterwards by the sequential pass. An outage met by one thread defers the messages
    of every thread; each process meets it once. ``enabled=False`` (a database the workers
    cannot share, such as SQLite in memory): no worker at all, the sequential pass does
    everything. ``chunk``: ids per queued item at most; ``queue_size``: items queued at most.
    """

    def __init__(self, state: BridgeState, plan: MailboxPlan, mailbox: Mailbox, work: Path,
                 progress: Progress, handle_chunk: ChunkHandler, *, workers: int = 1,
                 kind: str = THREADS, enabled: bool = True, chunk: int = 8,
                 queue_size: int = 8) -> None:
        self.state, self.plan, self.mailbox, self.work = state, plan, mailbox, work
        self._handle_chunk = handle_chunk
        self._progress, self._said = progress, threading.Lock()
        self._enabled = enabled
        self._kind = kind if self._enabled else THREADS
        count = max(1, workers) if self._enabled else 0
        self._reports = [MailboxReport(plan.identity.key, list(plan.owners))
                         for _ in range(count)]
        self._chunk = max(1, chunk)
        self._queue_size = max(1, queue_size)
        self._queue: Any = queue.Queue(maxsize=self._queue_size)
        self._error: BaseException | None = None
        self._outage: list[ReceivedMessage] = []  # shared by threads: one outage defers all
        self._handled_lock = threading.Lock()
        self.handled: set[int] = set()  # ids processed (or deferred) by the workers
        self._workers: list[Any] = []
        self._results: Any = None
        self._gatherer: threading.Thread | None = None
        self._stopped: Any = None  # processes: set by the first worker that fails

    def progress(self, event: str, info: dict[str, Any]) -> None:
        with self._said:
            self._progress(event, info)

    def __enter__(self) -> ProcessingPool:
        if not self._enabled:
            return self
        if self._kind == PROCESSES:
            try:
                self._start_processes()
                return self
            except (OSError, AssertionError) as exc:  # no fork here (limits, a daemon child)
                log.warning("processing workers could not be forked (%s): threads instead", exc)
                self._stop_started()
        self._workers = [
            threading.Thread(target=self._run, args=(report, self._queue.get, self._handled),
                             daemon=True, name="collect-process" if len(self._reports) == 1
                             else f"collect-process-{n}")
            for n, report in enumerate(self._reports)]
        for thread in self._workers:
            thread.start()
        return self

    def submit(self, rows: list[ReceivedMessage]) -> None:
        if not self._enabled:
            return
        ids = [row.id for row in rows if row.id is not None and row.state == STORED]
        # a small batch is shared by every worker (with real programs, their runs overlap)
        size = max(1, min(self._chunk, -(-len(ids) // len(self._reports))))
        for start in range(0, len(ids), size):
            self._put(ids[start:start + size])

    def __exit__(self, *exc_info: object) -> None:
        if not self._enabled:
            return  # the sequential pass processes everything
        for _ in self._workers:
            self._put(None)
        if self._kind == PROCESSES:
            self._stop_processes()
        else:
            for thread in self._workers:
                thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def _put(self, item: list[int] | None) -> None:
        """Queue a chunk (``None``: a worker's end), waiting while the queue is full, except
        for worker processes that all ended (their messages wait for the sequential pass)."""
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._kind == PROCESSES and not any(p.is_alive() for p in self._workers):
                    return

    def _handled(self, message_id: int) -> None:
        with self._handled_lock:
            self.handled.add(message_id)

    def _failed(self) -> bool:
        return self._error is not None or (self._stopped is not None and self._stopped.is_set())

    def _fail(self, exc: BaseException) -> None:
        self._error = self._error or exc
        if self._stopped is not None:
            self._stopped.set()

    def _run(self, report: MailboxReport, take: Callable[[], list[int] | None],
             handled: Callable[[int], None]) -> None:
        """A worker: process the chunks ``take`` gives until it gives ``None``."""
        with self.state.app.app_context(), ExitStack() as stack:
            stack.enter_context(self.state.settings.remembering())  # plugins' reads, per run
            scratch: Path | ScratchFolders = self.work
            try:
                scratch = stack.enter_context(held_work_dir(self.work, "collect-"))
                stack.enter_context(reusing_work_dirs())
            except OSError as exc:  # raised in the reader's thread; the queue is still emptied
                self._fail(exc)
            session = db.session()
            session.expire_on_commit = False
            # Held for the worker's life: the session keeps only weak references, so without
            # it every message's ``row.mailbox`` (the plugins' public copy) was a query.
            mailbox = db.session.get(Mailbox, self.mailbox.id)  # noqa: F841
            while (chunk := take()) is not None:
                if self._failed():
                    continue  # keep emptying the queue: the reader must never block
                try:
                    self._handle_chunk(chunk, report, self.progress, self._outage, scratch,
                                       handled)
                except BaseException as exc:  # noqa: BLE001 - raised in the reader's thread
                    db.session.rollback()
                    self._fail(exc)
            db.session.remove()

    # -- worker processes ------------------------------------------------------------------

    def _start_processes(self) -> None:
        """Fork the workers (the reader's connections given back first), then start the
        thread that gathers what they report."""
        forked.release_connections(db)
        context = forked.fork_context()
        self._queue = context.Queue(maxsize=self._queue_size)
        self._results = context.Queue()
        self._stopped = context.Event()
        parent = os.getpid()
        self._workers = [
            context.Process(target=self._child, args=(index, parent), daemon=True,
                            name=f"collect-process-{index}")
            for index in range(len(self._reports))]
        for process in self._workers:
            process.start()
        self._gatherer = threading.Thread(target=self._gather, daemon=True,
                                          name="collect-gather")
        self._gatherer.start()

    def _stop_started(self) -> None:
        """After a failed start: end the workers already forked, go back to threads."""
        for process in self._workers:
            if process.pid is not None:
                process.kill()
                process.join()
        self._kind, self._workers, self._stopped = THREADS, [], None
        self._queue = queue.Queue(maxsize=self._queue_size)

    def _child(self, index: int, parent: int) -> None:
        """A worker process: the thread worker's loop, its events sent to the parent after
        each chunk and its counts and error at the end."""
        forked.started_in_child()
        events: list[tuple[str, dict[str, Any]]] = []
        done: list[int] = []
        self._progress = lambda event, info: events.append((event, info))

        def take() -> list[int] | None:
            if events or done:
                self._results.put(("chunk", index, list(events), list(done)))
                events.clear()
                done.clear()
            while not forked.parent_is_gone(parent):  # else: killed, its chunks left stored
                try:
                    return self._queue.get(timeout=1)
                except queue.Empty:
                    continue
            return None

        try:
            self._run(self._reports[index], take, done.append)
        finally:
            self._results.put(("end", index, self._reports[index], _portable(self._error)))
            self._results.close()
            self._results.join_thread()

    def _gather(self) -> None:
        """In the parent: pass the workers' events on, count their messages, and notice a
        worker that died without its end."""
        ended: set[int] = set()
        while len(ended) < len(self._workers):
            try:
                kind, index, first, second = self._results.get(timeout=0.5)
            except queue.Empty:
                for index, process in enumerate(self._workers):
                    if index not in ended and process.exitcode is not None \
                            and self._results.empty():
                        ended.add(index)
                        self._fail(BridgeError(
                            f"a processing process of the collection ended unexpectedly "
                            f"(exit code {process.exitcode}); its messages are processed "
                            f"again", fix="see the log of the collection; if it happens "
                            "again, set MEDSHAKE_BRIDGE_PROCESS_POOL=threads"))
                continue
            if kind == "chunk":
                for event, info in first:
                    self.progress(event, info)
                for message_id in second:
                    self._handled(message_id)
            else:
                ended.add(index)
                self._reports[index] = first
                if second is not None:
                    self._fail(second)

    def _stop_processes(self) -> None:
        if self._gatherer is not None:
            self._gatherer.join()
        for process in self._workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        self._queue.close()
        self._queue.join_thread()
        self._results.close()
        self._results.join_thread()

    def merge_into(self, report: MailboxReport) -> None:
        for mine in self._reports:
            for name in ("processed", "documents", "duplicates", "failed", "quarantined",
                         "waiting"):
                setattr(report, name, getattr(report, name) + getattr(mine, name))
            if mine.waiting_reason and (not report.waiting_reason
                                        or mine.waiting_cause == CONFIGURATION):
                report.waiting_reason = mine.waiting_reason
                report.waiting_fix, report.waiting_cause = mine.waiting_fix, mine.waiting_cause


def _portable(error: BaseException | None) -> BaseException | None:
    """``error`` as it can cross to the parent process: itself when it pickles, else a
    :class:`BridgeError` that says what it was."""
    if error is None:
        return None
    try:
        return pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, tried here
    except Exception:  # noqa: BLE001 - any exception may refuse pickling
        return BridgeError(f"{type(error).__name__}: {error}",
                           fix="see the log of the collection")
