"""Folding names and text so that comparisons ignore accents, case and punctuation.

Clinicians' records and senders' headers disagree on accents ("Hélène" / "HELENE"), hyphens
("Jean-Pierre" / "JEAN PIERRE") and ligatures ("Lætitia"), never on letters. Folding keeps
letters and digits, lower-cased without accents, with every other run of characters reduced to
one space.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold"]

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})
_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """``"  Hélène-Marie D'Œuf "`` -> ``"helene marie d oeuf"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD.sub(" ", bare.casefold().translate(_LIGATURES)).strip()
