"""The plugin's journal of received messages: one JSON line per message, in its own folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medshake_bridge.api import StoredDocument, StoredMessage, plugin_folder

NAME = "example"


def journal_file() -> Path:
    return plugin_folder(NAME) / "journal.jsonl"


def record(message: StoredMessage, documents: list[StoredDocument]) -> dict[str, Any]:
    entry = {
        "message": message.id,
        "subject": message.subject,
        "owners": [owner.id for owner in message.owners],
        "documents": len(documents),
        "abnormal": sum(1 for document in documents if document.abnormal),
        "results": sum(len(document.results) for document in documents),
    }
    with journal_file().open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    return entry


def entries(owner_id: int | None = None) -> list[dict[str, Any]]:
    path = journal_file()
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [entry for entry in found if owner_id is None or owner_id in entry["owners"]]


def trim(keep: int) -> int:
    """Keep the ``keep`` newest lines; returns how many were removed."""
    found = entries()
    removed = max(len(found) - keep, 0)
    if removed:
        journal_file().write_text("".join(json.dumps(entry) + "\n" for entry in found[removed:]),
                                  encoding="utf-8")
    return removed
