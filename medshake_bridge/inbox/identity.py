"""Rebuilding the parsed HPRIM identity of a stored document (for patient matching)."""

from __future__ import annotations

import datetime as dt
import json

from medshake_bridge.hprim import HprimHeader, parse_nir
from medshake_bridge.models.mail import InboxDocument


def header_from_document(document: InboxDocument) -> HprimHeader | None:
    if not document.has_header:
        return None
    data = json.loads(document.header_json or "{}")

    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return HprimHeader(
        patient_code=data.get("patient_code", ""), last_name=data.get("last_name", ""),
        first_name=data.get("first_name", ""), address_line1=data.get("address_line1", ""),
        address_line2=data.get("address_line2", ""), postcode=data.get("postcode", ""),
        city=data.get("city", ""), birth_date=day(data.get("birth_date")),
        birth_date_raw=data.get("birth_date_raw", ""),
        nir=parse_nir(data.get("nir", "")) if data.get("nir") else None,
        nir_raw=data.get("nir_raw", ""), file_number=data.get("file_number", ""),
        exam_date=day(data.get("exam_date")), exam_date_raw=data.get("exam_date_raw", ""),
        sender_code=data.get("sender_code", ""), sender_name=data.get("sender_name", ""),
        recipient_code=data.get("recipient_code", ""),
        recipient_name=data.get("recipient_name", ""),
    )
