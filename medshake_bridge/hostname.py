"""This process's host name, as task history, the job ledger and the workers list show it.

``MEDSHAKE_BRIDGE_HOST`` names the host when the system's name says little (containers, or
several "hosts" on one machine in tests); otherwise the system's host name.
"""

from __future__ import annotations

import os
import socket

from flask import current_app, has_app_context

HOST_CONFIG = "MEDSHAKE_BRIDGE_HOST"
MAX_LENGTH = 255


def host_name() -> str:
    """The configured host name, else the environment's, else the system's."""
    configured = ""
    if has_app_context():
        configured = str(current_app.config.get(HOST_CONFIG) or "").strip()
    configured = configured or os.environ.get(HOST_CONFIG, "").strip()
    return (configured or socket.gethostname() or "localhost")[:MAX_LENGTH]
