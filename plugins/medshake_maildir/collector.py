"""Collecting from a local Maildir (``cur/``, ``new/``, ``tmp/``).

For sites that already fetch mail with fetchmail/getmail, and for the demo where the sandbox
relay delivers into Maildirs. A message's server id is its Maildir unique name (the file name
without the ``:2,FLAGS`` info part), stable when another program moves it from ``new/`` to
``cur/`` or changes its flags.
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

SUBFOLDERS = ("cur", "new", "tmp")
COPY_CHUNK = 1024 * 1024


def unique_name(file_name: str) -> str:
    return file_name.split(":", 1)[0]


class MaildirCollector:
    """A :class:`~medshake_bridge.interfaces.MailCollector` over one Maildir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, Path] = {}
        self._pending: list[str] = []

    def open(self) -> None:
        missing = [name for name in SUBFOLDERS if not (self.folder / name).is_dir()]
        if missing:
            raise MailConnectionError(
                f"{self.folder} is not a Maildir (no {', '.join(missing)}/ inside)",
                fix="check apicryptMaildir: it must name the folder that holds cur/, new/, tmp/",
            )

    def list_messages(self) -> list[ServerMessage]:
        self._files = {}
        for sub in ("new", "cur"):
            for path in sorted((self.folder / sub).iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    self._files[unique_name(path.name)] = path
        return [ServerMessage(key, path.stat().st_size) for key, path in self._files.items()]

    def _locate(self, server_id: str) -> Path:
        path = self._files.get(server_id)
        if path is not None and path.exists():
            return path
        for sub in ("new", "cur"):  # moved or re-flagged since the listing
            for candidate in (self.folder / sub).glob(f"{server_id}*"):
                if unique_name(candidate.name) == server_id:
                    return candidate
        raise MailProtocolError(f"message {server_id} vanished from {self.folder}",
                                fix="another program took it; nothing to do")

    def fetch_to(self, server_id: str, dest: BinaryIO) -> int:
        with open(self._locate(server_id), "rb") as source:
            shutil.copyfileobj(source, dest, COPY_CHUNK)
            return source.tell()

    def delete(self, server_ids: Sequence[str]) -> None:
        self._pending.extend(server_ids)

    def close(self) -> None:
        for server_id in self._pending:
            try:
                self._locate(server_id).unlink()
            except MailProtocolError:
                continue  # already gone: the goal is reached
        self._pending = []

    def abort(self) -> None:
        self._pending = []


def maildir_identity(settings: Mapping[str, Any]) -> MailboxIdentity | None:
    folder = str(settings.get("apicryptMaildir") or "")
    return MailboxIdentity("maildir", "", 0, folder) if folder else None


def maildir_collector(settings: Mapping[str, Any]) -> MaildirCollector:
    return MaildirCollector(Path(str(settings["apicryptMaildir"])))
