"""Fuzzing the parsers that read what strangers send: the MIME walk over a raw message file and
the HPRIM parser over decrypted text. Zero crashes: whatever the bytes, the answer is a parsed
result or a :class:`~medshake_bridge.errors.BridgeError` with a message (issue #17, item 11)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medshake_bridge.collect.mime import parse_message_file
from medshake_bridge.errors import BridgeError
from medshake_bridge.hprim.documents import parse_message_text
from medshake_bridge.textdecode import decode_bytes

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

header_names = st.sampled_from([
    "From", "To", "Subject", "Date", "Message-ID", "Content-Type", "Content-Transfer-Encoding",
    "Content-Disposition", "MIME-Version", "X-Junk"])
tricky_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                      max_size=60)
header_values = st.one_of(
    tricky_text,
    st.sampled_from([
        'multipart/mixed; boundary="b1"', "multipart/alternative; boundary=b2",
        'multipart/mixed; boundary=""', "multipart/mixed", "text/plain; charset=utf-8",
        "text/plain; charset=x-unknown", "text/html", "application/octet-stream",
        "base64", "quoted-printable", "8bit", "x-uuencode",
        'attachment; filename="../../etc/passwd"', "attachment; filename*=utf-8''%E9t%E9.pdf",
        'attachment; filename="=?utf-8?b?w6l0w6k=?="', "inline", "=?utf-8?q?=E9?=",
        "=?bad?x?zz?=", "a" * 2000,
    ]))
body_lines = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"--b1", b"--b1--", b"--b2", b"--b2--", b"", b"=", b"==", b"=\r",
                     b"AAAA", b"****", b"begin 644 x", b"\x00\xff\xfe", b".\r\n", b"\t"]),
)


@st.composite
def messages(draw) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(header_names)
        value = draw(header_values)
        lines.append(f"{name}: {value}".encode("utf-8", "surrogateescape"))
    separator = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    body = draw(st.lists(body_lines, max_size=40))
    return separator.join([*lines, b"", *body])


def _parse(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.eml"
        path.write_bytes(raw)
        try:
            parsed = parse_message_file(path, Path(folder) / "work")
        except BridgeError as error:
            assert str(error)
            return
        for attachment in parsed.attachments:
            assert attachment.path.is_file()
            assert Path(folder) in attachment.path.parents  # never written outside the work
            assert "/" not in attachment.display_name and "\x00" not in attachment.display_name
        for part in parsed.body_parts:
            _hprim(decode_bytes(part).text)


def _hprim(text: str) -> None:
    try:
        documents = parse_message_text(text)
    except BridgeError as error:
        assert str(error)
        return
    assert isinstance(documents, list)


@FUZZ
@given(messages())
def test_the_mime_walk_never_crashes_on_shaped_messages(raw):
    _parse(raw)


@FUZZ
@given(st.binary(max_size=4000))
def test_the_mime_walk_never_crashes_on_random_bytes(raw):
    _parse(raw)


hprim_lines = st.one_of(
    tricky_text,
    st.sampled_from(["****FIN****", "****LAB****", "RES|GLU|Glycemie|N|1.05|g/l|0.7|1.1|N|F",
                     "RES|", "RES||||||||||||", "TEX|ligne", "****FINFICHIER****",
                     "DUPONT", "Jean", "01/02/1960", "31/02/2020", "99/99/99", "", " ",
                     "1234567890123", "\x00", "|" * 50]),
)


@FUZZ
@given(st.lists(hprim_lines, max_size=60), st.sampled_from(["\n", "\r\n", "\r"]))
def test_the_hprim_parser_never_crashes(lines, newline):
    _hprim(newline.join(lines))


@FUZZ
@given(st.text(max_size=3000))
def test_the_hprim_parser_never_crashes_on_any_text(text):
    _hprim(text)
