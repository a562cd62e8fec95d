"""``medshake-bridge sandbox relay``: run the FAKE relay (see :mod:`.relay`) until Ctrl-C.

The command itself lives in :mod:`.relay_main`, which also runs it from a light process
(``python .../relay_main.py``, without the bridge's app): the same options either way.
"""

from __future__ import annotations

from medshake_bridge.sandbox.cli import sandbox
from medshake_bridge.sandbox.relay_main import USERS_FILE, relay_command

__all__ = ["USERS_FILE", "relay_command"]

sandbox.add_command(relay_command, "relay")
