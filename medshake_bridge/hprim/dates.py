"""Dates as HPRIM senders write them: ``dd/mm/yyyy`` mostly, also ``dd/mm/yy``, ``yyyy-mm-dd``.

Parsing is lenient about separators (``/``, ``.``, ``-``), one-digit days and months, the
compact ``yyyymmdd`` / ``ddmmyyyy`` forms and a trailing time (exam dates often carry one); it
returns ``None`` rather than raising, because a bad date must lower the header's score, not
stop the message.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["format_date", "parse_date"]

_TIME = r"(?:[ T]+[0-9]{1,2}[:hH][0-9]{2}(?::[0-9]{2})?)?"
_DMY = re.compile(rf"^([0-9]{{1,2}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{4}}|[0-9]{{2}}){_TIME}$")
_YMD = re.compile(rf"^([0-9]{{4}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{1,2}}){_TIME}$")
_COMPACT = re.compile(rf"^([0-9]{{8}}){_TIME}$")


def _make(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _full_year(two_digits: int, today: dt.date) -> int:
    """The latest year ending in ``two_digits`` that is not after ``today`` (birth dates)."""
    year = today.year - today.year % 100 + two_digits
    return year - 100 if year > today.year else year


def parse_date(raw: str, *, today: dt.date | None = None) -> dt.date | None:
    """Parse an HPRIM date, or return ``None`` when it is empty or not a real date.

    Two-digit years take the latest century that does not put the date after ``today``
    (default: the current date), which is right for birth and exam dates.
    """
    value = raw.strip()
    if not value:
        return None
    reference = today or dt.date.today()
    match = _DMY.match(value)
    if match:
        day, month, year_text = match.groups()
        year = int(year_text)
        if len(year_text) == 2:
            year = _full_year(year, reference)
        return _make(year, int(month), int(day))
    match = _YMD.match(value)
    if match:
        year_text, month, day = match.groups()
        return _make(int(year_text), int(month), int(day))
    match = _COMPACT.match(value)
    if match:
        digits = match.group(1)
        if digits[:2] in ("19", "20"):
            found = _make(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            if found:
                return found
        return _make(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    return None


def format_date(value: dt.date) -> str:
    """The spelling written in outgoing headers: ``dd/mm/yyyy``."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
