"""The Message-ID read on the collection's reading path is the one the stdlib's ``compat32``
parser gives (it is part of the duplicate key of rows stored by every earlier version), for
any header block; plain blocks are read without the parser (issue 18, seventh pass)."""

from __future__ import annotations

import email
import email.policy
import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from medshake_bridge.collect.headerblock import _plain_message_id, header_block, message_id


def stdlib_message_id(block: list[bytes]) -> str:
    """What the pipeline stored before the fast reading (its exact expression)."""
    headers = email.message_from_bytes(b"".join(block), policy=email.policy.compat32)
    return " ".join(str(headers.get("Message-ID", "")).split())[:255]


PLAIN = [b"Return-Path: <labo@medical69.apicrypt.org>\r\n",
         b"Received: from mx by dovecot;\r\n", b"\tTue, 1 Dec 2026 10:00:00 +0100\r\n",
         b"Message-ID:   <20261201.abc@labo.example>\r\n",
         b"Subject: =?utf-8?q?R=C3=A9sultats?=\r\n", b"From: Labo <labo@example>\r\n"]

# pieces that meet the parser's corner cases: case, folding, spaces before the colon, empty
# names, envelope lines, bare CR, non-ASCII bytes, lines that end the header block
NAMES = st.sampled_from([b"Message-ID", b"message-id", b"MESSAGE-ID", b"Message-Id ",
                         b"Subject", b"X-Empty", b"", b"From", b"Received", b"Bad Name"])
VALUES = st.lists(st.sampled_from([b" <a@b>", b"<x@y>", b"\t<t@u> ", b"", b"  ", b" a\rb",
                                   b" caf\xc3\xa9", b" \xff", b":", b" <" + b"z" * 300 + b">",
                                   b"\x0b<v@w>\x1c"]), max_size=3).map(b"".join)
ENDS = st.sampled_from([b"\r\n", b"\n", b"\r\n", b"\r\n", b"", b"\r"])


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["header", "header", "header", "fold", "from", "odd"]))
    end = draw(ENDS)
    if kind == "header":
        return draw(NAMES) + b":" + draw(VALUES) + end
    if kind == "fold":
        return draw(st.sampled_from([b" ", b"\t", b"  "])) + draw(VALUES) + end
    if kind == "from":
        return b"From labo@example Tue Dec  1 10:00:00 2026" + end
    return draw(st.sampled_from([b"no colon here", b"\x00:x", b"X:\xe9", b"a\rb: c"])) + end


@settings(max_examples=600, deadline=None)
@given(st.lists(lines(), max_size=8))
@example(PLAIN)
@example([b"Message-ID: <one@a>\r\n", b"Message-ID: <two@a>\r\n"])
@example([b"Subject: x\r\n", b" Message-ID: <folded@a>\r\n", b"Message-ID: <real@a>\r\n"])
@example([b" <orphan@a>\r\n", b"Message-ID: <after@a>\r\n"])
@example([b"From x\r\n", b"Message-ID: <a@a>\r\n"])
@example([b"Message-ID: <a@a>\r\n", b" <b@b>\r\n", b"Subject: x\r\n"])
def test_the_message_id_is_the_stdlib_parsers(block: list[bytes]) -> None:
    text = b"".join(block)
    header_lines, _ = header_block(io.BytesIO(text))  # as the pipeline cuts it: at \n only
    assert message_id(header_lines) == stdlib_message_id(header_lines)


def test_a_plain_block_is_read_without_the_parser() -> None:
    """Without this the fast reading could silently never be used."""
    assert _plain_message_id(PLAIN) == "  <20261201.abc@labo.example>".lstrip()
    assert _plain_message_id([b"Subject: none\r\n"]) == ""
    assert _plain_message_id([b" orphan\r\n", b":\r\n", b"Message-ID: <m@a>\r\n"]) == "<m@a>"
    for odd in ([b"X: caf\xc3\xa9\r\n"], [b"From x\r\n"], [b"X: a\rb\r\n"], [b"X: y"]):
        assert _plain_message_id(odd) is None, odd
