"""Triage: the inbox's search box and filters, read from and written to the URL (shareable).

Every filter narrows the documents the user may already see (the access rule is applied by
the service before these conditions). Words of the search box must each match the patient's
last or first name, the sender, the subject, the sender's address or the birth date
(``12/03/1961``), without regard to case or accents: they are looked for in one folded column
(``search_text``, trigram-indexed on PostgreSQL, and on SQLite through an FTS5 table:
:mod:`medshake_bridge.inbox.search_index`) rather than in five columns of two tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Text, and_, bindparam, exists, func, or_

from medshake_bridge.inbox import readstate, search_index
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage
from medshake_bridge.search_text import fold

TYPES = ("results", "letter", "other")  # lab results, HPRIM letter, mail without HPRIM data


def _date(value: str) -> dt.date | None:
    value = value.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox is narrowed to; empty fields do not filter."""

    q: str = ""
    patient: str = ""
    sender: str = ""
    type: str = ""
    since: str = ""
    until: str = ""
    abnormal: bool = False
    unread: bool = False

    @classmethod
    def from_args(cls, args: Any) -> InboxFilter:
        kind = args.get("type", "")
        return cls(q=args.get("q", "").strip()[:200],
                   patient=args.get("patient", "").strip()[:200],
                   sender=args.get("sender", "").strip()[:200],
                   type=kind if kind in TYPES else "",
                   since=args.get("since", "") if _date(args.get("since", "")) else "",
                   until=args.get("until", "") if _date(args.get("until", "")) else "",
                   abnormal=args.get("abnormal") == "1", unread=args.get("unread") == "1")

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    def args(self) -> dict[str, str]:
        """The non-empty filters as URL arguments (to keep them on tabs and pages)."""
        return {key: ("1" if value is True else str(value))
                for key, value in asdict(self).items() if value}

    def condition(self, user_id: int) -> Any:
        """The SQL condition for these filters (``None`` when nothing filters)."""
        parts: list[Any] = []
        for word in self.q.split():
            parts.append(_word(word))
        if self.patient:
            for word in self.patient.split():
                parts.append(_name_word(word))
        if self.sender:
            pattern = _like(self.sender)
            parts.append(or_(func.lower(InboxDocument.sender_name).like(pattern, escape="\\"),
                             _message(func.lower(ReceivedMessage.from_address).like(
                                 pattern, escape="\\"))))
        if self.type == "results":
            parts.append(InboxDocument.results_json != "[]")
        elif self.type == "letter":
            parts.append(and_(InboxDocument.has_header.is_(True),
                              InboxDocument.results_json == "[]"))
        elif self.type == "other":
            parts.append(InboxDocument.has_header.is_(False))
        since, until = _date(self.since), _date(self.until)
        if since is not None:
            parts.append(InboxDocument.exam_date >= since)
        if until is not None:
            parts.append(InboxDocument.exam_date <= until)
        if self.abnormal:
            parts.append(InboxDocument.abnormal.is_(True))
        if self.unread:
            parts.append(readstate.unread_by(user_id))
        return and_(*parts) if parts else None


def _message(condition: Any) -> Any:
    return exists().where(ReceivedMessage.id == InboxDocument.message_id, condition)


def _name_word(word: str) -> Any:
    pattern = _like(word)
    found = [func.lower(InboxDocument.patient_last_name).like(pattern, escape="\\"),
             func.lower(InboxDocument.patient_first_name).like(pattern, escape="\\")]
    birth = _date(word)
    if birth is not None:
        found.append(InboxDocument.patient_birth_date == birth)
    return or_(*found)


def _word(word: str) -> Any:
    """One word of the search box, found in the document's folded search text (names, birth
    date, sender, subject, address; see :mod:`medshake_bridge.search_text`)."""
    # The pattern is written into the SQL (quoted by SQLAlchemy), not sent as a parameter:
    # PostgreSQL then plans each search for its words. With a parameter, the driver's
    # prepared statement gets one generic plan for every word, and a word every document
    # has ("jeanne") went through the trigram index at 80 ms instead of 0.2 ms.
    folded = fold(word)
    pattern = bindparam(None, _like(folded), type_=Text(), literal_execute=True)
    found = InboxDocument.search_text.like(pattern, escape="\\")
    ids = search_index.containing(folded)  # SQLite's trigram index, for a rare word
    if ids is not None:
        found = and_(InboxDocument.id.in_(ids), found)
    birth = _date(word)  # "12/3/1961" too, which the stored "12/03/1961" does not contain
    return or_(found, InboxDocument.patient_birth_date == birth) if birth else found
