"""A stored message's header block, and its Message-ID as the duplicate check compares it.

The Message-ID read here is part of the key that tells a copy of a message from a new one
(:func:`~medshake_bridge.collect.pipeline._is_duplicate`): it must stay exactly what the
stdlib's ``compat32`` parser has always given, for rows stored by any earlier version. Python's
parser costs about a tenth of a millisecond per message on the collection's reading path
(issue 18, seventh pass), so the plain header blocks almost every message has (ASCII lines,
each a header or a continuation) are read here by the same rules, and every other block is
still given to the parser.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import re
from collections.abc import Iterable
from pathlib import Path

HEADER_READ_LIMIT = 256 * 1024
# The feed parser's test of a header line (email.feedparser.headerRE), on bytes.
_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")


def header_block(lines: Iterable[bytes]) -> tuple[list[bytes], bool]:
    """The header lines at the start of ``lines`` (at most :data:`HEADER_READ_LIMIT` bytes
    of them, then the line that starts there); True when the block ended before ``lines``
    did (a blank line, or the limit)."""
    block = []
    size = 0
    for line in lines:
        if line in (b"\r\n", b"\n") or size > HEADER_READ_LIMIT:
            return block, True
        block.append(line)
        size += len(line)
    return block, False


def block_of(path: Path, head: bytes = b"", whole: bool = False) -> list[bytes]:
    """The header block of the stored file ``path``, without reading a large body.

    ``head``: the start of the file, kept by the writer that has just written it; when the
    block ends inside it (or it is the whole file) the file is not opened again (issue 18,
    system calls). A block that ends in it is made of complete lines: a cut last line has
    no line end, so it is never taken for the blank line."""
    if head:
        block, ended = header_block(io.BytesIO(head))
        if ended or whole:
            return block
    with open(path, "rb") as handle:
        block, _ = header_block(handle)
    return block


def parse_block(block: list[bytes]) -> email.message.Message:
    """``block`` parsed by the stdlib (``compat32``): the reference :func:`message_id` keeps
    to, and its reading of any block that is not plain."""
    return email.message_from_bytes(b"".join(block), policy=email.policy.compat32)


def message_id(block: list[bytes]) -> str:
    """The block's first Message-ID header, whitespace runs made one space, 255 characters
    at most ("" when there is none): what ``compat32`` gives, read faster when it can be."""
    value = _plain_message_id(block)
    if value is None:
        value = str(parse_block(block).get("Message-ID", ""))
    return " ".join(value.split())[:255]


def _plain_message_id(block: list[bytes]) -> str | None:
    """The raw value of the first Message-ID header when ``block`` is plain: ASCII lines,
    each ended by a line end with no other carriage return, each a header (``name:``, the
    name possibly empty) or a continuation (white space first), no envelope ``From`` line.
    ``None`` for anything else: the stdlib's parser decides those."""
    found: list[bytes] | None = None
    current: list[bytes] | None = None
    for line in block:
        if (not line.isascii() or not line.endswith(b"\n")
                or b"\r" in line[:-2]
                or not _HEADER_LINE.match(line) or line.startswith(b"From ")):
            return None
        if line[:1] in (b" ", b"\t"):
            if current is not None:  # the parser drops a continuation of nothing
                current.append(line)
            continue
        if found is not None:
            break  # the first Message-ID is complete
        name, _, value = line.partition(b":")
        current = [value.lstrip(b" \t")]
        if name.lower() == b"message-id":
            found = current
    if found is None:
        return ""
    return b"".join(found).rstrip(b"\r\n").decode("ascii")
