"""The HPRIM header: twelve positional lines (a thirteenth, blank, is common).

Fields are read from decoded characters, never byte offsets, and right-trimmed as the format
says (surrounding spaces are dropped too: they carry nothing and break comparisons). Reading is
total: missing lines are empty fields, so a short or foreign text gives an (invalid) header
instead of an error; :mod:`medshake_bridge.hprim.score` decides whether it is a real one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dates import parse_date
from .nir import Nir, parse_nir

__all__ = ["HEADER_LINES", "CODE_WIDTH", "HprimHeader", "parse_header", "split_code_line",
           "published_fields", "header_from_stored"]

HEADER_LINES = 12
"""Lines that carry fields; line 13, when present, is blank."""

CODE_WIDTH = 10
"""Width of the sender / recipient code on lines 11 and 12 (then a space, then the name)."""

EMPTY_CODE = "."
"""Placeholder some senders (MedShakeEHR among them) write for an empty 10-character code."""

_POSTCODE_CITY = re.compile(r"^([0-9]{5})(?![0-9])[ \t]*(.*)$")


@dataclass(frozen=True)
class HprimHeader:
    """The identity and routing fields of one HPRIM document (DOMAIN §7).

    Dates come both parsed (``None`` when absent or not a real date) and as written, so a page
    can show what the sender typed. ``nir`` is ``None`` unless line 8 reads as a NIR;
    ``nir_raw`` keeps what was there.
    """

    patient_code: str = ""
    last_name: str = ""
    first_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postcode: str = ""
    city: str = ""
    birth_date: dt.date | None = None
    birth_date_raw: str = ""
    nir: Nir | None = None
    nir_raw: str = ""
    file_number: str = ""
    exam_date: dt.date | None = None
    exam_date_raw: str = ""
    sender_code: str = ""
    sender_name: str = ""
    recipient_code: str = ""
    recipient_name: str = ""
    line_count: int = HEADER_LINES

    @property
    def sex(self) -> str | None:
        """``M`` or ``F`` from the NIR's first digit; ``None`` without a (regular) NIR."""
        return self.nir.sex if self.nir else None

    @property
    def display_name(self) -> str:
        """``LAST First`` for lists and titles."""
        return " ".join(part for part in (self.last_name, self.first_name) if part)


INTERNAL_FIELDS = frozenset({"line_count"})
"""Fields that describe the parsing, not the document: not published."""


def published_fields() -> dict[str, type]:
    """Each field a stored header carries, in line order: ``str`` or ``dt.date`` (a date that
    may be missing). The NIR is published as text and the sex derived from it is added.

    Derived from :class:`HprimHeader` itself (the stored JSON,
    :func:`medshake_bridge.collect.documents.header_json`, is its ``asdict``), so the API's
    description of a header (:mod:`medshake_bridge.apiv1.schemas`) follows a new field
    without a second list to keep in step.
    """
    import typing

    hints = typing.get_type_hints(HprimHeader)
    found: dict[str, type] = {}
    for field in dataclasses.fields(HprimHeader):
        if field.name in INTERNAL_FIELDS:
            continue
        found[field.name] = dt.date if hints[field.name] == (dt.date | None) else str
        if field.name == "nir":
            found["sex"] = str
    return found


def header_from_stored(data: Mapping[str, Any]) -> HprimHeader:
    """The header back from its stored JSON (``published_fields`` as text, dates ISO, the NIR
    as text): the inverse of :func:`medshake_bridge.collect.documents.header_json`."""
    values: dict[str, Any] = {}
    for name, kind in published_fields().items():
        value = data.get(name)
        if name == "sex":
            continue  # derived from the NIR
        if name == "nir":
            values[name] = parse_nir(str(value)) if value else None
        elif kind is dt.date:
            values[name] = dt.date.fromisoformat(value) if value else None
        else:
            values[name] = str(value or "")
    return HprimHeader(**values)


def split_code_line(line: str) -> tuple[str, str]:
    """Split line 11 or 12 into (code, name).

    The format is a 10-character code, a space, then the name. Some senders do not pad the
    code ("LAB01 Laboratoire"), or glue the name to it: those are read sensibly instead of
    being cut at column 10 in the middle of a word. The ``.`` placeholder reads as no code.
    """
    text = line.rstrip()
    if not text.strip():
        return "", ""
    if len(text) <= CODE_WIDTH:
        code, name = text.strip(), ""
    elif text[CODE_WIDTH] in " \t":
        code, name = text[:CODE_WIDTH].strip(), text[CODE_WIDTH + 1 :].strip()
    else:
        parts = text.strip().split(None, 1)
        if len(parts[0]) <= CODE_WIDTH:  # a whole code pushed right, then a name or nothing
            code, name = parts[0], parts[1].strip() if len(parts) == 2 else ""
        else:
            code, name = text[:CODE_WIDTH].strip(), text[CODE_WIDTH:].strip()
    return ("" if code == EMPTY_CODE else code), name


def _split_postcode_city(line: str) -> tuple[str, str]:
    value = line.strip()
    match = _POSTCODE_CITY.match(value)
    if match:
        return match.group(1), match.group(2).strip()
    return "", value


def parse_header(lines: Sequence[str]) -> HprimHeader:
    """Read the header fields from the first twelve of ``lines`` (missing lines are empty).

    ``line_count`` is 13 when a blank thirteenth line follows, as many senders write.
    """
    padded = [line.strip() for line in list(lines[:HEADER_LINES])]
    padded += [""] * (HEADER_LINES - len(padded))
    postcode, city = _split_postcode_city(padded[5])
    sender_code, sender_name = split_code_line(lines[10] if len(lines) > 10 else "")
    recipient_code, recipient_name = split_code_line(lines[11] if len(lines) > 11 else "")
    has_blank_13th = len(lines) > HEADER_LINES and not lines[HEADER_LINES].strip()
    return HprimHeader(
        patient_code=padded[0],
        last_name=padded[1],
        first_name=padded[2],
        address_line1=padded[3],
        address_line2=padded[4],
        postcode=postcode,
        city=city,
        birth_date=parse_date(padded[6]),
        birth_date_raw=padded[6],
        nir=parse_nir(padded[7]),
        nir_raw=padded[7],
        file_number=padded[8],
        exam_date=parse_date(padded[9]),
        exam_date_raw=padded[9],
        sender_code=sender_code,
        sender_name=sender_name,
        recipient_code=recipient_code,
        recipient_name=recipient_name,
        line_count=HEADER_LINES + 1 if has_blank_13th else HEADER_LINES,
    )
