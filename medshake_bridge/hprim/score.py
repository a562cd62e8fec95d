"""Is this really an HPRIM header? A score over the twelve fields.

Mail relayed from MSSanté, or an ordinary letter, has no header, and reading its first lines as
one would file a letter under a patient called "Bonjour,". So each field earns or loses points
and a header is valid only when the total is high enough *and* the fields that identify a
patient are there: a plausible last name and a real birth date (or, lacking it, a NIR and an
exam date).

Unlike the public PHP heuristic, a missing NIR costs nothing (many senders, MedShakeEHR
included, leave it empty) and every check really looks at its field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .header import CODE_WIDTH, HprimHeader

__all__ = ["VALID_THRESHOLD", "HeaderScore", "plausible_name", "score_header"]

VALID_THRESHOLD = 8
"""Points needed (with the identity requirements) for a header to count as HPRIM."""

_MAX_NAME = 60
_MAX_WORDS = 6
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ \-'’.()]+[^\W\d_]+)*[.)]?$")
_CODE_TOKEN = re.compile(r"^[\w./\-]{1,20}$")
_MAX_FIELD_LINE = 80


@dataclass(frozen=True)
class HeaderScore:
    """Verdict on a candidate header: ``valid``, the ``points`` and one reason per check."""

    valid: bool
    points: int
    reasons: tuple[str, ...] = ()


def plausible_name(value: str) -> bool:
    """A person's name: letters in at most six words joined by spaces, hyphens, apostrophes."""
    return (
        0 < len(value) <= _MAX_NAME
        and len(value.split()) <= _MAX_WORDS
        and _NAME_CHARS.match(value) is not None
    )


class _Tally:
    def __init__(self) -> None:
        self.points = 0
        self.reasons: list[str] = []

    def add(self, points: int, reason: str) -> None:
        self.points += points
        self.reasons.append(f"{reason} ({points:+d})")


def _score_code(tally: _Tally, value: str) -> None:
    if not value:
        tally.add(0, "patient code empty")
    elif _CODE_TOKEN.match(value):
        tally.add(1, "patient code looks like an identifier")
    elif len(value) <= 20:
        tally.add(0, "patient code has unusual characters")
    else:
        tally.add(-2, "patient code is long text")


def _score_names(tally: _Tally, header: HprimHeader) -> bool:
    last_ok = plausible_name(header.last_name)
    if last_ok:
        tally.add(3, "last name plausible")
    elif not header.last_name:
        tally.add(-3, "last name empty")
    else:
        tally.add(-4, "last name is not a name")
    if plausible_name(header.first_name):
        tally.add(1, "first name plausible")
    elif not header.first_name:
        tally.add(0, "first name empty")
    else:
        tally.add(-2, "first name is not a name")
    return last_ok


def _score_address(tally: _Tally, header: HprimHeader) -> None:
    for number, value in ((4, header.address_line1), (5, header.address_line2)):
        if len(value) > _MAX_FIELD_LINE:
            tally.add(-1, f"line {number} too long for an address")
    if header.postcode:
        tally.add(1, "postcode has 5 digits")
    elif not header.city:
        tally.add(0, "postcode and city empty")
    elif len(header.city) <= 40:
        tally.add(0, "no postcode")
    else:
        tally.add(-1, "line 6 is long text, not a postcode and city")


def _score_birth_date(tally: _Tally, header: HprimHeader, today: dt.date) -> bool:
    born = header.birth_date
    if born and dt.date(1880, 1, 1) <= born <= today + dt.timedelta(days=1):
        tally.add(4, "birth date valid")
        return True
    if not header.birth_date_raw:
        tally.add(-2, "birth date empty")
    else:
        tally.add(-4, "birth date invalid")
    return False


def _score_nir(tally: _Tally, header: HprimHeader) -> bool:
    if header.nir is None:
        if header.nir_raw:
            tally.add(-2, "line 8 is not a NIR")
        else:
            tally.add(0, "NIR empty")
        return False
    if header.nir.key_valid is False:
        tally.add(1, "NIR well formed but its key is wrong")
        return False
    tally.add(3, "NIR valid")
    return True


def _score_exam_date(tally: _Tally, header: HprimHeader, today: dt.date) -> bool:
    exam = header.exam_date
    if exam and 1980 <= exam.year <= today.year + 2:
        tally.add(3, "exam date valid")
        return True
    if not header.exam_date_raw:
        tally.add(-1, "exam date empty")
    else:
        tally.add(-3, "exam date invalid")
    return False


def _score_routing(tally: _Tally, header: HprimHeader, lines: tuple[str, str]) -> None:
    if len(header.file_number) > 30:
        tally.add(-1, "file number is long text")
    for number, line in zip((11, 12), lines, strict=True):
        text = line.rstrip()
        if not text.strip():
            tally.add(0, f"line {number} empty")
        elif len(text) > _MAX_FIELD_LINE:
            tally.add(-1, f"line {number} is long text")
        elif len(text) > CODE_WIDTH and text[CODE_WIDTH] in " \t":
            tally.add(1, f"line {number} is a code and a name")
        else:
            tally.add(0, f"line {number} is not laid out as code and name")


def score_header(
    header: HprimHeader,
    *,
    routing_lines: tuple[str, str] = ("", ""),
    today: dt.date | None = None,
) -> HeaderScore:
    """Score ``header``; ``routing_lines`` are raw lines 11 and 12 (their layout counts).

    Valid when the points reach :data:`VALID_THRESHOLD`, the last name is plausible, and the
    birth date is real, or, without it, both the NIR and the exam date are.
    """
    reference = today or dt.date.today()
    tally = _Tally()
    _score_code(tally, header.patient_code)
    last_name_ok = _score_names(tally, header)
    _score_address(tally, header)
    birth_ok = _score_birth_date(tally, header, reference)
    nir_ok = _score_nir(tally, header)
    exam_ok = _score_exam_date(tally, header, reference)
    _score_routing(tally, header, routing_lines)
    identified = last_name_ok and (birth_ok or (nir_ok and exam_ok))
    if not identified:
        tally.reasons.append(
            "identity incomplete: needs a last name and a birth date (or a NIR and an exam date)"
        )
    valid = identified and tally.points >= VALID_THRESHOLD
    return HeaderScore(valid=valid, points=tally.points, reasons=tuple(tally.reasons))
