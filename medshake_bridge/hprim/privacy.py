"""Keep patient identity out of mail subjects.

The subject of an Apicrypt message travels unencrypted, so the sender refuses a subject that
names the patient. The check folds accents, case and punctuation away ("Hélène", "HELENE" and
"helene" are the same; so are "Jean-Pierre" and "JEAN PIERRE") and matches whole words only: a
short name inside a longer word ("Li" in "Lille") is not a hit. It errs on the side of a hit (a
patient called "Petit" blocks the subject "petit bilan"): the user rewords, nothing leaks.
"""

from __future__ import annotations

import datetime as dt
import re

from .build import PatientIdentity
from .header import HprimHeader
from .identity import identity_fields
from .normalise import fold

__all__ = ["identity_in_subject"]

_MONTHS = (
    ("janvier", "janv", "jan"),
    ("fevrier", "fevr", "fev"),
    ("mars", "mar"),
    ("avril", "avr"),
    ("mai",),
    ("juin",),
    ("juillet", "juil"),
    ("aout",),
    ("septembre", "sept", "sep"),
    ("octobre", "oct"),
    ("novembre", "nov"),
    ("decembre", "dec"),
)
_MIN_NAME_LETTERS = 2


def _whole(pattern: str) -> re.Pattern[str]:
    """``pattern`` as whole words of folded text (folded text has only letters, digits, spaces)."""
    return re.compile(rf"(?<![a-z0-9]){pattern}(?![a-z0-9])")


def _name_pattern(name: str) -> re.Pattern[str] | None:
    words = fold(name).split()
    if sum(len(word) for word in words) < _MIN_NAME_LETTERS:
        return None
    return _whole(r" ?".join(re.escape(word) for word in words))


def _alternatives(options: list[str]) -> str:
    return "(?:" + "|".join(sorted(set(options), key=len, reverse=True)) + ")"


def _date_patterns(born: dt.date) -> list[re.Pattern[str]]:
    """The usual spellings of a date, on folded text (separators have become spaces)."""
    day = _alternatives([str(born.day), f"{born.day:02d}"] + (["1er"] if born.day == 1 else []))
    month = _alternatives([str(born.month), f"{born.month:02d}"])
    month_name = _alternatives(list(_MONTHS[born.month - 1]))
    year = _alternatives([f"{born.year:04d}", f"{born.year % 100:02d}"])
    dd, mm, yyyy = f"{born.day:02d}", f"{born.month:02d}", f"{born.year:04d}"
    return [
        _whole(rf"{day} {month} {year}"),
        _whole(rf"{day} ?{month_name} ?{year}"),
        _whole(rf"{yyyy} {month} {day}"),
        _whole(rf"{dd}{mm}{year}"),
        _whole(rf"{yyyy}{mm}{dd}"),
    ]


def _nir_pattern(number: str) -> re.Pattern[str]:
    """The 13 characters, spaced or not, alone or followed by a 2-digit key."""
    return _whole(" ?".join(re.escape(char) for char in number.lower()) + "(?: ?[0-9]{2})?")


def identity_in_subject(subject: str, identity: HprimHeader | PatientIdentity) -> list[str]:
    """Which identity items appear in ``subject``: a list drawn from ``last_name``,
    ``birth_name``, ``first_name``, ``birth_date``, ``nir`` (in that order), empty if none.

    Dates are found as ``12/03/1950``, ``12-03-50``, ``12.3.1950``, ``1950-03-12``,
    ``12031950``, ``12 mars 1950``; the NIR with or without spaces.
    """
    text = fold(subject)
    fields = identity_fields(identity)
    found: list[str] = []
    for item, value in (
        ("last_name", fields.last_name),
        ("birth_name", fields.birth_name),
        ("first_name", fields.first_name),
    ):
        pattern = _name_pattern(value)
        if pattern and pattern.search(text):
            found.append(item)
    if fields.birth_date and any(p.search(text) for p in _date_patterns(fields.birth_date)):
        found.append("birth_date")
    if fields.nir and _nir_pattern(fields.nir).search(text):
        found.append("nir")
    return found
