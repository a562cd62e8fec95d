"""What the sandbox puts inside a ``.apz``: several named files in one encrypted container.

A real ``.apz`` may hold several files named by the program (DOMAIN §2), so the sandbox's does
too. The clear container is then sealed as an armour of kind ``apz``: the relay re-encrypts it
exactly like a body.

The container is made to be streamed (format 2): a first line naming the format, then for each
file a line ``F SIZE NAME`` (decimal size, UTF-8 name; a name never holds a control character)
followed by its SIZE raw bytes, and a last line ``E COUNT``. A 50 MB file is copied through in
blocks, never held whole. Format 1 (one JSON document with base64 content, written by earlier
versions) is still read.
"""

from __future__ import annotations

import binascii
import io
import os
from io import BytesIO

from medshake_bridge.sandbox.errors import SandboxTamperedError, SandboxUsageError

FORMAT = "medshake-sandbox-apz-1 (FAKE, NOT APICRYPT)"
FORMAT_2 = b"medshake-sandbox-apz-2 (FAKE, NOT APICRYPT)\n"
_COPY_SIZE = 1 << 20
_MAX_LINE = 4096


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import BinaryIO, Protocol

    class _Sink(Protocol):
        def write(self, data: bytes, /) -> object: ...


def check_file_name(name: str) -> str:
    """A plain file name: no folder part, no '..', no control characters."""
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
        or len(name.encode("utf-8", errors="surrogateescape")) > 255
    ):
        raise SandboxUsageError(
            f"{name!r} cannot be used as a file name in a .apz.",
            fix="Rename the file: no folder separators, no control characters.",
        )
    return name


def _check_names(names: Sequence[str]) -> None:
    if not names:
        raise SandboxUsageError("No file to put in the .apz.", fix="Give at least one -s FILE.")
    seen: set[str] = set()
    for name in names:
        check_file_name(name)
        if name in seen:
            raise SandboxUsageError(
                f"Two files named {name!r} in one .apz.", fix="Rename one of them."
            )
        seen.add(name)


def _entry(name: str, size: int) -> bytes:
    return b"F %d " % size + name.encode("utf-8", errors="surrogateescape") + b"\n"


def _end(count: int) -> bytes:
    return b"E %d\n" % count


def pack_files(sources: Sequence[tuple[str, str | os.PathLike[str]]], out: _Sink) -> None:
    """Write the container of files on disk (name, path) to ``out``, block by block."""
    _check_names([name for name, _ in sources])
    out.write(FORMAT_2)
    for name, path in sources:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SandboxUsageError(
                f"Cannot read the input {os.fspath(path)!r} ({exc.strerror}).",
                fix="Check the -s path and its permissions.",
            ) from exc
        with handle:
            size = os.fstat(handle.fileno()).st_size
            out.write(_entry(name, size))
            copied = 0
            while copied < size:
                block = handle.read(min(_COPY_SIZE, size - copied))
                if not block:
                    raise SandboxUsageError(
                        f"The input {os.fspath(path)!r} shrank while it was read.",
                        fix="Do not change the files while they are encrypted.",
                    )
                out.write(block)
                copied += len(block)
    out.write(_end(len(sources)))


