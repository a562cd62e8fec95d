"""Write-back documents not yet copied into MedShakeEHR's inbox: kept, counted, retried.

A copy that fails (MedShakeEHR's database down, its inbox folder missing, the connector's
tables not installed...) leaves the bridge's own copy untouched; the document is then recorded
here, one small file per document under the connector's private folder (no clinical content:
the document id, when and why it failed). ``medshakeehr check``, the system information page and
``doctor`` count them; ``medshakeehr retry-copies`` and the connector's page copy each one once
(the copy itself is idempotent, keyed ``bridge-document:<id>`` in MedShakeEHR's database) and
forget it once copied. One file per document keeps concurrent collectors (several processes or
hosts on shared storage) from overwriting each other's records.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medshake_bridge.api import BridgeError, plugin_folder, received_document

FOLDER = "writeback-pending"


@dataclass(frozen=True)
class PendingCopy:
    """One document whose copy failed: when it first and last failed, the last reason."""

    document_id: int
    first_failed: str
    last_failed: str
    attempts: int
    error: str
    fix: str = ""


@dataclass
class RetryReport:
    copied: int = 0
    failing: int = 0
    gone: int = 0  # no longer in the bridge
    unassigned: int = 0  # no MedShakeEHR account receives it (medshakeEhrInboxUserId is 0)
    errors: list[str] = field(default_factory=list)


def _folder(app: Any = None) -> Path:
    folder = plugin_folder("medshakeehr", app) / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _path(document_id: int, app: Any = None) -> Path:
    return _folder(app) / f"{int(document_id)}.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def record_failure(document_id: int, error: str, fix: str = "") -> None:
    """Remember that ``document_id`` was not copied (keeps the first failure's time)."""
    path = _path(document_id)
    previous = _read(path)
    data = {"document_id": int(document_id), "error": error, "fix": fix,
            "first_failed": previous.first_failed if previous else _now(),
            "last_failed": _now(), "attempts": (previous.attempts if previous else 0) + 1}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def forget(document_id: int) -> None:
    """The document is in MedShakeEHR's inbox (or gone): nothing left to retry."""
    _path(document_id).unlink(missing_ok=True)


def _read(path: Path) -> PendingCopy | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PendingCopy(document_id=int(data["document_id"]),
                           first_failed=str(data.get("first_failed", "")),
                           last_failed=str(data.get("last_failed", "")),
                           attempts=int(data.get("attempts", 1)),
                           error=str(data.get("error", "")), fix=str(data.get("fix", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pending(app: Any = None) -> list[PendingCopy]:
    """The documents waiting for a copy, oldest failure first."""
    found = [_read(path) for path in _folder(app).glob("*.json")]
    return sorted((item for item in found if item is not None),
                  key=lambda item: (item.first_failed, item.document_id))


def retry_pending(config: Any, document_ids: list[int] | None = None) -> RetryReport:
    """Copy each waiting document once (or only ``document_ids``, recorded or not); forget
    those copied, and those no longer in the bridge."""
    from medshake_medshakeehr.writeback import copy_document

    report = RetryReport()
    ids = document_ids if document_ids else [item.document_id for item in pending()]
    for document_id in ids:
        found = received_document(document_id)
        if found is None:
            forget(document_id)
            report.gone += 1
            continue
        message, document = found
        try:
            inbox_id = copy_document(config, document, message)
        except BridgeError as exc:
            record_failure(document_id, exc.message, exc.fix)
            report.failing += 1
            report.errors.append(f"document {document_id}: {exc.message}"
                                 + (f" (fix: {exc.fix})" if exc.fix else ""))
            continue
        forget(document_id)
        if inbox_id is None:
            report.unassigned += 1
        else:
            report.copied += 1
    return report


def pending_summary(items: list[PendingCopy]) -> str:
    """``2 document(s) not copied since …; last error: …`` (empty when none)."""
    if not items:
        return ""
    latest = max(items, key=lambda item: item.last_failed)
    return (f"{len(items)} document(s) not copied into MedShakeEHR's inbox since "
            f"{items[0].first_failed}; last error: {latest.error}")
