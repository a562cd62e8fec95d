"""The host's own planned tasks: collecting the Apicrypt mailboxes and cleaning the working
folders. Both follow the job call convention (``func(app) -> counts``, see
:mod:`medshake_bridge.scheduler.runs`)."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.models import User
from medshake_bridge.scheduler.runs import JobFailed
from medshake_bridge.workfolders import remove_leftovers

WORK_FOLDER_SETTINGS = ("apicryptCheminFichierNC", "apicryptCheminFichierC", "apicrypt2Spool")
PROTECTED_FOLDER_SETTINGS = ("apicryptCheminInbox", "apicryptCheminArchivesInbox")
LEFTOVER_AGE_SECONDS = 3600


def collect_job(app: Flask) -> dict[str, int]:
    """Collect every configured mailbox (the scheduled "relève"); in ``celery`` mode, put one
    job per mailbox on the queue instead (see :mod:`medshake_bridge.scale.dispatch`)."""
    from medshake_bridge.collect.pipeline import collect_all
    from medshake_bridge.scale.executor import uses_celery

    if uses_celery(app):
        return _enqueue_collection(app)
    report = collect_all(bridge_state(app))
    names = ("fetched", "processed", "documents", "duplicates", "failed", "waiting",
             "quarantined", "deleted")
    counts = {"mailboxes": len(report.mailboxes), **{name: report.total(name) for name in names},
              "not_collected": len(report.problems)}
    if not report.ok:
        problems = []
        for mailbox in report.mailboxes:
            if mailbox.outcome != "ok":
                problems.append(f"{mailbox.mailbox}: {mailbox.outcome} {mailbox.error}".strip())
            elif mailbox.waiting:
                problems.append(f"{mailbox.mailbox}: {mailbox.waiting} message(s) waiting "
                                f"({mailbox.waiting_reason})")
            elif mailbox.failed or mailbox.quarantined:
                problems.append(f"{mailbox.mailbox}: {mailbox.failed} failed, "
                                f"{mailbox.quarantined} quarantined")
        problems += [str(problem) for problem in report.problems]
        raise JobFailed("; ".join(problems), counts=counts,
                        fix="see the quarantine and the settings of the users named here")
    return counts


collect_job.medshake_fans_out = True  # type: ignore[attr-defined]  # see service.FANS_OUT


def _enqueue_collection(app: Flask) -> dict[str, int]:
    from medshake_bridge.scale.dispatch import enqueue_collection, resend_unsent
    from medshake_bridge.scheduler.runs import current_run_id

    report = enqueue_collection(app, trigger="schedule", run_id=current_run_id())
    if not report.broker_error:
        report.resent += resend_unsent(app).resent
    counts = report.as_counts()
    if report.broker_error or report.problems:
        problems = list(report.problems)
        if report.broker_error:
            problems.insert(0, f"the broker could not be reached: {report.broker_error}; "
                            f"{report.not_sent} job(s) kept, sent again at the next run")
        raise JobFailed("; ".join(problems), counts=counts,
                        fix="start Redis again (MEDSHAKE_BRIDGE_CELERY_BROKER_URL) and see "
                        "`medshake-bridge workers`" if report.broker_error else
                        "see the settings of the users named here")
    return counts


def _folders_of(app: Flask, names: tuple[str, ...]) -> set[Path]:
    """The effective values of ``names`` for the site and for every active user."""
    state = bridge_state(app)
    present = [name for name in names if name in state.registry]
    owners: list[int | None] = [None]
    owners += list(db.session.scalars(select(User.id).where(User.active.is_(True))))
    folders: set[Path] = set()
    for user_id in owners:
        for name in present:
            value = state.settings.get(name, user_id=user_id)
            if value:
                folders.add(Path(str(value)).resolve())
    return folders


def _overlaps(folder: Path, protected: set[Path]) -> bool:
    return any(folder == other or folder in other.parents or other in folder.parents
               for other in protected)


def _newest_mtime(path: Path) -> float:
    info = path.lstat()
    newest = info.st_mtime
    if stat.S_ISDIR(info.st_mode):
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
    return newest


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def clean_work_folders(app: Flask, *, max_age: float = LEFTOVER_AGE_SECONDS) -> dict[str, Any]:
    """Remove leftovers older than an hour from the private working folders
    (``apicryptCheminFichierNC``, ``apicryptCheminFichierC``, the v2 spool).

    A folder that is, contains or lies inside the inbox or the archive is never touched."""
    protected = _folders_of(app, PROTECTED_FOLDER_SETTINGS)
    counts = {"folders": 0, "removed": 0, "kept_recent": 0, "skipped_folders": 0, "errors": 0}
    problems: list[str] = []
    limit = time.time() - max_age
    for folder in sorted(_folders_of(app, WORK_FOLDER_SETTINGS)):
        if _overlaps(folder, protected):
            counts["skipped_folders"] += 1
            problems.append(f"{folder} is or overlaps the inbox or archive folder: not cleaned")
            continue
        if not folder.is_dir():
            continue
        counts["folders"] += 1
        counts["removed"] += remove_leftovers(folder)  # crashed runs' clear text, any age
        for entry in folder.iterdir():
            try:
                if _newest_mtime(entry) > limit:
                    counts["kept_recent"] += 1
                    continue
                _remove(entry)
                counts["removed"] += 1
            except OSError as exc:
                counts["errors"] += 1
                problems.append(f"{entry}: {exc.strerror or exc}")
    if problems:
        raise JobFailed("; ".join(problems[:20]), counts=counts,
                        fix="give each working folder its own place, outside the inbox and "
                        "archive, writable by the bridge's account")
    return counts
