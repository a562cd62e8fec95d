"""Read state per person: the owner's and each delegate's are kept apart.

A document counts as unread *for a person* until that person opens it. The owner's first
reading is also copied to ``InboxDocument.read_at`` (what older code and exports read). Every
opening is audited (``inbox.read``), whoever reads, because reading a patient's mail is an
access to health data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.reads import DocumentRead
from medshake_bridge.models.settings import utcnow

_UNREAD_MEMO = "_bridge_unread_"  # per request, in ``g``: the menu and the page both show it


def unread_memo_key(user_id: int) -> str:
    """Where this request keeps ``user_id``'s unread count (cleared when a document is read)."""
    return f"{_UNREAD_MEMO}{user_id}"


@dataclass(frozen=True)
class Reader:
    """Someone other than the person looking who opened a document ("vu par Sophie")."""

    user_id: int
    name: str
    first_read_at: datetime


def unread_by(user_id: int) -> Any:
    """SQL condition: the document has not been opened by ``user_id``."""
    return ~exists().where(DocumentRead.document_id == InboxDocument.id,
                           DocumentRead.user_id == user_id)


def unread_by_owner() -> Any:
    """SQL condition: the document has not been opened by its own owner (whoever else did)."""
    return ~exists().where(DocumentRead.document_id == InboxDocument.id,
                           DocumentRead.user_id == InboxDocument.owner_user_id)


def record_read(document: InboxDocument, user: User, *, via: str = "") -> None:
    """Remember that ``user`` opened ``document`` (idempotent) and audit the opening once;
    ``via`` names a channel other than the pages (``"api"``) in the audit row."""
    now = utcnow()
    row = db.session.scalars(select(DocumentRead).where(
        DocumentRead.document_id == document.id, DocumentRead.user_id == user.id)).first()
    if row is None:
        db.session.add(DocumentRead(document_id=document.id, user_id=user.id,
                                    first_read_at=now, last_read_at=now))
    else:
        row.last_read_at = now
    if user.id == document.owner_user_id and document.read_at is None:
        document.read_at = now
    try:
        db.session.commit()
    except IntegrityError:  # two tabs opened it at the same instant: one row is enough
        db.session.rollback()
    if has_request_context():
        for key in [key for key in g if key.startswith(_UNREAD_MEMO)]:
            g.pop(key)
    detail = ", ".join(part for part in (
        via, "" if user.id == document.owner_user_id else f"for user {document.owner_user_id}")
        if part)
    audit("inbox.read", target=f"document {document.id}", detail=detail, actor=user)


def read_ids(user_id: int, document_ids: list[int]) -> set[int]:
    """Which of ``document_ids`` ``user_id`` has opened (one query for a page of the list)."""
    if not document_ids:
        return set()
    return set(db.session.scalars(select(DocumentRead.document_id).where(
        DocumentRead.user_id == user_id, DocumentRead.document_id.in_(document_ids))))


def first_reads(user_id: int, document_ids: list[int]) -> dict[int, datetime]:
    """When ``user_id`` first opened each of ``document_ids`` it has opened (one query)."""
    if not document_ids:
        return {}
    return dict(db.session.execute(select(DocumentRead.document_id, DocumentRead.first_read_at)
                                   .where(DocumentRead.user_id == user_id,
                                          DocumentRead.document_id.in_(document_ids))).all())


def page_reads(user_id: int, document_ids: list[int]) -> tuple[set[int],
                                                                 dict[int, list[Reader]]]:
    """:func:`read_ids` and :func:`other_readers` of one page of the list in one statement
    (every reading of these documents, whoever read): one round trip fewer per page."""
    if not document_ids:
        return set(), {}
    rows = db.session.execute(
        select(DocumentRead.document_id, DocumentRead.user_id, DocumentRead.first_read_at,
               User.display_name, User.login)
        .join(User, User.id == DocumentRead.user_id)
        .where(DocumentRead.document_id.in_(document_ids))
        .order_by(DocumentRead.first_read_at))
    mine: set[int] = set()
    others: dict[int, list[Reader]] = {}
    for document_id, reader_id, when, display_name, login in rows:
        if reader_id == user_id:
            mine.add(document_id)
        else:
            others.setdefault(document_id, []).append(
                Reader(reader_id, display_name or login, when))
    return mine, others


def other_readers(document_ids: list[int], user_id: int) -> dict[int, list[Reader]]:
    """For each document, the people other than ``user_id`` who opened it, first reader
    first (the owner sees "vu par Sophie à 10:32"; a delegate sees the owner read it)."""
    if not document_ids:
        return {}
    rows = db.session.execute(
        select(DocumentRead.document_id, DocumentRead.user_id, DocumentRead.first_read_at,
               User.display_name, User.login)
        .join(User, User.id == DocumentRead.user_id)
        .where(DocumentRead.document_id.in_(document_ids), DocumentRead.user_id != user_id)
        .order_by(DocumentRead.first_read_at))
    found: dict[int, list[Reader]] = {}
    for document_id, reader_id, when, display_name, login in rows:
        found.setdefault(document_id, []).append(
            Reader(reader_id, display_name or login, when))
    return found


def owner_names(owner_ids: set[int] | list[int],
                known: User | None = None) -> dict[int, str]:
    """Display names of mailbox owners ("Pour : Dr Durand" on a delegate's lines).

    ``known``: a user already loaded (the person looking), whose name is not asked again: a
    practitioner's inbox shows only their own mail, so the list needs no statement for
    names at all (one round trip fewer per page, issue 18)."""
    found = {known.id: known.display_name or known.login} \
        if known is not None and known.id in owner_ids else {}
    wanted = [owner for owner in owner_ids if owner not in found]
    if wanted:
        found.update((user_id, display_name or login) for user_id, display_name, login in
                     db.session.execute(select(User.id, User.display_name, User.login)
                                        .where(User.id.in_(wanted))))
    return found
