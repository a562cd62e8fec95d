"""A schedule in plain words: ``*/10 8-20 * * 1-6`` → "toutes les 10 min, de 8 h à 20 h,
du lundi au samedi". Shown beside the crontab fields so an admin checks what they typed.

Only the forms people write are described (numbers, ``*``, ranges, steps, lists); anything
else (names, mixed steps) gives an empty summary rather than a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def _hours(hour: str, minute: str) -> str:
    if hour == "*":
        return ""
    if _NUMBER.match(hour) and _NUMBER.match(minute):
        return ""  # said with the minute ("à 3 h 00")
    if step := _STEP.match(hour):
        return f"toutes les {int(step.group(1))} heures"
    pieces = []
    for part in _list(hour):
        if found := _RANGE.match(part):
            pieces.append(f"de {int(found.group(1))} h à {int(found.group(2))} h 59")
        elif _NUMBER.match(part):
            pieces.append(f"de {int(part)} h à {int(part)} h 59")
        else:
            raise _Unsupported(hour)
    return ", ".join(pieces)


def _weekdays(value: str) -> str:
    if value == "*":
        return ""
    pieces = []
    for part in _list(value):
        if found := _RANGE.match(part):
            start, end = int(found.group(1)), int(found.group(2))
            if start > 7 or end > 7:
                raise _Unsupported(value)
            pieces.append(f"du {_DAYS_FR[start]} au {_DAYS_FR[end]}")
        elif _NUMBER.match(part) and int(part) <= 7:
            pieces.append(f"le {_DAYS_FR[int(part)]}")
        else:
            raise _Unsupported(value)
    return ", ".join(pieces)


def _days(value: str) -> str:
    if value == "*":
        return ""
    pieces = []
    for part in _list(value):
        if found := _RANGE.match(part):
            pieces.append(f"du {int(found.group(1))} au {int(found.group(2))} du mois")
        elif _NUMBER.match(part):
            pieces.append(f"le {int(part)}{'er' if int(part) == 1 else ''} du mois")
        else:
            raise _Unsupported(value)
    return ", ".join(pieces)


def _months(value: str) -> str:
    if value == "*":
        return ""
    pieces = []
    for part in _list(value):
        if found := _RANGE.match(part):
            start, end = int(found.group(1)), int(found.group(2))
            if not (1 <= start <= 12 and 1 <= end <= 12):
                raise _Unsupported(value)
            pieces.append(f"de {_MONTHS_FR[start]} à {_MONTHS_FR[end]}")
        elif _NUMBER.match(part) and 1 <= int(part) <= 12:
            pieces.append(f"en {_MONTHS_FR[int(part)]}")
        else:
            raise _Unsupported(value)
    return ", ".join(pieces)


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
