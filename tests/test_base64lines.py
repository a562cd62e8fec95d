"""Base64 lines cut by ``struct`` in groups of 1,024 are the lines the per-line loop made.

``medshake_bridge.base64lines`` replaced a Python loop over the lines (issue 18: cutting a
50 MB attachment's 1.2 million lines cost three times its encoding) in the bridge's MIME
writer, the sandbox armour and the relay. The reference here is the standard library's
``base64.encodebytes`` (lines of 76 characters, each ended by a newline), at every size around
a line, a group of 1,024 lines and an armour block, and at random sizes and piece cuts.
"""

from __future__ import annotations

import base64
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medshake_bridge import base64lines
from medshake_bridge.base64lines import LINE_BYTES, encode_lines, split_lines
from medshake_bridge.sandbox import armour
from medshake_bridge.send.mime import write_base64

GROUP_BYTES = LINE_BYTES * 1024  # clear bytes of one struct group


def _edges() -> list[int]:
    sizes = {0}
    for base in (1, LINE_BYTES, GROUP_BYTES, 2 * GROUP_BYTES, armour.BLOCK_SIZE):
        sizes.update({base - 1, base, base + 1})
    sizes.update({GROUP_BYTES - LINE_BYTES, GROUP_BYTES + LINE_BYTES, armour.BLOCK_SIZE * 2 + 5})
    return sorted(size for size in sizes if size >= 0)


@pytest.mark.parametrize("size", _edges())
def test_lines_at_every_boundary_are_the_standard_ones(size: int) -> None:
    data = os.urandom(size)
    expected = base64.encodebytes(data)
    assert encode_lines(data) == expected
    assert encode_lines(memoryview(data)) == expected
    assert encode_lines(data, b"\r\n") == expected.replace(b"\n", b"\r\n")
    assert armour.base64_lines(data) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3 * LINE_BYTES * 1024 + 200))
def test_any_data_gives_the_standard_lines(data: bytes) -> None:
    assert encode_lines(data) == base64.encodebytes(data)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3 * GROUP_BYTES), cuts=st.lists(st.integers(1, 4 * 1024), max_size=6))
def test_whole_lines_encoded_in_pieces_are_the_whole(size: int, cuts: list[int]) -> None:
    """Pieces of whole lines (what the writers hand over) join into the text of the whole."""
    data = os.urandom(size)
    pieces, at = [], 0
    for cut in cuts:
        end = min(size, at + cut * LINE_BYTES)
        pieces.append(encode_lines(data[at:end]))
        at = end
    pieces.append(encode_lines(data[at:]))
    assert b"".join(pieces) == base64.encodebytes(data)


def test_split_lines_of_empty_and_short_text() -> None:
    assert split_lines(b"") == b""
    assert split_lines(b"QQ==") == b"QQ==\n"
    assert split_lines(b"A" * 76, b"\r\n") == b"A" * 76 + b"\r\n"
    assert split_lines(b"A" * 77) == b"A" * 76 + b"\nA\n"


class _Trickle(io.BytesIO):
    """A source that returns short reads (as a pipe or socket may)."""

    def read(self, size: int = -1) -> bytes:
        return super().read(min(size, 1000) if size and size > 0 else size)


@pytest.mark.parametrize("size", [0, 1, GROUP_BYTES + 1, armour.BLOCK_SIZE + 3])
def test_the_mime_writer_gives_crlf_standard_lines_even_from_short_reads(size: int) -> None:
    data = os.urandom(size)
    out = io.BytesIO()
    assert write_base64(_Trickle(data), out) == size
    assert out.getvalue() == base64.encodebytes(data).replace(b"\n", b"\r\n")


def test_a_group_is_1024_lines() -> None:
    """The group the struct cuts (the boundaries above are chosen from it)."""
    assert base64lines._GROUP.size == 76 * 1024