def pack(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The clear container for ``files`` (name, content); names must be distinct."""
    _check_names([name for name, _ in files])
    out = BytesIO()
    out.write(FORMAT_2)
    for name, data in files:
        out.write(_entry(name, len(data)))
        out.write(data)
    out.write(_end(len(files)))
    return out.getvalue()


def _malformed(reason: object) -> SandboxTamperedError:
    return SandboxTamperedError(
        f"The .apz container is malformed ({reason}).", fix="Ask the sender to send it again."
    )


def unpack_stream(handle: BinaryIO, open_file: Callable[[str], BinaryIO]) -> int:
    """Copy each file of the container read from ``handle`` into ``open_file(name)``.

    Returns the number of files. Names are checked again (a sender may be malicious).
    """
    first = handle.readline(_MAX_LINE)
    if first != FORMAT_2:
        if first.startswith(b"{"):
            rest = first + handle.read()
            files = _unpack_format_1(rest)
            for name, data in files:
                with open_file(name) as out:
                    out.write(data)
            return len(files)
        raise _malformed("unknown container format")
    count = 0
    seen: set[str] = set()
    while True:
        line = handle.readline(_MAX_LINE)
        try:
            if not line.endswith(b"\n"):
                raise ValueError("a line is cut short")
            kind, _, rest = line[:-1].partition(b" ")
            if kind == b"E":
                if not rest.isdigit() or int(rest) != count or not count:
                    raise ValueError("wrong file count")
                if handle.read(1):
                    raise ValueError("data after the end")
                return count
            size_text, sep, raw_name = rest.partition(b" ")
            if kind != b"F" or not sep or not size_text.isdigit():
                raise ValueError("not a file entry")
            size = int(size_text)
            name = check_file_name(raw_name.decode("utf-8"))
            if name in seen:
                raise ValueError(f"two files named {name!r}")
        except (ValueError, SandboxUsageError) as exc:
            raise _malformed(exc) from exc
        seen.add(name)
        with open_file(name) as out:
            left = size
            while left:
                block = handle.read(min(_COPY_SIZE, left))
                if not block:
                    raise _malformed("a file is cut short")
                out.write(block)
                left -= len(block)
        count += 1


def _unpack_format_1(container: bytes) -> list[tuple[str, bytes]]:
    import base64  # legacy only: base64 and json import re, which slows every program start
    import json

    try:
        document = json.loads(container.decode("utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError("unknown container format")
        return [
            (check_file_name(str(entry["name"])), base64.b64decode(entry["data"], validate=True))
            for entry in document["files"]
        ]
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        binascii.Error,
        SandboxUsageError,
    ) as exc:
        raise _malformed(exc) from exc


def unpack(container: bytes) -> list[tuple[str, bytes]]:
    """The files of a clear container (either format), names checked again."""
    files: list[tuple[str, bytes]] = []

    class _Collect(BytesIO):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def close(self) -> None:
            files.append((self.name, self.getvalue()))
            super().close()

    unpack_stream(BytesIO(container), _Collect)  # type: ignore[arg-type]
    return files


def unpack_to_folder(handle: BinaryIO, folder: str, free_name: Callable[[str, str], str]) -> int:
    """Write each file of the container into ``folder`` (never over an existing file)."""

    def open_file(name: str) -> BinaryIO:
        path = free_name(folder, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb")

    return unpack_stream(handle, open_file)


class _BlocksRaw(io.RawIOBase):
    """A readable raw stream over an iterator of byte blocks (each copied once, into the
    reader's buffer)."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        super().__init__()
        self._blocks = blocks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._left = memoryview(block)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def blocks_reader(blocks: Iterator[bytes]) -> BinaryIO:
    """A buffered binary reader (``read``, ``readline``) over an iterator of byte blocks."""
    return io.BufferedReader(_BlocksRaw(iter(blocks)), buffer_size=_COPY_SIZE)  # type: ignore[return-value]


def unpack_blocks_to_folder(blocks: Iterator[bytes], folder: str,
                            free_name: Callable[[str, str], str]) -> int:
    """Unpack the container whose clear bytes come as ``blocks`` into ``folder``, files
    appearing only once ``blocks`` is exhausted without error.

    ``blocks`` is a decryption that authenticates at its end (GCM): each file is written to a
    hidden ``.N.PID.part`` in ``folder`` as it comes, and all of them are given their names
    (never over an existing file) only after the last block, so nothing of an altered
    container is ever kept. Writing the whole clear container to a file first, then reading it
    back to copy each file out (as before), cost a 50 MB attachment two more passes over it
    (issue 18). Returns the number of files.
    """
    parts: list[tuple[str, str]] = []  # (hidden path, name)

    def open_file(name: str) -> BinaryIO:
        hidden = os.path.join(folder, f".{len(parts)}.{os.getpid()}.part")
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        parts.append((hidden, name))
        return os.fdopen(fd, "wb")

    try:
        count = unpack_stream(blocks_reader(blocks), open_file)
        if any(True for block in blocks if block):  # the end is the decryption's end
            raise _malformed("data after the end")
        for hidden, name in parts:
            _name_without_overwriting(hidden, folder, name, free_name)
    except BaseException:
        for hidden, _ in parts:
            if os.path.lexists(hidden):
                os.unlink(hidden)
        raise
    return count


def _name_without_overwriting(hidden: str, folder: str, name: str,
                              free_name: Callable[[str, str], str]) -> None:
    """Give ``hidden`` the name ``free_name`` picks, never replacing a file that appeared in
    the meantime (a hard link fails on an existing name; the hidden name is then removed)."""
    while True:
        target = free_name(folder, name)
        try:
            os.link(hidden, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: the name was free just now
            os.rename(hidden, target)
            return
        os.unlink(hidden)
        return
