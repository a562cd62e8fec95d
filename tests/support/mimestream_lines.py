"""The line-by-line MIME walker that medshake_bridge.collect.mimestream replaced (issue 18).

Kept for tests only: tests/test_mime_stream_blocks.py checks that the block reader hands every
sink exactly the bytes this one did, whatever the block size.
"""
from __future__ import annotations

import binascii
import contextlib
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import BinaryIO, Protocol

# compat32 parses headers lazily and ~10x faster than the default policy; the few values
# that need RFC 2047 / RFC 2231 decoding are decoded by their readers (see mime.py).
_HEADER_PARSER = BytesHeaderParser(policy=email.policy.compat32)
_BASE64_SPACE = b" \t\r\n"
MAX_HEADER_BYTES = 1024 * 1024
MAX_ORPHAN_TEXT = 4 * 1024 * 1024


class Sink(Protocol):
    def write(self, data: bytes) -> object: ...


@dataclass
class LeafPart:
    """A non-multipart entity: its parsed headers (``Message`` without payload)."""

    headers: Message
    depth: int


ChooseSink = Callable[[LeafPart], Sink]


class _Lines:
    """Lines of the file with one line of look-ahead."""

    def __init__(self, handle: BinaryIO) -> None:
        self._iter: Iterator[bytes] = iter(handle)
        self._pushed: list[bytes] = []

    def next(self) -> bytes | None:
        if self._pushed:
            return self._pushed.pop()
        return next(self._iter, None)

    def push(self, line: bytes) -> None:
        self._pushed.append(line)


def _read_headers(lines: _Lines) -> Message:
    collected: list[bytes] = []
    size = 0
    while True:
        line = lines.next()
        if line is None or line in (b"\r\n", b"\n"):
            break
        if not collected and not line[:1].isspace() and b":" not in line:
            lines.push(line)  # no header block at all: the body starts here
            break
        collected.append(line)
        size += len(line)
        if size > MAX_HEADER_BYTES:
            break
    return _HEADER_PARSER.parsebytes(b"".join(collected))


def _delimiter(line: bytes, boundaries: list[bytes]) -> bytes | None:
    """The boundary this line delimits (``--B`` or ``--B--``), or None."""
    if not line.startswith(b"--"):
        return None
    stripped = line.rstrip(b"\r\n \t")
    for boundary in reversed(boundaries):
        if stripped in (b"--" + boundary, b"--" + boundary + b"--"):
            return stripped
    return None


class _Decoder:
    """Decodes a body transfer encoding incrementally into a sink."""

    BASE64_BATCH = 256 * 1024

    def __init__(self, encoding: str, sink: Sink) -> None:
        self.encoding = encoding
        self.sink = sink
        self._b64: list[bytes] = []
        self._b64_size = 0
        self._held = b""  # the line end that may belong to the next boundary

    def line(self, line: bytes) -> None:
        if self.encoding == "base64":
            chunk = line.translate(None, _BASE64_SPACE)
            self._b64.append(chunk)
            self._b64_size += len(chunk)
            if self._b64_size >= self.BASE64_BATCH:
                self._emit_b64(final=False)
            return
        if self.encoding == "quoted-printable":
            text = line.rstrip(b"\r\n")
            ending = line[len(text):]
            if text.endswith(b"="):  # soft line break
                self.sink.write(self._held + binascii.a2b_qp(text[:-1]))
                self._held = b""
                return
            self.sink.write(self._held + binascii.a2b_qp(text))
            self._held = ending
            return
        text = line.rstrip(b"\r\n")
        self.sink.write(self._held + text)
        self._held = line[len(text):]

    def _emit_b64(self, *, final: bool) -> None:
        data = b"".join(self._b64)
        if not final:
            cut = len(data) - len(data) % 4
            data, rest = data[:cut], data[cut:]
        else:
            data, rest = data + b"=" * (-len(data) % 4), b""
        self._b64, self._b64_size = ([rest], len(rest)) if rest else ([], 0)
        with contextlib.suppress(binascii.Error):  # non-strict: junk characters are skipped
            self.sink.write(binascii.a2b_base64(data))

    def close(self) -> None:
        if self.encoding == "base64" and self._b64_size:
            self._emit_b64(final=True)
        self._held = b""


def walk_file(handle: BinaryIO, choose_sink: ChooseSink) -> Message:
    """Read a message; call ``choose_sink`` for each leaf part and stream its decoded body.

    Returns the top-level headers. Never raises on malformed structure: a missing closing
    boundary ends at the end of the file, a multipart without boundary is read as text.
    """
    lines = _Lines(handle)
    top = _read_headers(lines)
    _entity(lines, top, [], choose_sink, 0)
    return top


def _entity(lines: _Lines, headers: Message, boundaries: list[bytes],
            choose_sink: ChooseSink, depth: int) -> None:
    boundary = headers.get_boundary() if headers.get_content_maintype() == "multipart" else None
    if boundary:
        _multipart(lines, boundary.encode("utf-8", "replace"), boundaries, choose_sink, depth)
        return
    if headers.get_content_type() == "message/rfc822" and depth < 20:
        inner = _read_headers(lines)
        _entity(lines, inner, boundaries, choose_sink, depth + 1)
        return
    _leaf(lines, headers, boundaries, choose_sink, depth)


def _leaf(lines: _Lines, headers: Message, boundaries: list[bytes],
          choose_sink: ChooseSink, depth: int) -> None:
    sink = choose_sink(LeafPart(headers, depth))
    encoding = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    decoder = _Decoder(encoding, sink)
    while True:
        line = lines.next()
        if line is None:
            break
        if _delimiter(line, boundaries) is not None:
            lines.push(line)
            break
        decoder.line(line)
    decoder.close()


def _orphan_text(lines: list[bytes], choose_sink: ChooseSink, depth: int) -> None:
    """A multipart whose boundary never appears (malformed mail): its text is not dropped."""
    if not any(line.strip() for line in lines):
        return
    headers = _HEADER_PARSER.parsebytes(b"Content-Type: text/plain\r\n\r\n")
    sink = choose_sink(LeafPart(headers, depth + 1))
    for line in lines:
        sink.write(line)


def _multipart(lines: _Lines, boundary: bytes, outer: list[bytes], choose_sink: ChooseSink,
               depth: int) -> None:
    boundaries = [*outer, boundary]
    opening = b"--" + boundary
    closing = opening + b"--"
    preamble: list[bytes] = []
    kept = 0
    while True:  # preamble
        line = lines.next()
        if line is None:  # the boundary never came: read the whole body as text
            _orphan_text(preamble, choose_sink, depth)
            return
        found = _delimiter(line, boundaries)
        if found == opening:
            break
        if found is not None:  # an outer boundary: this multipart is empty
            lines.push(line)
            return
        if kept < MAX_ORPHAN_TEXT:
            preamble.append(line)
            kept += len(line)
    while True:
        part_headers = _read_headers(lines)
        _entity(lines, part_headers, boundaries, choose_sink, depth + 1)
        line = lines.next()
        if line is None:
            return
        found = _delimiter(line, boundaries)
        if found == opening:
            continue
        if found == closing:
            break
        lines.push(line)  # an outer boundary: our closing line is missing
        return
    while True:  # epilogue, up to an outer boundary
        line = lines.next()
        if line is None:
            return
        if outer and _delimiter(line, outer) is not None:
            lines.push(line)
            return
