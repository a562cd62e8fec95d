"""Attachments kept across a failed send, so nobody has to pick the files again.

A browser never re-sends a file input after an error page, so the files of a refused or
failed send are copied into a private folder named after the form's one-time token
(``<apicryptCheminFichierNC>/drafts/<user id>/<token>/``, 0700/0600) and offered again,
ticked, on the page that shows the error. The folder goes once the message is sent, and any
draft older than a day is swept away.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.send.service import AttachmentFile

_TOKEN = re.compile(r"^[0-9a-f]{16,64}$")
MAX_AGE = 24 * 3600


def folder_for(settings: dict[str, Any], user_id: int, token: str) -> Path | None:
    """The draft folder of one form (not created), or ``None`` for a malformed token."""
    if not _TOKEN.match(token or ""):
        return None
    return Path(settings["apicryptCheminFichierNC"]) / "drafts" / str(int(user_id)) / token


def files(folder: Path | None) -> list[AttachmentFile]:
    """The kept attachments, in the order they were added."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for slot in sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: int(p.name)
                       if p.name.isdigit() else 0):
        for item in slot.iterdir():
            if item.is_file():
                found.append(AttachmentFile(item.name, item))
    return found


def keep(folder: Path | None, staged: list[AttachmentFile]) -> None:
    """Copy freshly uploaded files into the draft folder (names already cleaned)."""
    if folder is None or not staged:
        return
    ensure_private_dir(folder)
    present = {item.name.lower() for item in files(folder)}
    number = len(list(folder.iterdir()))
    for item in staged:
        if item.name.lower() in present or not item.path.is_file():
            continue
        slot = ensure_private_dir(folder / str(number))
        target = slot / item.name
        shutil.copyfile(item.path, target)
        target.chmod(0o600)
        number += 1


def discard(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(settings: dict[str, Any], user_id: int, *, max_age: float = MAX_AGE) -> None:
    """Remove this user's drafts older than ``max_age`` seconds."""
    root = Path(settings["apicryptCheminFichierNC"]) / "drafts" / str(int(user_id))
    if not root.is_dir():
        return
    limit = time.time() - max_age
    for folder in root.iterdir():
        try:
            if folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
