"""The bridge's clock: one place that says what time it is, so tests can fix it.

Dates end up in paths and checks (the archive's ``YYYY/MM/DD`` folders, "expires within 30
days"), so a test comparing them with its own ``datetime.now()`` fails when midnight (UTC), a
month end or New Year falls between the two readings, or on some days of the year only.

* :func:`utcnow` is the moment; a test fixes it in-process with :func:`frozen`.
* :func:`today` is the date; the app setting ``MEDSHAKE_BRIDGE_TODAY`` (an ISO date, or a
  ``date``) moves it for a whole app, as the keys plugin has always allowed (demos, tests of
  "from 1 December"), else it is :func:`utcnow`'s date.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from medshake_bridge.errors import ConfigurationError

TODAY_CONFIG = "MEDSHAKE_BRIDGE_TODAY"
_frozen: list[datetime] = []


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (a frozen moment while a test fixes one)."""
    if _frozen:
        return _frozen[-1]
    return datetime.now(UTC)


def today() -> date:
    """Today's date (UTC): ``MEDSHAKE_BRIDGE_TODAY`` of the current app when set."""
    from flask import current_app, has_app_context

    if has_app_context():
        value = current_app.config.get(TODAY_CONFIG)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if value:
            try:
                return date.fromisoformat(str(value))
            except ValueError as exc:
                raise ConfigurationError(
                    f"{TODAY_CONFIG}={value!r} is not an ISO date",
                    fix=f"write it like 2030-12-31, or remove {TODAY_CONFIG}") from exc
    return utcnow().date()


@contextmanager
def frozen(moment: datetime) -> Iterator[datetime]:
    """Within the block, :func:`utcnow` answers ``moment`` (naive means UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    _frozen.append(moment)
    try:
        yield moment
    finally:
        _frozen.remove(moment)
