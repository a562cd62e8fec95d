"""The block reader of the streaming MIME walk gives every sink the bytes the line reader gave.

``medshake_bridge.collect.mimestream`` hands a leaf body over in runs of lines cut only at a
delimiter (issue 18: walking bodies line by line cost a tenth of a collection's processing).
The line-by-line walker it replaced is kept in ``tests/support/mimestream_lines.py``; here both
walk the same bytes, with blocks as small as one byte so that delimiters, line ends, ``=``
soft breaks and base64 quanta fall across block edges, and must agree exactly: same parts,
same headers, same decoded bytes (the last line end of a text part included).
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import mimestream_lines

from medshake_bridge.collect import mimestream


def _walk(module, raw: bytes) -> tuple[list[tuple[str, int, bytes]], list[tuple[str, str]]]:
    found: list[tuple[str, int, io.BytesIO]] = []

    def choose(leaf):
        buffer = io.BytesIO()
        found.append((leaf.headers.get_content_type(), leaf.depth, buffer))
        return buffer

    top = module.walk_file(io.BytesIO(raw), choose)
    return [(kind, depth, buffer.getvalue()) for kind, depth, buffer in found], top.items()


def _agree(raw: bytes, block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mimestream, "READ_BLOCK", block)
    assert _walk(mimestream, raw) == _walk(mimestream_lines, raw)


LINE = st.sampled_from([
    b"", b"-", b"--", b"--b", b"--b--", b"--bb", b"--b ", b"--b--  ", b"--c", b"--c--", b"- -b",
    b"=", b"abc=", b"=41=42", b"=4", b"h=C3=A9", b"x" * 70 + b"=", b"QUJD", b"QUJDRA==", b"AB",
    b"text \xe9\r", b"\r", b" ", b"y" * 300, b"x--b", b"ab--b--", b"zzzzz--c", b"=--b",
])
HEADER = st.sampled_from([
    b"Content-Type: text/plain", b"Content-Type: application/octet-stream",
    b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: 8bit", b"Content-Type: multipart/mixed; boundary=c",
    b"Content-Type: message/rfc822",
])
ENDING = st.sampled_from([b"\r\n", b"\n", b"\r\r\n"])


@st.composite
def messages(draw) -> bytes:
    """Parts whose bodies hold the lines that matter: delimiters of two nested boundaries and
    lines that look like them, encodings switched in part headers, soft breaks, long lines."""
    lines = [b"Content-Type: multipart/mixed; boundary=b", b"Subject: x", b""]
    lines += draw(st.lists(LINE, max_size=3))  # preamble
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lines += [draw(st.sampled_from([b"--b", b"--c", b"--b  "]))]
        lines += draw(st.lists(HEADER, max_size=2)) + [b""]
        lines += draw(st.lists(LINE, max_size=12))
    lines += draw(st.lists(st.sampled_from([b"--c--", b"--b--", b"epilogue"]), max_size=3))
    same = draw(ENDING)
    raw = b"".join(line + (same if draw(st.booleans()) else draw(ENDING)) for line in lines)
    if draw(st.booleans()):
        raw = raw.rstrip(b"\r\n")  # no line end at the end of the file
    return raw


@settings(max_examples=300, deadline=None)
@given(raw=messages(), block=st.sampled_from([1, 2, 3, 5, 8, 64, 4096]))
def test_same_bytes_as_the_line_reader_on_tricky_lines(raw, block):
    with pytest.MonkeyPatch.context() as patch:
        _agree(raw, block, patch)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000), block=st.sampled_from([1, 3, 7, 100]))
def test_same_bytes_as_the_line_reader_on_arbitrary_bytes(data, block):
    with pytest.MonkeyPatch.context() as patch:
        _agree(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data, block, patch)
        _agree(data, block, patch)


def _attachment_message(size: int, line_end: bytes) -> bytes:
    import base64

    payload = base64.encodebytes(os.urandom(size)).replace(b"\n", line_end)
    return line_end.join([
        b"Content-Type: multipart/mixed; boundary=\"==b==\"", b"", b"--==b==",
        b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit", b"",
        b"-----BEGIN ARMOUR-----", b"--not a boundary", b"--==b==x", b"-----END-----", b"",
        b"--==b==", b"Content-Type: application/octet-stream; name=a.apz",
        b"Content-Transfer-Encoding: base64", b"", payload, b"--==b==",
        b"Content-Type: text/plain", b"Content-Transfer-Encoding: quoted-printable", b"",
        b"H=C3=A9moglobine =", b"10,2", b"--==b==--", b"epilogue", b""])


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
@pytest.mark.parametrize("block", [1, 77, 4096, 256 * 1024])
def test_an_attachment_message_at_every_block_size(line_end, block, monkeypatch):
    _agree(_attachment_message(30_000, line_end), block, monkeypatch)


def test_a_line_longer_than_a_block_comes_out_whole(monkeypatch):
    """A body line of 1 MB read 4 KB at a time: handed over in pieces, decoded the same."""
    import base64

    payload = os.urandom(750_000)
    one_line = base64.b64encode(payload)
    raw = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + one_line + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + b"z" * 900_000
           + b"\r\n--b--\r\n")
    _agree(raw, 4096, monkeypatch)
    monkeypatch.setattr(mimestream, "READ_BLOCK", 4096)
    parts, _ = _walk(mimestream, raw)
    assert parts[0][2] == payload and parts[1][2] == b"z" * 900_000


@settings(max_examples=500, deadline=None)
@given(value=st.text(alphabet=st.characters(max_codepoint=127), max_size=80)
       | st.sampled_from(["=?utf-8?q?H=C3=A9l=C3=A8ne?=", "a  =?iso-8859-1?b?6Q==?= b",
                          "plain   folded\r\n value", "=?", "?="]))
def test_header_words_fast_path_gives_what_the_email_package_gives(value):
    """``decode_words`` skips ``email.header`` for ASCII values without an encoded word (five
    headers per message): the answer must not change."""
    from email.header import decode_header, make_header

    from medshake_bridge.collect.mime import decode_words

    try:
        expected = str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - decode_words keeps the value as it came
        expected = value
    assert decode_words(value) == " ".join(expected.split())
