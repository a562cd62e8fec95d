"""Attachment names as received are metadata, never paths.

Files are stored under generated names; the original name is kept to show and to offer on
download, after it is made harmless: no folders, no control characters, no names Windows
reserves, a bounded length, and no two attachments of one message with the same name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME_LENGTH = 120
_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_display_name(original: str | None, *, taken: Iterable[str] = (),
                      fallback: str = "piece-jointe") -> str:
    """A harmless, unique (within ``taken``) file name derived from ``original``."""
    name = unicodedata.normalize("NFC", original or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().strip(".")
    if not name:
        name = fallback
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if stem.upper() in _RESERVED or name.upper() in _RESERVED:
        stem = f"_{stem}"
    ext = ext[:16]
    room = MAX_NAME_LENGTH - (len(ext) + 1 if ext else 0)
    stem = stem[:room] or fallback
    candidate = f"{stem}.{ext}" if ext else stem
    used = {item.lower() for item in taken}
    counter = 2
    while candidate.lower() in used:
        suffix = f" ({counter})"
        trimmed = stem[: room - len(suffix)]
        candidate = f"{trimmed}{suffix}.{ext}" if ext else f"{trimmed}{suffix}"
        counter += 1
    return candidate
