"""One line of an import report (users or settings): what happened to one value."""

from __future__ import annotations

from dataclasses import dataclass

IMPORTED = "imported"
SKIPPED = "skipped"
CONFLICTING = "conflicting"


@dataclass(frozen=True)
class ImportLine:
    outcome: str
    subject: str
    detail: str = ""

    def text(self) -> str:
        return f"{self.outcome:<12} {self.subject}" + (f": {self.detail}" if self.detail else "")
