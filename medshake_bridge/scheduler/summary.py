"""A schedule in plain words: ``*/10 8-20 * * 1-6`` → "toutes les 10 min, de 8 h à 20 h,
du lundi au samedi". Shown beside the crontab fields so an admin checks what they typed.

Only the forms people write are described (numbers, ``*``, ranges, steps, lists); anything
else (names, mixed steps) gives an empty summary rather than a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_DAYS_FR = ("dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS_FR = ("", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")
_NUMBER = re.compile(r"^\d+$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_STEP = re.compile(r"^\*/(\d+)$")


class _Unsupported(Exception):
    pass


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _minutes(minute: str, hour: str) -> str:
    if minute == "*":
        return "chaque minute"
    if step := _STEP.match(minute):
        return f"toutes les {int(step.group(1))} min"
    parts = _list(minute)
    if all(_NUMBER.match(part) for part in parts):
        if _NUMBER.match(hour) and len(parts) == 1:
            return f"à {int(hour)} h {int(parts[0]):02d}"
        if len(parts) == 1:
            return f"toutes les heures à la minute {int(parts[0])}"
        return "aux minutes " + ", ".join(str(int(part)) for part in parts)
    raise _Unsupported(minute)


def _describe(value: str, *, one: Callable[[int], str], span: Callable[[int, int], str],
              valid: Callable[[int], bool] = lambda _number: True) -> str:
    """A field made of numbers and ranges (``1-5,7``) in words: ``one(n)`` for a number,
    ``span(a, b)`` for a range, joined; ``*`` says nothing; anything else (or a number
    ``valid`` refuses) is not described."""
    if value == "*":
        return ""
    pieces = []
    for part in _list(value):
        if found := _RANGE.match(part):
            start, end = int(found.group(1)), int(found.group(2))
            if not (valid(start) and valid(end)):
                raise _Unsupported(value)
            pieces.append(span(start, end))
        elif _NUMBER.match(part) and valid(int(part)):
            pieces.append(one(int(part)))
        else:
            raise _Unsupported(value)
    return ", ".join(pieces)


def _hours(hour: str, minute: str) -> str:
    if _NUMBER.match(hour) and _NUMBER.match(minute):
        return ""  # said with the minute ("à 3 h 00")
    if step := _STEP.match(hour):
        return f"toutes les {int(step.group(1))} heures"
    return _describe(hour, one=lambda h: f"de {h} h à {h} h 59",
                     span=lambda a, b: f"de {a} h à {b} h 59")


def _weekdays(value: str) -> str:
    return _describe(value, one=lambda d: f"le {_DAYS_FR[d]}",
                     span=lambda a, b: f"du {_DAYS_FR[a]} au {_DAYS_FR[b]}",
                     valid=lambda d: d <= 7)


def _days(value: str) -> str:
    return _describe(value, one=lambda d: f"le {d}{'er' if d == 1 else ''} du mois",
                     span=lambda a, b: f"du {a} au {b} du mois")


def _months(value: str) -> str:
    return _describe(value, one=lambda m: f"en {_MONTHS_FR[m]}",
                     span=lambda a, b: f"de {_MONTHS_FR[a]} à {_MONTHS_FR[b]}",
                     valid=lambda m: 1 <= m <= 12)


def summary_fr(fields: Mapping[str, str]) -> str:
    """The schedule in French, or ``""`` when it is written in a form not described."""
    get = {name: str(fields.get(name, "*")).strip() or "*"
           for name in ("minute", "hour", "day", "month", "day_of_week")}
    try:
        parts = [_minutes(get["minute"], get["hour"]), _hours(get["hour"], get["minute"]),
                 _days(get["day"]), _weekdays(get["day_of_week"]), _months(get["month"])]
    except (_Unsupported, ValueError):
        return ""
    if get["day"] == "*" and get["day_of_week"] == "*" and get["month"] == "*":
        parts.append("tous les jours")
    return ", ".join(part for part in parts if part)
