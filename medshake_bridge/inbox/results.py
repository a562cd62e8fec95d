"""Lab results as a clinician reads them: direction (↑/↓), critical (HH/LL), and the previous
value of the same analyte for the same patient, with its date.

"The same patient" is the identity the documents carry (last name, first name, birth date,
compared without case), looked for only among documents the reader may see, so nothing of
another practitioner's mail leaks through a previous value. "The same analyte" is the lab's
code when both have one, else the label without case.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.db import db
from medshake_bridge.hprim.lab import parse_number
from medshake_bridge.models import User
from medshake_bridge.models.mail import InboxDocument

HISTORY_SCAN = 200  # earlier documents of one patient looked at for previous values


@dataclass(frozen=True)
class Previous:
    value: str
    unit: str
    when: dt.date | None
    document_id: int
    direction: str  # "up", "down" or "" for that earlier value


@dataclass(frozen=True)
class ResultRow:
    """One result line ready to show."""

    label: str
    code: str
    value: str
    unit: str
    normal_low: str
    normal_high: str
    flag: str
    abnormal: bool
    direction: str  # "up" (above the range / H, HH), "down" (L, LL) or ""
    critical: bool  # HH or LL
    previous: Previous | None = None

    @property
    def arrow(self) -> str:
        return {"up": "↑", "down": "↓"}.get(self.direction, "")

    @property
    def range_text(self) -> str:
        if self.normal_low and self.normal_high:
            return f"{self.normal_low} – {self.normal_high}"
        if self.normal_low:
            return f"≥ {self.normal_low}"
        if self.normal_high:
            return f"≤ {self.normal_high}"
        return ""


def direction_of(item: dict[str, Any]) -> str:
    """``up``/``down`` from the lab's flag, else from the value against the range."""
    flag = str(item.get("flag") or "").upper()
    if flag in ("H", "HH"):
        return "up"
    if flag in ("L", "LL"):
        return "down"
    if flag == "N":
        return ""
    value = parse_number(str(item.get("value") or ""))
    if value is None:
        return ""
    low = parse_number(str(item.get("normal_low") or ""))
    high = parse_number(str(item.get("normal_high") or ""))
    if high is not None and value > high:
        return "up"
    if low is not None and value < low:
        return "down"
    return ""


def analyte_key(item: dict[str, Any]) -> str:
    code = str(item.get("code") or "").strip().upper()
    return f"code:{code}" if code else f"label:{str(item.get('label') or '').strip().lower()}"


def exam_date(document: InboxDocument) -> dt.date | None:
    """The exam date the sender wrote (HPRIM line 10), else the day it was received."""
    header = json.loads(document.header_json or "{}")
    raw = header.get("exam_date")
    if raw:
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            pass
    return document.created_at.date() if document.created_at else None


def same_patient_documents(user: User, document: InboxDocument, *, limit: int = HISTORY_SCAN
                           ) -> list[InboxDocument]:
    """Other documents ``user`` may see about the same patient identity, newest first."""
    if not document.has_header or not document.patient_last_name:
        return []
    owners = sorted(readable_mail_owner_ids(user))
    query = select(InboxDocument).where(
        InboxDocument.owner_user_id.in_(owners), InboxDocument.id != document.id,
        func.lower(InboxDocument.patient_last_name) == document.patient_last_name.lower(),
        func.lower(InboxDocument.patient_first_name) == document.patient_first_name.lower())
    if document.patient_birth_date is not None:
        query = query.where(InboxDocument.patient_birth_date == document.patient_birth_date)
    return list(db.session.scalars(query.order_by(InboxDocument.created_at.desc(),
                                                  InboxDocument.id.desc()).limit(limit)))


def result_rows(user: User, document: InboxDocument) -> list[ResultRow]:
    """The document's results, each with its previous value when one exists."""
    items = json.loads(document.results_json or "[]")
    if not items:
        return []
    this_date = exam_date(document)
    previous: dict[str, Previous] = {}
    earlier = []
    for other in same_patient_documents(user, document):
        when = exam_date(other)
        if this_date is not None and when is not None and when > this_date:
            continue
        if when == this_date and other.created_at > document.created_at:
            continue
        earlier.append((when or dt.date.min, other.created_at, other, when))
    earlier.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    seen_messages = {document.message_id}
    for _sort, _created, other, when in earlier:
        if other.message_id in seen_messages and other.position == document.position:
            continue  # the same document copied into another owner's inbox
        for item in json.loads(other.results_json or "[]"):
            key = analyte_key(item)
            if key not in previous and str(item.get("value") or "").strip():
                previous[key] = Previous(str(item.get("value") or ""),
                                         str(item.get("unit") or ""), when, other.id,
                                         direction_of(item))
    rows = []
    for item in items:
        flag = str(item.get("flag") or "").upper()
        rows.append(ResultRow(
            label=str(item.get("label") or ""), code=str(item.get("code") or ""),
            value=str(item.get("value") or ""), unit=str(item.get("unit") or ""),
            normal_low=str(item.get("normal_low") or ""),
            normal_high=str(item.get("normal_high") or ""), flag=flag,
            abnormal=bool(item.get("abnormal")), direction=direction_of(item),
            critical=flag in ("HH", "LL"), previous=previous.get(analyte_key(item))))
    return rows


def has_critical(rows: list[ResultRow]) -> bool:
    return any(row.critical for row in rows)
