"""Hook implementations of the Apicrypt v1 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from flask import Flask

from medshake_apicrypt_v1.backend import build_backend
from medshake_bridge import hookimpl
from medshake_bridge.interfaces import BackendSpec, CheckResult


@hookimpl
def medshake_crypto_backends() -> list[BackendSpec]:
    """Users whose ``apicryptVersion`` is 1 use the four APICEM programs."""
    return [BackendSpec(key="1", label="Apicrypt v1 (programmes APICEM)",
                        factory=build_backend)]


@hookimpl
def medshake_system_checks(app: Flask) -> list[CheckResult]:
    """Programs, key folder and this year's key, for the site-wide (default-level) settings."""
    from medshake_bridge.backends import make_runner
    from medshake_bridge.extension import bridge_state

    state = bridge_state(app)
    settings = state.settings.values_for_user(None)
    if str(settings.get("apicryptVersion")) != "1":
        return []
    return build_backend(settings, make_runner(state, settings)).checks()
