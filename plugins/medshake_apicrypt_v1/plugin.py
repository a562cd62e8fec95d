"""Hook implementations of the Apicrypt v1 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask

from medshake_apicrypt_v1.backend import build_backend
from medshake_bridge.api import BackendSpec, CheckResult, hookimpl


@hookimpl
def medshake_crypto_backends() -> list[BackendSpec]:
    """Users whose ``apicryptVersion`` is 1 use the four APICEM programs."""
    return [BackendSpec(key="1", label="Apicrypt v1 (programmes APICEM)",
                        factory=build_backend)]


@hookimpl
def medshake_system_checks(app: Flask) -> list[CheckResult]:
    """Programs, key folder and this year's key, working folders: for every collected v1 user
    (a line shared by several users is shown once, naming them), or for the site-wide settings
    when no v1 user is collected yet. Key folders are usually per user, so checking only the
    site's value would miss them (and flag an empty site-level user name that nobody uses)."""
    from medshake_bridge.api import program_runner, settings, users

    store = settings(app)
    scopes: list[tuple[str, dict]] = []
    for user in users():
        values = store.for_user(user.id)
        if (str(values.get("apicryptVersion")) == "1" and values.get("apicryptAdresse")
                and values.get("optionGeActiverInboxApicrypt")):
            scopes.append((user.login, values))
    if not scopes:
        site = store.for_user(None)
        if str(site.get("apicryptVersion")) != "1":
            return []
        return build_backend(site, program_runner(site, app)).checks()
    lines: dict[tuple[str, str, bool | None], tuple[CheckResult, list[str]]] = {}
    for login, values in scopes:
        for check in build_backend(values, program_runner(values, app)).checks():
            key = (check.name, check.detail, check.ok)
            lines.setdefault(key, (check, []))[1].append(login)
    return [replace(check, name=f"{check.name} ({', '.join(logins)})")
            for check, logins in lines.values()]
