"""Dates as people in a French practice read them: local time, ``01/12/2026 10:32``.

The database keeps UTC (SQLite hands it back without a time zone); pages show the server's
local time, never an ISO string or "UTC".
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def to_local(value: datetime) -> datetime:
    """``value`` (UTC when naive) in the server's local time zone."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone()


def local_datetime(value: datetime | None, *, seconds: bool = False) -> str:
    """``01/12/2026 10:32`` in local time; empty for ``None``."""
    if value is None:
        return ""
    return to_local(value).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def local_date(value: date | datetime | None) -> str:
    """``01/12/2026`` (local day for a datetime); empty for ``None``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime("%d/%m/%Y")
