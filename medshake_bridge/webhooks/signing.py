"""The signature a receiver checks: ``sha256=`` + HMAC-SHA256(secret, ``timestamp.body``).

The timestamp (seconds since 1970, header ``X-Medshake-Timestamp``) is inside the signed text,
so a captured delivery cannot be replayed later with a new date; receivers refuse timestamps
older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Medshake-Signature"
TIMESTAMP_HEADER = "X-Medshake-Timestamp"
EVENT_HEADER = "X-Medshake-Event"
EVENT_ID_HEADER = "X-Medshake-Event-Id"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does (also used by the tests and documented in ``docs/api.md``)."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
