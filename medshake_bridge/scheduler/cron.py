"""Crontab fields as an admin writes them, turned into an APScheduler ``CronTrigger``.

Two traps are handled here once: each field is mapped to APScheduler's by *name* (the public PHP
implementation swapped day of month and month), and crontab's day-of-week numbers (0 or 7 =
Sunday, 1 = Monday) are turned into day names, because APScheduler counts 0 = Monday: left as
numbers, crontab's ``1-6`` (Monday-Saturday) would run Tuesday-Sunday, and ``*/2`` would start
on Monday instead of Sunday.

Like APScheduler (and unlike crontab), a schedule that restricts both the day of month and the
day of week runs on days matching *both*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from medshake_bridge.errors import BridgeError

FIELDS: tuple[str, ...] = ("minute", "hour", "day", "month", "day_of_week")
LABELS_FR = {"minute": "minute", "hour": "heure", "day": "jour du mois", "month": "mois",
             "day_of_week": "jour de la semaine"}
LABELS_EN = {"minute": "minute", "hour": "hour", "day": "day of month", "month": "month",
             "day_of_week": "day of week"}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC = re.compile(r"^[0-9*/,\-]+$")
_WITH_NAMES = re.compile(r"^[0-9A-Za-z*/,\-]+$")
_LIMITS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31),
           "month": (1, 12), "day_of_week": (0, 7)}
MAX_FIELD_LENGTH = 100


class CronFieldError(BridgeError):
    """A schedule field was refused.

    ``field`` names the field (``minute`` … ``day_of_week``), ``kind`` says why (``syntax``,
    ``range``, ``invalid``) so a page can explain it in the reader's language; ``value``,
    ``low``, ``high`` and ``detail`` fill in the explanation.
    """

    def __init__(self, field: str, kind: str, value: str, *, low: int = 0, high: int = 0,
                 detail: str = "") -> None:
        label = LABELS_EN.get(field, field)
        if kind == "range":
            message = f"{label}: {value} is outside {low}-{high}"
            fix = f"give values between {low} and {high}"
        elif kind == "syntax":
            message = f"{label}: {value!r} is not crontab syntax"
            fix = "use numbers, *, ranges (8-20), steps (*/5) and lists (1,15)"
        else:
            message = f"{label}: {value!r} is not valid ({detail})"
            fix = "use crontab syntax such as */5, 8-20 or 1-6"
        super().__init__(message, fix=fix)
        self.field = field
        self.kind = kind
        self.value = value
        self.low = low
        self.high = high
        self.detail = detail


@dataclass(frozen=True)
class CronSchedule:
    """Five crontab fields, plus ``second`` (default ``0``): a plugin may declare it in code
    (tests use it for jobs every second); the pages never show or change it."""

    minute: str = "0"
    hour: str = "*"
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"
    second: str = "0"

    @classmethod
    def from_mapping(cls, fields: Mapping[str, str]) -> CronSchedule:
        values = {name: str(fields.get(name, "*")).strip() or "*" for name in FIELDS}
        return cls(**values, second=str(fields.get("second", "0")).strip() or "0")

    def as_dict(self) -> dict[str, str]:
        """The five crontab fields (without ``second``)."""
        return {name: getattr(self, name) for name in FIELDS}

    def problems(self) -> dict[str, CronFieldError]:
        """Every refused field, by name (empty when the schedule is valid)."""
        found: dict[str, CronFieldError] = {}
        for name in (*FIELDS, "second"):
            try:
                _check_field(name, getattr(self, name))
            except CronFieldError as exc:
                found[name] = exc
        return found

    def trigger(self, timezone: str | None = None) -> CronTrigger:
        """The APScheduler trigger; raises :class:`CronFieldError` on the first invalid field."""
        for problem in self.problems().values():
            raise problem
        return CronTrigger(second=self.second, minute=self.minute, hour=self.hour,
                           day=self.day, month=self.month,
                           day_of_week=crontab_day_of_week(self.day_of_week),
                           timezone=timezone)

    def next_run(self, after: datetime, timezone: str | None = None) -> datetime | None:
        """The first run time strictly after ``after`` (``None`` when it never runs)."""
        trigger = self.trigger(timezone)
        return trigger.get_next_fire_time(None, after)

    def __str__(self) -> str:
        return " ".join(self.as_dict().values())


def _check_field(name: str, value: str) -> None:
    pattern = _WITH_NAMES if name in ("month", "day_of_week") else _NUMERIC
    if not value or len(value) > MAX_FIELD_LENGTH or not pattern.match(value):
        raise CronFieldError(name, "syntax", value)
    low, high = _LIMITS[name]
    for part in value.split(","):
        for number in re.findall(r"\d+", part.split("/")[0]):
            if not low <= int(number) <= high:
                raise CronFieldError(name, "range", number, low=low, high=high)
    try:
        expression = crontab_day_of_week(value) if name == "day_of_week" else value
        CronTrigger(**{name: expression})
    except ValueError as exc:
        raise CronFieldError(name, "invalid", value, detail=str(exc)) from None


def crontab_day_of_week(value: str) -> str:
    """Crontab day-of-week → APScheduler names.

    ``1-6`` → ``mon,tue,wed,thu,fri,sat``; ``0`` and ``7`` → ``sun``; ``*/2`` → Sunday,
    Tuesday, Thursday, Saturday (crontab counts from Sunday); ``5-7`` → Friday to Sunday.
    Parts written with names (``mon-fri``) are kept as APScheduler reads them.
    """
    if value.strip() == "*":
        return "*"
    names: list[str] = []
    for part in value.split(","):
        base, slash, step_text = part.partition("/")
        if not any(ch.isdigit() for ch in base) and base != "*":
            names.append(part.lower())  # names: APScheduler's own syntax
            continue
        step = int(step_text) if slash and step_text.isdigit() else 1
        if slash and not step_text.isdigit():
            raise CronFieldError("day_of_week", "syntax", value)
        if base == "*":
            start, end = 0, 6
        elif "-" in base:
            first, _, last = base.partition("-")
            if not (first.isdigit() and last.isdigit()):
                raise CronFieldError("day_of_week", "syntax", value)
            start, end = int(first), int(last)
        elif base.isdigit():
            start = int(base)
            end = 7 if slash else start  # crontab's "N/step" means N-7/step
        else:
            raise CronFieldError("day_of_week", "syntax", value)
        if start > end:
            raise CronFieldError("day_of_week", "invalid", value,
                                 detail="the first day of a range comes after the last")
        if step < 1:
            raise CronFieldError("day_of_week", "invalid", value,
                                 detail="a step must be 1 or more")
        for number in range(start, end + 1, step):
            name = _DAY_NAMES[number % 7]
            if name not in names:
                names.append(name)
    return ",".join(names)
