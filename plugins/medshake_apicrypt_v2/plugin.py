"""Hook implementations of the Apicrypt v2 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from medshake_apicrypt_v2.backend import build_backend, config_from_settings
from medshake_apicrypt_v2.checks import (
    certificate_checks,
    certificate_expiry_check,
    companion_status,
    site_checks,
)
from medshake_apicrypt_v2.settings import SETTINGS
from medshake_bridge import hookimpl
from medshake_bridge.interfaces import BackendSpec, CheckResult, MenuItem
from medshake_bridge.settings import SettingSpec


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    """Certificate, companion (URL, token, timeout), spool, restart and ``.aes`` commands."""
    return list(SETTINGS)


@hookimpl
def medshake_crypto_backends() -> list[BackendSpec]:
    """Users whose ``apicryptVersion`` is 2 go through APICEM's companion service."""
    return [BackendSpec(key="2", label="Apicrypt v2 (service compagnon APICEM)",
                        factory=build_backend)]


@hookimpl
def medshake_system_checks(app: Flask) -> list[CheckResult]:
    """When anyone uses v2: the companion, spool and restart command once for the site, then
    each v2 user's certificate (settings, and expiry as the companion reports it)."""
    from medshake_bridge.extension import bridge_state

    store = bridge_state(app).settings
    site = store.values_for_user(None)
    users = [uid for uid in store.users_with_value("apicryptVersion")
             if str(store.get("apicryptVersion", user_id=uid)) == "2"]
    everyone = [site] if str(site.get("apicryptVersion")) == "2" else []
    everyone += [store.values_for_user(uid) for uid in users]
    if not everyone:
        return []
    results = site_checks(site)
    config = config_from_settings(site)
    status = companion_status(config.companion_url, config.companion_token,
                              timeout=min(config.timeout, 5.0))
    for settings in everyone:
        backend = build_backend(settings)
        name = backend.config.cert_name
        results.extend(_for_cert(check, name) for check in certificate_checks(backend))
        if name and status.health is not None:
            results.append(certificate_expiry_check(name, status.health))
    return results


def _for_cert(check: CheckResult, name: str) -> CheckResult:
    """Say whose certificate a line is about when several users use v2."""
    return CheckResult(name=f"{check.name} ({name or 'unnamed'})", ok=check.ok,
                       detail=check.detail, fix=check.fix, category=check.category)


@hookimpl
def medshake_blueprints(app: Flask) -> list[Any]:
    """The *Apicrypt 2 mailboxes* page and the companion's restart (admins)."""
    from medshake_apicrypt_v2.pages import apicrypt2_pages

    return [apicrypt2_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    """*Boîtes Apicrypt 2* for admins, once the site or a user uses v2."""
    from medshake_apicrypt_v2.pages import uses_v2
    from medshake_bridge.access import can_admin

    if not can_admin(user) or not uses_v2():
        return []
    return [MenuItem("Boîtes Apicrypt 2", "Apicrypt 2 mailboxes", "bridge_apicrypt2.mailboxes",
                     admin_only=True, order=91)]
