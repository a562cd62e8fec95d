"""Writing a fetched message to a private file while hashing it.

The collector streams into :class:`HashingWriter`, so a large message never sits in memory; the
file is fsynced and renamed into place before the database row that points at it is committed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from medshake_bridge.errors import BridgeError
from medshake_bridge.paths import PRIVATE_FILE_MODE, ensure_private_dir


class RawTooLarge(BridgeError):
    """A download went past ``apicryptMaxMessageMB`` (whatever size the server announced)."""


class HashingWriter:
    """A write-only binary stream that hashes and counts what goes through it."""

    def __init__(self, handle: BinaryIO, limit: int | None = None) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.limit = limit
        self.overflow = False

    def write(self, data: bytes) -> int:
        """Past ``limit`` the data is read and dropped, not written (the mail protocol stays
        in step: stopping mid-message would leave the rest of it in the connection)."""
        if self.limit is not None and self.size + len(data) > self.limit:
            self.overflow = True
            self.size += len(data)
            return len(data)
        self._handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._handle.flush()


def raw_file_name(server_id: str) -> str:
    """The stored name of a server's message: the same on every run, so a file written by a
    run that crashed before committing its row is found and adopted, not fetched again."""
    return hashlib.sha256(server_id.encode("utf-8")).hexdigest()[:40] + ".eml"


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def remove_partials(folder: Path) -> int:
    """Remove the partial copies (``.NAME.PID.part``) a crashed run left in ``folder``.

    Called once per collection of the mailbox, under its lock, before fetching: looking for
    them at each message listed the whole folder each time (quadratic in its size).
    """
    removed = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") and entry.name.endswith(".part"):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    except FileNotFoundError:
        return 0
    return removed


class RawMessageFile:
    """A message being written: ``tmp`` while fetching, ``final`` once :meth:`keep` ran.

    The rename makes a complete file appear atomically; durability against a power cut comes
    from one ``os.sync()`` before anything is deleted on the server (see the pipeline), not
    from an fsync per message.
    """

    def __init__(self, folder: Path, name: str | None = None, *,
                 limit: int | None = None, folder_ready: bool = False) -> None:
        """``folder_ready``: the caller made ``folder`` (private) for this run already; it is
        made again only if it went missing (checking it for every message was a twentieth of
        the reading thread's time, issue 18, fifth pass)."""
        self.folder = folder if folder_ready else ensure_private_dir(folder)
        name = name or uuid.uuid4().hex + ".eml"
        self.tmp = self.folder / f".{name}.{os.getpid()}.part"
        self.final = self.folder / name
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        except FileNotFoundError:
            if not folder_ready:
                raise
            ensure_private_dir(folder)
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        self._handle = os.fdopen(fd, "wb")
        self.writer = HashingWriter(self._handle, limit)

    def keep(self) -> tuple[Path, str, int]:
        """Close and move into place; returns (path, sha256 hex, size). Raises
        :class:`RawTooLarge` (the partial file is removed) when the message went over the
        limit."""
        if self.writer.overflow:
            self.discard()
            raise RawTooLarge(f"the message is larger than {self.writer.limit} bytes",
                              fix="raise apicryptMaxMessageMB if such mail is expected")
        self._handle.close()
        os.replace(self.tmp, self.final)
        return self.final, self.writer.sha256.hexdigest(), self.writer.size

    def discard(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self.tmp.unlink(missing_ok=True)
