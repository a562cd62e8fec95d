"""The coded ``****LAB****`` section: ``TEX|`` text lines and ``RES|`` result lines.

RES fields are ``|``-separated: label, code, type (N numeric, A alphanumeric, C coded), value,
unit, normal low, normal high, flag (L, H, LL, HH, N), status (F validated, R not validated,
C corrected), then value, unit, low and high in a second unit. Real lines often stop early;
missing fields are empty. Lines without a label carry nothing a reader can use and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ABNORMAL_FLAGS", "LabResult", "parse_lab_lines", "parse_number", "parse_res_line"]

ABNORMAL_FLAGS = frozenset({"L", "H", "LL", "HH"})
"""Flags that mark a result outside the normal range (low, high, very low, very high)."""

_NORMAL_FLAG = "N"
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)$")
_RES_FIELDS = 13


def parse_number(value: str) -> float | None:
    """A decimal written the French or English way (``1,25``, ``1.25``, ``1 250``), or None.

    Values such as ``<0,5`` or ``positif`` are not numbers: they are shown, never compared.
    """
    compact = value.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not _NUMBER.match(compact):
        return None
    return float(compact.replace(",", "."))


@dataclass(frozen=True)
class LabResult:
    """One ``RES`` line, fields as written (stripped)."""

    label: str
    code: str = ""
    kind: str = ""
    value: str = ""
    unit: str = ""
    normal_low: str = ""
    normal_high: str = ""
    flag: str = ""
    status: str = ""
    value2: str = ""
    unit2: str = ""
    normal_low2: str = ""
    normal_high2: str = ""

    @property
    def numeric_value(self) -> float | None:
        """The value as a number when it is one."""
        return parse_number(self.value)

    @property
    def abnormal(self) -> bool:
        """True when flagged L/H/LL/HH, or, without a flag, when the value is out of range.

        The sender's flag wins (``N`` means normal even if our comparison disagrees: the lab
        may use another range); without one, a numeric value is compared with the bounds that
        are numbers.
        """
        flag = self.flag.upper()
        if flag in ABNORMAL_FLAGS:
            return True
        if flag == _NORMAL_FLAG:
            return False
        value = self.numeric_value
        if value is None:
            return False
        low = parse_number(self.normal_low)
        high = parse_number(self.normal_high)
        return (low is not None and value < low) or (high is not None and value > high)


def _prefixed(line: str, prefix: str) -> str | None:
    """The rest of ``line`` after ``prefix|`` (any case, leading spaces allowed), else None."""
    stripped = line.lstrip()
    head = prefix + "|"
    if stripped[: len(head)].upper() == head:
        return stripped[len(head) :]
    return None


def parse_res_line(line: str) -> LabResult | None:
    """Read one ``RES|`` line; None when it is not one or its label is empty."""
    rest = _prefixed(line, "RES")
    if rest is None:
        return None
    fields = [field.strip() for field in rest.split("|")]
    fields += [""] * (_RES_FIELDS - len(fields))
    if not fields[0]:
        return None
    return LabResult(*fields[:_RES_FIELDS])


def parse_lab_lines(lines: Iterable[str]) -> tuple[list[LabResult], list[str]]:
    """Results and ``TEX`` texts of a coded section, in order; other lines are ignored."""
    results: list[LabResult] = []
    texts: list[str] = []
    for line in lines:
        text = _prefixed(line, "TEX")
        if text is not None:
            texts.append(text.rstrip().removesuffix("|").rstrip())
            continue
        result = parse_res_line(line)
        if result is not None:
            results.append(result)
    return results, texts
