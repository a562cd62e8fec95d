"""Crontab fields as an admin writes them, turned into an APScheduler ``CronTrigger``.

Two traps are handled here once: each field is mapped to APScheduler's by *name* (the public PHP
implementation swapped day of month and month), and crontab's day-of-week numbers (0 or 7 =
Sunday, 1 = Monday) are turned into day names, because APScheduler counts 0 = Monday: left as
numbers, crontab's ``1-6`` (Monday-Saturday) would run Tuesday-Sunday.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from apscheduler.triggers.cron import CronTrigger

from medshake_bridge.errors import BridgeError

FIELDS: tuple[str, ...] = ("minute", "hour", "day", "month", "day_of_week")
LABELS_FR = {"minute": "minute", "hour": "heure", "day": "jour du mois", "month": "mois",
             "day_of_week": "jour de la semaine"}
LABELS_EN = {"minute": "minute", "hour": "hour", "day": "day of month", "month": "month",
             "day_of_week": "day of week"}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALLOWED = re.compile(r"^[0-9A-Za-z*/,\-]+$")
_LIMITS = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12),
           "day_of_week": (0, 7)}


class CronFieldError(BridgeError):
    """A schedule field was refused; the message names the field and the reason."""


@dataclass(frozen=True)
class CronSchedule:
    minute: str = "0"
    hour: str = "*"
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"

    @classmethod
    def from_mapping(cls, fields: Mapping[str, str]) -> CronSchedule:
        return cls(**{name: str(fields.get(name, "*")).strip() or "*" for name in FIELDS})

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}

    def trigger(self, timezone: str | None = None) -> CronTrigger:
        """The APScheduler trigger; raises :class:`CronFieldError` on an invalid field."""
        for name in FIELDS:
            _check_field(name, getattr(self, name))
        try:
            return CronTrigger(minute=self.minute, hour=self.hour, day=self.day,
                               month=self.month,
                               day_of_week=crontab_day_of_week(self.day_of_week),
                               timezone=timezone)
        except ValueError as exc:
            raise CronFieldError(f"invalid schedule: {exc}",
                                 fix="use crontab syntax such as */5, 8-20 or 1-6") from None

    def __str__(self) -> str:
        return " ".join(self.as_dict().values())


def _check_field(name: str, value: str) -> None:
    if not value or not _ALLOWED.match(value):
        raise CronFieldError(
            f"{LABELS_EN[name]}: {value!r} is not crontab syntax",
            fix="use numbers, *, ranges (8-20), steps (*/5) and lists (1,15)")
    low, high = _LIMITS[name]
    for number in re.findall(r"\d+", value.split("/")[0]):
        if not low <= int(number) <= high:
            raise CronFieldError(
                f"{LABELS_EN[name]}: {number} is outside {low}-{high}",
                fix=f"give values between {low} and {high}")


def _day_name(token: str) -> str:
    return _DAY_NAMES[int(token)] if token.isdigit() else token.lower()


def crontab_day_of_week(value: str) -> str:
    """``1-6`` → ``mon-sat``, ``0`` / ``7`` → ``sun``, ``*/2`` kept, names kept."""
    parts = []
    for part in value.split(","):
        base, slash, step = part.partition("/")
        if base == "*":
            parts.append(part)
            continue
        if "-" in base:
            start, end = base.split("-", 1)
            if start.isdigit() and end.isdigit() and int(end) == 7 and int(start) > 0:
                names = f"{_day_name(start)}-sat,sun" if not slash else f"{_day_name(start)}-sun"
                parts.append(names if not slash else f"{names}/{step}")
                continue
            base = f"{_day_name(start)}-{_day_name(end)}"
        else:
            base = _day_name(base)
        parts.append(f"{base}{slash}{step}")
    return ",".join(parts)
