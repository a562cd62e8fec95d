"""The outgoing MIME message: plain text, the armour as body, ``.apz`` attachments.

Apicrypt readers expect a plain-text body holding the armour and each attachment as an
``application/octet-stream`` part named ``<original name>.apz`` (DOMAIN §6). The subject
travels in clear: the caller has already checked it carries no identity.

The message is written to a file (in the private work folder of the send), never built in
memory: a 50 MB attachment makes a message of about 95 MB, which the ``email`` package held
several times over while generating it (380 MB of growth for one send). Only the headers go
through ``email`` (folding and RFC 2047/2231 encoding of the subject and file names); the
bodies are copied and base64-encoded a block at a time, with CRLF line ends as SMTP sends them.
"""

from __future__ import annotations

import email.utils
import secrets
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import BinaryIO

from medshake_bridge.base64lines import LINE_BYTES, encode_lines
from medshake_bridge.errors import CryptoError

MAILER = "medshake-bridge"
_LINE_BYTES = LINE_BYTES
_BLOCK = _LINE_BYTES * 16384  # about 0.9 MB read and encoded per step


def new_message_id(sender: str) -> str:
    """A Message-ID on the sender's domain (recorded in the sent history)."""
    domain = sender.rpartition("@")[2] or "localhost"
    return email.utils.make_msgid(domain=domain)


def _headers(message: EmailMessage) -> bytes:
    """The header block of ``message`` (folded and encoded by the SMTP policy), blank line
    included."""
    return message.as_bytes(policy=SMTP_POLICY).partition(b"\r\n\r\n")[0] + b"\r\n\r\n"


def _armour_text(armour: bytes) -> bytes:
    """The armour as a 7bit text body: ASCII, CRLF line ends, ending with a line end."""
    try:
        armour.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError("the encrypted body is not ASCII armour; it cannot be sent as text",
                          fix="check the Apicrypt programs or companion (see System "
                              "information)") from exc
    lines = armour.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if any(len(line) > 998 for line in lines):
        raise CryptoError("the encrypted body has a line longer than SMTP allows (998)",
                          fix="check the Apicrypt programs or companion (see System "
                              "information)")
    return b"".join(line + b"\r\n" for line in lines)


def write_base64(source: BinaryIO, out: BinaryIO) -> int:
    """Copy ``source`` to ``out`` as base64 lines of 76 characters ended by CRLF, a block at
    a time (memory does not grow with the file); returns the bytes read."""
    total = 0
    while True:
        block = source.read(_BLOCK)
        if not block:
            return total
        while len(block) % _LINE_BYTES:  # a short read: complete the lines before encoding
            more = source.read(_LINE_BYTES - len(block) % _LINE_BYTES)
            if not more:
                break
            block += more
        total += len(block)
        out.write(encode_lines(block, b"\r\n"))


def write_message(out: BinaryIO, *, sender: str, recipients: Sequence[str], subject: str,
                  armour: bytes, attachments: Sequence[Path], message_id: str) -> None:
    """Write the whole message to ``out`` (CRLF line ends); the armour must be ASCII (both
    back-ends write it so). Attachments are read from their files a block at a time."""
    body = _armour_text(armour)
    top = EmailMessage(policy=SMTP_POLICY)
    top["From"] = sender
    top["To"] = ", ".join(recipients)
    top["Subject"] = subject
    top["Date"] = email.utils.formatdate(localtime=True)
    top["Message-ID"] = message_id
    top["X-Mailer"] = MAILER
    top["MIME-Version"] = "1.0"
    text_headers = (b'Content-Type: text/plain; charset="us-ascii"\r\n'
                    b"Content-Transfer-Encoding: 7bit\r\n")
    if not attachments:
        top["Content-Type"] = 'text/plain; charset="us-ascii"'
        top["Content-Transfer-Encoding"] = "7bit"
        out.write(_headers(top))
        out.write(body)
        return
    # "=_" and "." never occur in base64 or in the armour's lines: no part can contain it
    boundary = f"=_medshake-bridge.{secrets.token_hex(16)}"
    top["Content-Type"] = f'multipart/mixed; boundary="{boundary}"'
    delimiter = b"--" + boundary.encode("ascii")
    out.write(_headers(top))
    out.write(delimiter + b"\r\n" + text_headers + b"\r\n" + body)
    for path in attachments:
        part = EmailMessage(policy=SMTP_POLICY)
        part["Content-Type"] = "application/octet-stream"
        part.add_header("Content-Disposition", "attachment", filename=path.name)
        part["Content-Transfer-Encoding"] = "base64"
        out.write(delimiter + b"\r\n" + _headers(part))
        with path.open("rb") as source:
            write_base64(source, out)
    out.write(delimiter + b"--\r\n")
