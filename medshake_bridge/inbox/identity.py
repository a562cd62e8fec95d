"""Rebuilding the parsed HPRIM identity of a stored document (for patient matching)."""

from __future__ import annotations

import json

from medshake_bridge.hprim import HprimHeader
from medshake_bridge.hprim.header import header_from_stored
from medshake_bridge.models.mail import InboxDocument


def header_from_document(document: InboxDocument) -> HprimHeader | None:
    if not document.has_header:
        return None
    return header_from_stored(json.loads(document.header_json or "{}"))
