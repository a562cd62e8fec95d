"""When the mail was last collected (and how it went) and when it will be next, for the
mailboxes a person reads: what the inbox says above its list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.models.mail import Mailbox

COLLECT_JOB = "apicrypt-collect"


@dataclass(frozen=True)
class MailboxStatus:
    owners: list[int]
    whose: str  # the owners' names
    finished_at: datetime | None
    outcome: str  # ok, error, busy, "" (never collected)
    error: str
    documents: int


@dataclass(frozen=True)
class CollectionStatus:
    mailboxes: list[MailboxStatus]
    next_run: datetime | None
    scheduled: bool  # the collection task exists and is enabled


def collection_status(owner_ids: set[int], names: dict[int, str],
                      mailboxes: list[Mailbox] | None = None) -> CollectionStatus:
    """The last collection of each mailbox of ``owner_ids`` and the next planned one
    (``names``: owner id → name, to say whose mailbox it is; ``mailboxes``: every mailbox
    by id, when the caller has already read them)."""
    found = []
    if mailboxes is None:
        mailboxes = list(db.session.scalars(select(Mailbox).order_by(Mailbox.id)))
    for mailbox in mailboxes:
        counts = json.loads(mailbox.last_counts or "{}")
        owners = [int(owner) for owner in counts.get("owners") or []]
        if not set(owners) & owner_ids:
            continue
        whose = ", ".join(names[owner] for owner in owners if owner in names)
        found.append(MailboxStatus(owners, whose, mailbox.last_finished_at, mailbox.last_outcome,
                                   counts.get("error") or mailbox.last_error or "",
                                   int(counts.get("documents") or 0)))
    next_run, scheduled = None, False
    try:
        from medshake_bridge.scheduler.tasks import planned_tasks

        for task in planned_tasks(bridge_state(), (COLLECT_JOB,)):
            if task.job_id == COLLECT_JOB:
                scheduled = task.enabled
                next_run = task.next_run()
    except Exception:  # noqa: BLE001 - a scheduler problem must not hide the inbox
        next_run = None
    return CollectionStatus(found, next_run, scheduled)
