"""Writing a fetched message to a private file while hashing it.

The collector streams into :class:`HashingWriter`, so a large message never sits in memory; the
file is fsynced and renamed into place before the database row that points at it is committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from medshake_bridge.errors import BridgeError
from medshake_bridge.paths import PRIVATE_FILE_MODE, ensure_private_dir


class RawTooLarge(BridgeError):
    """A download went past ``apicryptMaxMessageMB`` (whatever size the server announced)."""


HEAD_BYTES = 64 * 1024  # the start of a message kept in memory: its headers, read back free


class HashingWriter:
    """A write-only binary stream that hashes and counts what goes through it.

    It also keeps the first :data:`HEAD_BYTES` of what it wrote (:attr:`head`): the pipeline
    reads the Message-ID from there instead of opening the file it has just written again
    (six system calls per message, issue 18)."""

    def __init__(self, handle: BinaryIO | FdWriter, limit: int | None = None) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.limit = limit
        self.overflow = False
        self._head = bytearray()  # grown in place: many small writes stay linear

    def write(self, data: bytes) -> int:
        """Past ``limit`` the data is read and dropped, not written (the mail protocol stays
        in step: stopping mid-message would leave the rest of it in the connection)."""
        if self.limit is not None and self.size + len(data) > self.limit:
            self.overflow = True
            self.size += len(data)
            return len(data)
        self._handle.write(data)
        self.sha256.update(data)
        if self.size < HEAD_BYTES:
            self._head += data[:HEAD_BYTES - self.size]
        self.size += len(data)
        return len(data)

    @property
    def head(self) -> bytes:
        """The first :data:`HEAD_BYTES` written (fewer when less was written)."""
        return bytes(self._head)

    @property
    def whole_head(self) -> bool:
        """:attr:`head` holds everything written (the message is no longer than it)."""
        return self.size <= HEAD_BYTES

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


def remove_partials(folder: Path, complete: set[str] | None = None) -> int:
    """Remove the partial copies (``.NAME.PID.part``) a crashed run left in ``folder``.

    Called once per collection of the mailbox, under its lock, before fetching: looking for
    them at each message listed the whole folder each time (quadratic in its size).
    ``complete``, when given, receives the names of the complete files (regular files, not
    hidden) seen in the same listing: the pipeline looks up there whether a message's file
    is already on disk instead of asking the file system twice per message (issue 18,
    system calls). Under the mailbox's lock only this run adds files to the folder.
    """
    removed = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    if entry.name.endswith(".part"):
                        Path(entry.path).unlink(missing_ok=True)
                        removed += 1
                elif complete is not None and entry.is_file():
                    complete.add(entry.name)
    except FileNotFoundError:
        return 0
    return removed


class FdWriter:
    """Buffered writes straight to a file descriptor.

    ``os.fdopen`` asks the kernel three questions per file (``fstat``, whether it is a
    terminal, the position) that a fresh private file never needs; this writes in blocks of
    :data:`BLOCK` (a larger write goes through at once) and nothing else (issue 18)."""

    BLOCK = 1024 * 1024

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self.closed = False
        self.size = 0  # bytes written: the file's size once closed, without a stat

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= self.BLOCK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        view = memoryview(self._buffer)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        finally:
            view.release()
        self._buffer.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        finally:
            os.close(self._fd)


_PID: list[int] = []


def _process_id() -> int:
    """This process's id, asked once (and again in a forked child): the partial files'
    names carry it, and ``getpid`` was a system call per message (issue 18)."""
    if not _PID:
        _PID.append(os.getpid())
    return _PID[0]


os.register_at_fork(after_in_child=_PID.clear)


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
        self.tmp = self.folder / f".{name}.{_process_id()}.part"
        self.final = self.folder / name
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        except FileNotFoundError:
            if not folder_ready:
                raise
            ensure_private_dir(folder)
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        self._handle = FdWriter(fd)
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
            with contextlib.suppress(OSError):  # the partial file goes anyway
                self._handle.close()
        self.tmp.unlink(missing_ok=True)
