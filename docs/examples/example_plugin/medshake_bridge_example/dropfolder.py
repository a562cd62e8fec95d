"""A third-party mail collector: ``.eml`` files dropped in a folder by another program.

A message's server id is its file name; "deleting" it moves it to ``done/`` inside the folder
(at ``close``, like every collector: a session dropped without ``close`` deletes nothing).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from medshake_bridge.api import (
    MailboxIdentity,
    MailConnectionError,
    MailProtocolError,
    ServerMessage,
)

SETTING = "exampleDropFolder"
DONE = "done"


class DropFolderCollector:
    """A :class:`medshake_bridge.api.MailCollector` over one drop folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pending: list[str] = []

    def open(self) -> None:
        if not self.folder.is_dir():
            raise MailConnectionError(f"the drop folder {self.folder} does not exist",
                                      fix=f"create it or correct the setting {SETTING}")

    def list_messages(self) -> list[ServerMessage]:
        return [ServerMessage(path.name, path.stat().st_size)
                for path in sorted(self.folder.glob("*.eml")) if path.is_file()]

    def _path(self, server_id: str) -> Path:
        if Path(server_id).name != server_id:  # never leave the folder
            raise MailProtocolError(f"{server_id!r} is not a file of the drop folder",
                                    fix="nothing to do: the id did not come from a listing")
        return self.folder / server_id

    def fetch_to(self, server_id: str, dest: BinaryIO) -> int:
        with open(self._path(server_id), "rb") as source:
            shutil.copyfileobj(source, dest)
            return source.tell()

    def delete(self, server_ids: Sequence[str]) -> None:
        self._pending.extend(server_ids)

    def close(self) -> None:
        done = self.folder / DONE
        done.mkdir(exist_ok=True)
        for server_id in self._pending:
            path = self._path(server_id)
            if path.exists():
                path.replace(done / server_id)
        self._pending = []

    def abort(self) -> None:
        self._pending = []


def drop_folder_identity(settings: Mapping[str, Any]) -> MailboxIdentity | None:
    """Which mailbox these settings point at (``None`` while the folder is not set)."""
    folder = str(settings.get(SETTING) or "").strip()
    return MailboxIdentity("dropfolder", "", 0, folder) if folder else None


def drop_folder_collector(settings: Mapping[str, Any]) -> DropFolderCollector:
    return DropFolderCollector(Path(str(settings[SETTING])))
