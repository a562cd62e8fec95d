"""Today's date for the key checks, movable in tests and demos.

"The current year's key" and "from 1 December" depend on the date, so tests must be able to
choose it: the app config ``MEDSHAKE_BRIDGE_TODAY`` (an ISO date or a ``date``) overrides the
system clock for this plugin only.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, has_app_context

TODAY_CONFIG = "MEDSHAKE_BRIDGE_TODAY"


def today() -> date:
    """The configured date when the app sets one, else the system's."""
    if has_app_context():
        value = current_app.config.get(TODAY_CONFIG)
        if isinstance(value, date):
            return value
        if value:
            return date.fromisoformat(str(value))
    return date.today()
