"""Every yearly deadline plugins declare (``medshake_renewals``), gathered for the keys page.

Apicrypt keys change on 1 January, and a v2 certificate ends on its own date: a practice that
watches one and forgets the other loses its mail all the same. The keys page and the daily
expiry job read this one list beside the keys, so every deadline is seen in one place.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from medshake_bridge.interfaces import Renewal

_LAST = date.max


def renewals(app: Any = None) -> list[Renewal]:
    """Every plugin's renewals, the most urgent first (broken, then due soon, then by date).

    A plugin that fails is recorded like any hook's failure and its items left out."""
    from medshake_bridge.extension import bridge_state

    state = bridge_state(app)
    found = [item for item in state.hooks.call_list("medshake_renewals", app=state.app)
             if isinstance(item, Renewal)]
    urgency = {False: 0, None: 1, True: 2}
    return sorted(found, key=lambda item: (urgency[item.ok], item.expires or _LAST, item.what))
