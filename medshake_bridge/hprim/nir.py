"""The French social-security number (NIR) as found on HPRIM line 8.

Thirteen characters (sex, year, month, department, commune, order; Corsica writes the
department ``2A`` / ``2B``), optionally followed by a two-digit control key. The key is
``97 - (n mod 97)``; for Corsica ``2A`` counts as 19 and ``2B`` as 18. A wrong key usually means
a typing error, so it is reported, not hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Nir", "nir_key", "parse_nir"]

_BODY = r"[1-8][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{6}"
_NIR = re.compile(rf"^({_BODY})([0-9]{{2}})?$")
_SEPARATORS = re.compile(r"[\s.\-]")


@dataclass(frozen=True)
class Nir:
    """A NIR: its 13-character ``number``, the ``key`` if written and whether it is right."""

    number: str
    key: str | None = None

    @property
    def expected_key(self) -> str:
        """The key this number should carry."""
        return nir_key(self.number)

    @property
    def key_valid(self) -> bool | None:
        """True or False when a key was written, None when there was none to check."""
        return None if self.key is None else self.key == self.expected_key

    @property
    def sex(self) -> str | None:
        """``M`` or ``F`` from the first digit (1 or 2); None for other (temporary) numbers."""
        return {"1": "M", "2": "F"}.get(self.number[0])

    def __str__(self) -> str:
        return f"{self.number} {self.key}" if self.key else self.number


def nir_key(number: str) -> str:
    """The two-digit control key of a 13-character NIR (Corsican ``2A``/``2B`` handled)."""
    numeric = number.upper().replace("2A", "19").replace("2B", "18")
    return f"{97 - int(numeric) % 97:02d}"


def parse_nir(raw: str) -> Nir | None:
    """Read a NIR written with or without spaces, dots or dashes; None when it is not one."""
    compact = _SEPARATORS.sub("", raw).upper()
    match = _NIR.match(compact)
    if not match:
        return None
    return Nir(number=match.group(1), key=match.group(2))
