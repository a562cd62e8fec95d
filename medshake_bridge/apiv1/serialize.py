"""Rows as API models, and opaque cursors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import url_for

from medshake_bridge.apiv1 import schemas
from medshake_bridge.db import db
from medshake_bridge.inbox import readstate, service
from medshake_bridge.models import InboxDocument, SentMessage, User


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive UTC datetimes; RFC 3339 wants an offset."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_MICROS = (dt.datetime(9999, 12, 31, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
CURSOR_PATTERN = r"^[0-9]{1,20}-[0-9]{1,18}$"


def encode_cursor(created_at: dt.datetime, last_id: int) -> str:
    """The cursor after the row (``created_at``, ``last_id``): lists go newest first by
    (creation time, id), the order the listing index serves without sorting."""
    micros = (aware(created_at) - EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}-{last_id}"


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """(creation time, id) to continue below; the query model checked the pattern."""
    if not cursor:
        return None
    micros, _sep, last_id = cursor.partition("-")
    when = EPOCH + dt.timedelta(microseconds=min(int(micros), MAX_MICROS))
    return when, min(int(last_id), 2**62)


def after_cursor(created_column: Any, id_column: Any, cursor: tuple[dt.datetime, int]) -> Any:
    """Rows that come after ``cursor`` in (created desc, id desc) order."""
    from sqlalchemy import and_, or_

    when, last_id = cursor
    return or_(created_column < when, and_(created_column == when, id_column < last_id))


class People:
    """Users by id, loaded once per response."""

    def __init__(self) -> None:
        self.cache: dict[int, User | None] = {}

    def get(self, user_id: int | None) -> schemas.Person | None:
        if user_id is None:
            return None
        if user_id not in self.cache:
            self.cache[user_id] = db.session.get(User, user_id)
        user = self.cache[user_id]
        if user is None:
            return schemas.Person(id=user_id, login="", display_name="")
        return schemas.Person(id=user.id, login=user.login,
                              display_name=user.display_name or user.login)


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


class Reads:
    """The read state of a page of documents as the caller sees it, in two queries: when the
    caller opened each, and who else did (the pages' rule, from
    :mod:`medshake_bridge.inbox.readstate`)."""

    def __init__(self, caller: User, document_ids: list[int]) -> None:
        self.mine = readstate.first_reads(caller.id, document_ids)
        self.others = readstate.other_readers(document_ids, caller.id)

    def read_at(self, document_id: int) -> dt.datetime | None:
        return aware(self.mine.get(document_id))

    def seen_by(self, document_id: int, people: People) -> list[schemas.Reader]:
        return [schemas.Reader(person=people.get(reader.user_id),
                               first_read_at=aware(reader.first_read_at))
                for reader in self.others.get(document_id, [])]


def inbox_item(document: InboxDocument, caller: User, people: People,
               reads: Reads | None = None) -> dict[str, Any]:
    """One line of the inbox; pass ``reads`` built once for a whole page."""
    reads = reads or Reads(caller, [document.id])
    header = service.header(document)
    message = document.message
    filed = None
    if document.filed_patient_ref:
        filed = schemas.Filing(patient=document.filed_patient_ref,
                               name=document.filed_patient_name, url=document.filed_url,
                               at=aware(document.filed_at))
    patient = None
    if document.has_header or document.patient_last_name:
        patient = schemas.PatientIdentity(last_name=document.patient_last_name,
                                          first_name=document.patient_first_name,
                                          birth_date=document.patient_birth_date)
    return dict(
        id=document.id, state=document.state, owner=people.get(document.owner_user_id),
        delegated=document.owner_user_id != caller.id, received_at=aware(document.created_at),
        read=reads.read_at(document.id) is not None, read_at=reads.read_at(document.id),
        seen_by=reads.seen_by(document.id, people), patient=patient,
        exam_date=_date(header.get("exam_date")),
        sender=document.sender_name or (message.from_address if message else ""),
        subject=message.subject if message else "", abnormal=bool(document.abnormal),
        unencrypted=bool(message.unencrypted) if message else False,
        external_sender=bool(message.external_sender) if message else False,
        signature_invalid=bool(message.signature_invalid) if message else False,
        attachment_count=len(json.loads(message.attachments_json or "[]")) if message else 0,
        filed=filed,
        links={"self": url_for("bridge_api.document", document_id=document.id)},
    )


def lab_result(item: dict[str, Any]) -> schemas.LabResult:
    from medshake_bridge.hprim.lab import parse_number

    value = str(item.get("value", ""))
    return schemas.LabResult(
        code=str(item.get("code", "")), label=str(item.get("label", "")),
        kind=str(item.get("kind", "")), value=value, numeric_value=parse_number(value),
        unit=str(item.get("unit", "")), normal_low=str(item.get("normal_low", "")),
        normal_high=str(item.get("normal_high", "")), flag=str(item.get("flag", "")),
        abnormal=bool(item.get("abnormal")), status=str(item.get("status", "")))


def document_detail(document: InboxDocument, caller: User, people: People) -> schemas.Document:
    header = service.header(document)
    hprim = None
    if header:
        known = schemas.HprimHeader.model_fields
        hprim = schemas.HprimHeader.model_validate(
            {key: value for key, value in header.items() if key in known and value is not None})
    attachments = [schemas.AttachmentInfo(
        index=item.index, name=item.name, size=item.size, content_type=item.content_type,
        signature=item.signature,
        link=url_for("bridge_api.document_attachment", document_id=document.id,
                     index=item.index)) for item in service.attachments(document)]
    return schemas.Document(
        **inbox_item(document, caller, people), header=hprim,
        results=[lab_result(item) for item in service.results(document)],
        body=document.body, signature=document.message.signature_status or "",
        attachments=attachments)


def sent_item(row: SentMessage, people: People, *, replayed: bool = False) -> schemas.SentItem:
    return schemas.SentItem(
        id=row.id, state=row.state, sender=people.get(row.user_id),
        acted_by=people.get(row.acted_by_user_id),
        recipients=row.recipient_list, patient=row.patient_id, patient_label=row.patient_label,
        subject=row.subject, attachments=row.attachment_names,
        message_id=row.message_id_header, created_at=aware(row.created_at),
        sent_at=aware(row.sent_at), error=row.error, replayed=replayed)
