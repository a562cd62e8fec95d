"""Base64 in lines of 76 characters, cut without a Python loop over the lines.

Every MIME attachment the bridge sends and every attachment the sandbox relay delivers is
base64 in lines of 76 characters (RFC 2045); a 50 MB attachment makes 1.2 million lines. Cutting
them with a Python loop (one slice, one concatenation per line) cost about three times the
encoding itself (issue 18). Here :mod:`binascii` encodes, and a :class:`struct.Struct` of 1,024
fields of 76 bytes cuts 1,024 lines per call in C, the lines being joined by ``bytes.join``.

The text is byte for byte the one the loop made. Standard library only, and no import beyond
:mod:`binascii`, :mod:`itertools` and :mod:`struct` (all built in): the sandbox programs use it
and their start-up counts.
"""

from __future__ import annotations

import binascii
import itertools
import struct

LINE_WIDTH = 76  # base64 characters per line (RFC 2045)
LINE_BYTES = LINE_WIDTH // 4 * 3  # 57 clear bytes make one full line
_GROUP_LINES = 1024
_GROUP = struct.Struct(f"{LINE_WIDTH}s" * _GROUP_LINES)  # 1,024 lines cut in one call


def split_lines(text: bytes, eol: bytes = b"\n") -> bytes:
    """``text`` (base64 without line ends) cut into lines of 76 characters, each followed by
    ``eol``; the last line may be shorter. Empty text gives empty bytes."""
    if not text:
        return b""
    whole = len(text) - len(text) % _GROUP.size
    lines = list(itertools.chain.from_iterable(_GROUP.iter_unpack(memoryview(text)[:whole])))
    lines += [text[at:at + LINE_WIDTH] for at in range(whole, len(text), LINE_WIDTH)]
    lines.append(b"")  # so that the last line gets its line end from the join
    return eol.join(lines)


def encode_lines(data: bytes | bytearray | memoryview, eol: bytes = b"\n") -> bytes:
    """``data`` as base64 lines of 76 characters, each ended by ``eol``.

    To encode a stream in pieces, give whole lines (multiples of :data:`LINE_BYTES` bytes)
    except for the last piece: the text is then the same as that of the whole.
    """
    return split_lines(binascii.b2a_base64(data, newline=False), eol)
