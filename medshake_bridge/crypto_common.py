"""What every Apicrypt back-end (v1 programs, v2 companion) shares.

Recipient validation happens before any program or service sees a recipient; work files are
written privately and never overwrite a caller's file. One copy here, so v1 and v2 cannot drift
apart on what they accept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medshake_bridge.errors import CryptoError
from medshake_bridge.textdecode import Replacement

# A plain Apicrypt local part (prenom.NOM): letters, digits, '.', '-', '_', not at the ends.
LOCAL_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z")


class InvalidRecipientError(CryptoError):
    """A recipient is not a plain Apicrypt local part; nothing was run or sent."""


@dataclass(frozen=True)
class EncryptedBody:
    """The armour to put in a plain-text mail body, and what transliteration changed.

    ``replacements`` lists each character the encoding could not hold (v1 is ISO-8859-1), what
    it was sent as and how often (e.g. ``œ`` -> ``oe``), so the sending page can tell the user.
    v2 is UTF-8 and signed: nothing is replaced and ``signed`` is true.
    """

    armour: bytes
    replacements: tuple[Replacement, ...] = ()
    signed: bool = False

    @property
    def transliterated(self) -> bool:
        return bool(self.replacements)


def validate_recipients(recipients: Sequence[str]) -> list[str]:
    """Check every recipient against :data:`LOCAL_PART`; return them without duplicates.

    Refuses a bare string (it would be iterated character by character), an empty list, full
    addresses and anything else that is not a plain local part, naming the offending value.
    """
    if isinstance(recipients, str | bytes):
        raise InvalidRecipientError(
            "Recipients must be a list of local parts, not one string.",
            fix="Pass e.g. ['jean.dupont', 'marie.curie'].",
        )
    checked: list[str] = []
    for recipient in recipients:
        if not isinstance(recipient, str) or not LOCAL_PART.match(recipient):
            hint = (
                " Give only the part before '@'."
                if isinstance(recipient, str) and "@" in recipient
                else ""
            )
            raise InvalidRecipientError(
                f"The recipient {recipient!r} is not a valid Apicrypt local part.{hint}",
                fix="Use the address's local part, like prenom.NOM: letters, digits, '.', '-' "
                "and '_' only, starting and ending with a letter or digit.",
            )
        if recipient not in checked:
            checked.append(recipient)
    if not checked:
        raise InvalidRecipientError(
            "No recipient given.", fix="Give at least one recipient's Apicrypt local part."
        )
    return checked


def safe_work_name(name: str, fallback: str) -> str:
    """A plain file name for a work folder (no folder part, no control characters)."""
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in "/\\")
    return cleaned if cleaned not in {"", ".", ".."} else fallback


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``stem (2).ext`` ... when taken: never overwrite a caller's file."""
    candidate = folder / name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, dot, suffix = name, "", ""
    number = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = folder / f"{stem} ({number}){dot}{suffix}"
        number += 1
    return candidate


def write_new_private(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def destination_folder(dest_dir: str | os.PathLike[str]) -> Path:
    """The caller's output folder, created private if missing."""
    target = Path(dest_dir)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    return target


def attachment_source(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file to encrypt and the plain name to give it in the work folder."""
    original = Path(path)
    if not original.is_file():
        raise CryptoError(
            f"The attachment {original} does not exist or is not a file.",
            fix="Check the document's path; it may have been moved or deleted.",
        )
    return original, safe_work_name(original.name, "document")
