"""What a collection reports: per mailbox, and for the whole run (the CLI, the pages, the
scheduler's status and the plugins read these)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medshake_bridge.errors import CONFIGURATION

#: A collection's progress callback: an event name and its details (``fetched``,
#: ``processed``, ``mailbox-done``...), for progress bars and status pages.
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class MailboxReport:
    mailbox: str
    owners: list[int]
    outcome: str = "ok"  # ok, error, busy
    error: str = ""
    listed: int = 0
    fetched: int = 0
    processed: int = 0
    documents: int = 0
    duplicates: int = 0
    failed: int = 0
    quarantined: int = 0
    deleted: int = 0
    skipped_too_large: int = 0
    adopted: int = 0
    waiting: int = 0  # messages kept for a retry because of an outage or a setting
    waiting_reason: str = ""
    waiting_fix: str = ""
    waiting_cause: str = ""
    fix: str = ""  # for outcome "error": what to do
    cause: str = ""  # for outcome "error": transient, configuration or content

    @property
    def clean(self) -> bool:
        """Collected, and no message failed, waits or went to quarantine."""
        return self.outcome == "ok" and not (self.failed or self.quarantined or self.waiting)


@dataclass
class CollectReport:
    mailboxes: list[MailboxReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(report, name) for report in self.mailboxes)

    @property
    def ok(self) -> bool:
        """True only when every mailbox was collected and no message failed or waits."""
        return not self.problems and all(r.clean for r in self.mailboxes)

    @property
    def configuration_error(self) -> bool:
        """A setting, a certificate or a program of this site stops some mail: an admin must
        act (``fetch`` exits 2)."""
        return bool(self.problems) or any(
            (r.outcome == "error" and r.cause == CONFIGURATION)
            or (r.waiting and r.waiting_cause == CONFIGURATION) for r in self.mailboxes)
