"""The relay's copies made from the spooled message file, a block at a time.

The same copies as :func:`medshake_bridge.sandbox.relay._copies_by_slicing` (same cuts, same
bytes), but read from the file :mod:`~medshake_bridge.sandbox.relay_spool` wrote and written
straight into each recipient's file: the boundaries are found by scanning the file, each
encrypted part is decoded as it is read, re-encrypted for every recipient in one streamed pass
(:func:`~medshake_bridge.sandbox.relay_crypto.reencrypt_file`) and base64-encoded into the copy.
Memory stays a few megabytes for a message of any size (the in-memory way held about ten times
a 50 MB attachment). Everything is re-encrypted and checked before the first copy is written.
"""

from __future__ import annotations

import binascii
import email.parser
import email.policy
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import BinaryIO

from medshake_bridge.base64lines import encode_lines
from medshake_bridge.sandbox.apz import blocks_reader
from medshake_bridge.sandbox.errors import SandboxError
from medshake_bridge.sandbox.relay_crypto import reencrypt_file

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_READ = 1 << 20
_MAX_HEAD = 1 << 20  # a header block longer than this is not the bridge's: in-memory way
_LINE_BYTES = 57 * 16384  # clear bytes base64-encoded per step (whole 76-character lines)
_NOT_BASE64 = bytes(set(range(256)) - set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="))

Writer = Callable[[str, BinaryIO], None]


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _head(handle: BinaryIO, start: int, end: int) -> tuple[bytes, int] | None:
    """The header block of the entity at ``[start, end)`` (line ends kept, without the blank
    line) and where its body starts; ``None`` when it has no blank line early enough."""
    text = _read_at(handle, start, min(end - start, _MAX_HEAD))
    if text.startswith((b"\r\n", b"\n")):
        return b"", start + text.index(b"\n") + 1
    ends = [index for index in (text.find(b"\r\n\r\n"), text.find(b"\n\n")) if index >= 0]
    if not ends:
        return None
    cut = min(ends)
    separator = 4 if text[cut:cut + 4] == b"\r\n\r\n" else 2
    return text[:cut + separator // 2], start + cut + separator


def _find_all(handle: BinaryIO, pattern: bytes, start: int) -> list[int]:
    """Offsets of every ``pattern`` in the file from ``start`` (scanned in blocks)."""
    found: list[int] = []
    handle.seek(start)
    offset, carry = start, b""
    while True:
        chunk = handle.read(_READ)
        if not chunk:
            return found
        data = carry + chunk
        base = offset - len(carry)
        at = data.find(pattern)
        while at >= 0:
            found.append(base + at)
            at = data.find(pattern, at + 1)
        offset += len(chunk)
        keep = len(pattern) - 1  # too short to hold a whole occurrence: none is found twice
        carry = data[-keep:] if keep else b""


def _copy_lf(handle: BinaryIO, start: int, end: int, out: BinaryIO) -> bytes:
    """Copy ``[start, end)`` to ``out`` with CRLF turned into LF; returns its last byte."""
    handle.seek(start)
    left, held, last = end - start, b"", b""
    while left > 0:
        chunk = handle.read(min(_READ, left))
        if not chunk:
            break
        left -= len(chunk)
        data = held + chunk
        held = b"\r" if data.endswith(b"\r") and left > 0 else b""
        if held:
            data = data[:-1]
        data = data.replace(b"\r\n", b"\n")
        if data:
            out.write(data)
            last = data[-1:]
    return last


def _decoded(handle: BinaryIO, start: int, end: int, encoding: str) -> Iterator[bytes]:
    """The body at ``[start, end)`` decoded from its transfer encoding, in blocks."""
    if encoding == "base64":
        handle.seek(start)
        left, carry = end - start, b""
        while left > 0:
            chunk = handle.read(min(_READ, left))
            if not chunk:
                break
            left -= len(chunk)
            data = carry + chunk.translate(None, _NOT_BASE64)
            usable = len(data) - len(data) % 4 if left > 0 else len(data)
            carry = data[usable:]
            yield binascii.a2b_base64(data[:usable])  # not strict, as before
    elif encoding == "quoted-printable":
        yield binascii.a2b_qp(_read_at(handle, start, end - start))
    else:
        handle.seek(start)
        left = end - start
        while left > 0:
            chunk = handle.read(min(_READ, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk



def _base64_lf(source: BinaryIO, out: BinaryIO) -> bytes:
    last = b""
    while True:
        block = source.read(_LINE_BYTES)
        if not block:
            return last
        out.write(encode_lines(block))
        last = b"\n"


def _without_header(head: bytes, name: bytes) -> list[bytes]:
    from medshake_bridge.sandbox.relay import _without_header as without

    return without(head, name)


def spooled_copies(spool: Path, network_dir: Path, recipients: list[str], work: Path
                   ) -> Writer | None:
    """Re-encrypt every part of the message in ``spool`` for every recipient (raising
    :class:`SandboxError` before anything is written for anyone when one cannot be), then
    return ``write(recipient, out)`` that writes that recipient's copy (LF line ends, a Maildir
    file). ``None`` when the message is not a plain one-level multipart or a single part."""
    handle = spool.open("rb")
    try:
        layout = _layout(handle, spool.stat().st_size)
        if layout is None:
            handle.close()
            return None
        top_head, top, delimiter, pieces, leaves = layout
        swapped: dict[int, tuple[bytes, Message, dict[str, Path]]] = {}
        for number, (index, head, headers, body_start, body_end) in enumerate(leaves):
            if not (headers.get_content_disposition() == "attachment"
                    or headers.get_content_type() == "text/plain"):
                continue
            # decoded as it is read by the re-encryption (no work file of the sender's armour)
            encoding = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()
            armour = blocks_reader(_decoded(handle, body_start, body_end, encoding))
            copies = reencrypt_file(network_dir, armour,
                                    lambda who, n=number: work / f"part-{n}.{who}")
            swapped[index] = head, headers, copies
        if not swapped:
            handle.close()
            return None
        for recipient in recipients:
            if any(recipient not in copies for *_, copies in swapped.values()):
                raise SandboxError(f"the content is not encrypted for {recipient}",
                                   fix="encrypt for every recipient of the envelope")
    except BaseException:
        handle.close()
        raise
    return _writer(handle, top_head, delimiter, pieces, swapped)


def _layout(handle: BinaryIO, size: int):  # noqa: ANN202 - see the return below
    """(top head, top headers, delimiter, pieces, leaves) or ``None``: ``pieces`` are the
    ``[start, end)`` of the preamble, each entity and the closing line with the epilogue (or
    of the single body); ``leaves`` the (piece index, head, headers, body start, body end)."""
    found = _head(handle, 0, size)
    if found is None:
        return None
    top_head, body_start = found
    top = _HEADER_PARSER.parsebytes(top_head + b"\n")
    if top.get_content_maintype() != "multipart":
        return top_head, top, b"", [(body_start, size)], [(0, top_head, top, body_start, size)]
    boundary = top.get_boundary()
    if not boundary:
        return None
    opening = b"--" + boundary.encode("utf-8", "surrogateescape")
    starts = [at + 1 for at in _find_all(handle, b"\n" + opening, body_start)]
    if _read_at(handle, body_start, len(opening)) == opening:
        starts.insert(0, body_start)
    if len(starts) < 2 or _read_at(handle, starts[-1] + len(opening), 2) != b"--":
        return None

    def line_before(at: int) -> int:  # the end of the text before the delimiter at ``at``
        if at == body_start:
            return at
        end = at - 1
        return end - 1 if end > body_start and _read_at(handle, end - 1, 1) == b"\r" else end

    pieces = [(body_start, line_before(starts[0]))]
    leaves = []
    for number, at in enumerate(starts[:-1], start=1):
        rest = _read_at(handle, at + len(opening), 4096)
        newline = rest.find(b"\n")
        if newline < 0:
            return None
        start, end = at + len(opening) + newline + 1, line_before(starts[number])
        if end < start:
            return None
        pieces.append((start, end))
        found = _head(handle, start, end)
        if found is None:
            return None
        head, entity_body = found
        headers = _HEADER_PARSER.parsebytes(head + b"\n")
        if headers.get_content_maintype() in ("multipart", "message"):
            return None
        leaves.append((number, head, headers, entity_body, end))
    pieces.append((starts[-1] + len(opening), size))
    return top_head, top, opening, pieces, leaves


def _writer(handle: BinaryIO, top_head: bytes, delimiter: bytes,
            pieces: list[tuple[int, int]],
            swapped: dict[int, tuple[bytes, Message, dict[str, Path]]]) -> Writer:
    from medshake_bridge.sandbox.relay import LABEL

    label = b"X-Sandbox-Relay: " + LABEL.encode("ascii")

    def swapped_entity(index: int, recipient: str, out: BinaryIO, *, lines: list[bytes],
                       after: tuple[bytes, ...] = ()) -> None:
        _, headers, copies = swapped[index]
        attachment = headers.get_content_disposition() == "attachment"
        encoding = b"Content-Transfer-Encoding: " + (b"base64" if attachment else b"7bit")
        out.write(b"\n".join([*lines, encoding, *after]) + b"\n\n")
        with copies[recipient].open("rb") as content:
            if attachment:
                last = _base64_lf(content, out)
            else:
                size = copies[recipient].stat().st_size
                last = _copy_lf(content, 0, size, out)
        if last != b"\n":
            out.write(b"\n")

    def write(recipient: str, out: BinaryIO) -> None:
        if not delimiter:  # a single part: its headers are the message's
            head = swapped[0][0]
            kept = [line for line in _without_header(head, b"Content-Transfer-Encoding")
                    if not line.lower().startswith(b"x-sandbox-relay:")]
            swapped_entity(0, recipient, out, lines=kept, after=(label,))
            return
        out.write(b"\n".join([*_without_header(top_head, b"X-Sandbox-Relay"), label]) + b"\n\n")
        start, end = pieces[0]
        if end > start:
            _copy_lf(handle, start, end, out)
            out.write(b"\n")
        for index in range(1, len(pieces) - 1):
            out.write(delimiter + b"\n")
            if index in swapped:
                head = swapped[index][0]
                swapped_entity(index, recipient, out,
                               lines=_without_header(head, b"Content-Transfer-Encoding"))
            else:
                start, end = pieces[index]
                _copy_lf(handle, start, end, out)
                out.write(b"\n")
        start, end = pieces[-1]
        out.write(delimiter)
        _copy_lf(handle, start, end, out)

    write.close = handle.close  # type: ignore[attr-defined]
    return write


def contains(path: Path, text: bytes) -> bool:
    """Whether the file holds ``text`` (scanned in blocks)."""
    with path.open("rb") as handle:
        return bool(_find_all(handle, text, 0))
