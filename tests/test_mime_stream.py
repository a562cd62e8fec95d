"""The streaming MIME reader agrees with the email package, on every shape of message."""

from __future__ import annotations

import email
import email.policy
import io
import os
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medshake_bridge.collect.mime import parse_message_file
from medshake_bridge.collect.mimestream import walk_file


def _stream_parts(raw: bytes) -> list[tuple[str, str | None, bytes]]:
    found: list[tuple[str, str | None, io.BytesIO]] = []

    def choose(leaf):
        buffer = io.BytesIO()
        found.append((leaf.headers.get_content_type(), leaf.headers.get_filename(), buffer))
        return buffer

    walk_file(io.BytesIO(raw), choose)
    return [(kind, name, buffer.getvalue()) for kind, name, buffer in found]


def _email_parts(raw: bytes) -> list[tuple[str, str | None, bytes]]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return [(part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
            for part in message.walk() if not part.is_multipart()
            and part.get_content_type() != "message/rfc822"]


def _normalise(parts):
    """Text bodies may differ in their last line end only (RFC 2046: it belongs to the
    boundary); compare them without trailing line ends."""
    return [(kind, name, data.rstrip(b"\r\n") if kind.startswith("text/") else data)
            for kind, name, data in parts]


def _message(body: str, cte: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Résultats"
    message["From"] = "labo@medical69.apicrypt.org"
    message.set_content(body, cte=cte) if cte else message.set_content(body)
    return message


SHAPES = {
    "single part quoted-printable": lambda: _message("Hémoglobine = 10,2 " + "x" * 200,
                                                     "quoted-printable"),
    "single part base64": lambda: _message("Résultats\n" * 50, "base64"),
    "single part 8bit": lambda: _message("Résultat: hémoglobine\n", "8bit"),
}


def _with_attachments(names: list[str], sizes: list[int]) -> EmailMessage:
    message = _message("-----BEGIN ARMOUR-----\n--not a boundary\n-----END-----\n")
    for name, size in zip(names, sizes, strict=True):
        message.add_attachment(os.urandom(size), maintype="application",
                               subtype="octet-stream", filename=name)
    return message


def _nested() -> EmailMessage:
    outer = _with_attachments(["a.apz"], [3000])
    inner = _with_attachments(["b.pdf", "Compte rendu éèà.pdf"], [10, 70_000])
    outer.add_attachment(inner)
    alternative = EmailMessage()
    alternative.set_content("texte")
    alternative.add_alternative("<p>texte</p>", subtype="html")
    outer.attach(alternative)
    return outer


def _attachment_only() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "pièce jointe seule"
    message.set_content(os.urandom(5000), maintype="application", subtype="octet-stream",
                        disposition="attachment", filename="seule.apz")
    return message


@pytest.mark.parametrize("build", [
    *SHAPES.values(), lambda: _with_attachments(["x.apz", "y.apz"], [1, 100_000]),
    _nested, _attachment_only,
], ids=[*SHAPES, "attachments", "nested", "attachment only"])
@pytest.mark.parametrize("line_end", ["CRLF", "LF"])
def test_same_parts_as_the_email_package(build, line_end):
    message = build()
    raw = message.as_bytes(policy=email.policy.SMTP if line_end == "CRLF" else
                           email.policy.default)
    assert _normalise(_stream_parts(raw)) == _normalise(_email_parts(raw))


def test_rfc2231_and_rfc2047_names_are_decoded():
    message = _with_attachments(["Compte rendu d'échographie très long " * 3 + ".pdf"], [10])
    raw = message.as_bytes(policy=email.policy.SMTP)
    assert b"filename*" in raw  # RFC 2231 continuation
    (_, (_, name, _)) = _stream_parts(raw)
    assert name.startswith("Compte rendu d'échographie très long")


def test_missing_closing_boundary_and_missing_boundary_parameter():
    raw = _with_attachments(["a.apz"], [100]).as_bytes()
    cut = raw[: raw.rindex(b"--===")]
    parts = _stream_parts(cut)
    assert [kind for kind, _, _ in parts] == ["text/plain", "application/octet-stream"]
    broken = b"Content-Type: multipart/mixed\r\n\r\njust text\r\n"
    assert _stream_parts(broken) == [("multipart/mixed", None, b"just text")]
    never_opened = b"Content-Type: multipart/mixed; boundary=b\r\n\r\nkept text\r\n"
    assert _stream_parts(never_opened) == [("text/plain", None, b"kept text\r\n")]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_arbitrary_bytes(data):
    _stream_parts(data)
    _stream_parts(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data)


def test_large_attachment_comes_out_byte_identical(tmp_path):
    """(Its memory use is measured by benchmarks/, not asserted here.)"""
    payload = os.urandom(8 * 1024 * 1024)
    message = _message("corps")
    message.add_attachment(payload, maintype="application", subtype="octet-stream",
                           filename="gros.bin")
    raw_path = tmp_path / "big.eml"
    raw_path.write_bytes(message.as_bytes())
    parsed = parse_message_file(raw_path, tmp_path / "work")
    assert parsed.attachments[0].path.read_bytes() == payload
    assert [part.strip() for part in parsed.body_parts] == [b"corps"]
