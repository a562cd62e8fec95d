"""Inbox document rows from parsed HPRIM documents (one row per document and per owner)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from medshake_bridge.hprim import HprimDocument, HprimHeader
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage
from medshake_bridge.search_text import search_text


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _jsonable(item) for key, item in dataclasses.asdict(value).items()}
    return value


def header_json(header: HprimHeader | None) -> str:
    if header is None:
        return "{}"
    data = _jsonable(header)
    data["nir"] = f"{header.nir.number} {header.nir.key}".strip() if header.nir else ""
    data["sex"] = header.sex or ""
    return json.dumps(data, ensure_ascii=False)


def results_json(document: HprimDocument) -> str:
    return json.dumps(
        [{**_jsonable(result), "abnormal": result.abnormal} for result in document.results],
        ensure_ascii=False,
    )


def build_documents(message: ReceivedMessage, documents: list[HprimDocument],
                    owners: list[int]) -> list[InboxDocument]:
    rows = []
    for owner in owners:
        for position, document in enumerate(documents):
            header = document.header
            rows.append(InboxDocument(
                message_id=message.id,
                owner_user_id=owner,
                position=position,
                has_header=header is not None,
                patient_last_name=(header.last_name if header else "")[:200],
                patient_first_name=(header.first_name if header else "")[:200],
                patient_birth_date=header.birth_date if header else None,
                sender_name=(header.sender_name if header else "")[:255],
                exam_date=(header.exam_date if header and header.exam_date else
                           dt.date.today()),
                header_json=header_json(header),
                results_json=results_json(document),
                abnormal=document.has_abnormal_results,
                body=document.body if header is not None else document.text,
                search_text=search_text(
                    last_name=header.last_name if header else "",
                    first_name=header.first_name if header else "",
                    birth_date=header.birth_date if header else None,
                    sender_name=header.sender_name if header else "",
                    subject=message.subject or "", from_address=message.from_address or ""),
            ))
    return rows
