"""Taking a stored message apart: headers, body parts and attachments.

Text parts without a file name are the body (text/plain preferred; text/html only when a message
has nothing else). Every part with a file name (``filename`` or ``name``, RFC 2231 and RFC 2047
decoded by the ``email`` package's default policy), an attachment disposition or a non-text type
is an attachment, written to a work folder under a generated name. Single-part base64 or
quoted-printable mail, nested multiparts and attachment-only mail all come out the same way.
"""

from __future__ import annotations

import email.utils
import io
import os
import uuid
from dataclasses import dataclass, field
from email.header import HeaderParseError, decode_header, make_header
from email.message import Message
from pathlib import Path

from medshake_bridge.collect.filenames import safe_display_name
from medshake_bridge.collect.mimestream import LeafPart, walk_file
from medshake_bridge.collect.rawstore import FdWriter
from medshake_bridge.paths import ensure_private_dir


@dataclass(frozen=True)
class AttachmentFile:
    original_name: str
    display_name: str
    content_type: str
    path: Path
    size: int


@dataclass
class ParsedMessage:
    subject: str = ""
    from_address: str = ""
    to_address: str = ""
    date: str = ""
    message_id: str = ""
    body_parts: list[bytes] = field(default_factory=list)
    attachments: list[AttachmentFile] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def decode_words(value: str) -> str:
    """A header value with RFC 2047 encoded words decoded and whitespace folded."""
    if value.isascii() and "=?" not in value:  # no encoded word: what make_header gives
        return " ".join(value.split())
    try:
        text = str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        text = value
    return " ".join(text.split())


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return decode_words(str(value)) if value is not None else ""


def _filename(part: Message) -> str | None:
    """``filename`` (Content-Disposition) or ``name`` (Content-Type), RFC 2231 and 2047."""
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:  # noqa: BLE001 - a malformed parameter: no name
        return None
    if isinstance(name, tuple):  # RFC 2231 value: (charset, language, text)
        name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return None
    return decode_words(str(name)) if "=?" in str(name) else str(name)


class _PartRouter:
    """Decides, from a part's headers, whether its body is text or an attachment file."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = Path(work_dir)  # made on the first attachment only
        self._work_made = False
        self.plain: list[io.BytesIO] = []
        self.html: list[io.BytesIO] = []
        self.files: list[tuple[str | None, str, Path, FdWriter]] = []

    def __call__(self, leaf: LeafPart) -> io.BytesIO | FdWriter:
        part = leaf.headers
        filename = _filename(part)
        is_text = part.get_content_maintype() == "text"
        if filename is None and part.get_content_disposition() != "attachment" and is_text:
            buffer = io.BytesIO()
            (self.html if part.get_content_type() == "text/html" else self.plain).append(buffer)
            return buffer
        if not self._work_made:
            ensure_private_dir(self.work_dir)
            self._work_made = True
        path = self.work_dir / uuid.uuid4().hex
        handle = FdWriter(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.files.append((filename, part.get_content_type(), path, handle))
        return handle

    def close(self) -> None:
        for _, _, _, handle in self.files:
            handle.close()


def parse_message_file(raw_path: Path, work_dir: Path) -> ParsedMessage:
    """Parse ``raw_path`` part by part; attachment bodies stream into ``work_dir`` (private)."""
    router = _PartRouter(work_dir)
    try:
        # Unbuffered: the walk reads large blocks itself; a buffered file added a terminal
        # check, a seek and a read per message (issue 18, system calls).
        with open(raw_path, "rb", buffering=0) as handle:
            top = walk_file(handle, router)
    finally:
        router.close()
    parsed = ParsedMessage(
        subject=_header(top, "Subject"),
        from_address=_header(top, "From"),
        to_address=_header(top, "To"),
        date=_header(top, "Date"),
        message_id=_header(top, "Message-ID")[:255],
        defects=[type(defect).__name__ for defect in top.defects],
    )
    names: list[str] = []
    for filename, content_type, path, handle in router.files:
        display = safe_display_name(filename, taken=names)
        names.append(display)
        parsed.attachments.append(
            AttachmentFile(filename or "", display, content_type, path, handle.size))
    texts = [buffer.getvalue() for buffer in (router.plain or router.html)]
    parsed.body_parts = [text for text in texts if text.strip()]
    return parsed
