"""Hook implementations of the Apicrypt v2 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from pathlib import Path
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
from medshake_bridge.api import (
    Advice,
    BackendSpec,
    CheckResult,
    MenuItem,
    SettingSpec,
    hookimpl,
)


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
    from medshake_bridge.api import settings

    store = settings(app)
    site = store.for_user(None)
    users = [uid for uid in store.users_with("apicryptVersion")
             if str(store.get("apicryptVersion", user_id=uid)) == "2"]
    everyone = [site] if str(site.get("apicryptVersion")) == "2" else []
    everyone += [store.for_user(uid) for uid in users]
    if not everyone:
        return []
    results = site_checks(site)
    config = config_from_settings(site)
    status = companion_status(config.companion_url, config.companion_token,
                              timeout=min(config.timeout, 5.0))
    for values in everyone:
        backend = build_backend(values)
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
    from medshake_bridge.api import is_admin

    if not is_admin(user) or not uses_v2():
        return []
    return [MenuItem("Boîtes Apicrypt 2", "Apicrypt 2 mailboxes", "bridge_apicrypt2.mailboxes",
                     admin_only=True, order=91)]


SUDOERS_FILE = "/etc/sudoers.d/medshake-apicrypt"  # the host's v1 lines go in the same file
PRIVATE_TMP_SNIPPET = (
    "# systemctl edit <the bridge's unit, e.g. medshake-bridge.service or apache2.service>",
    "[Service]",
    "PrivateTmp=false",
)


@hookimpl
def medshake_config_advice(app: Flask, account: str) -> list[Advice]:
    """When someone uses v2: the sudoers lines of the companion's restart command (when it
    runs through sudo) and the systemd override when /tmp is private or the spool is in it."""
    from medshake_apicrypt_v2.checks import _under_tmp, private_tmp_status
    from medshake_apicrypt_v2.service import sudoers_lines
    from medshake_bridge.api import BridgeError, settings, users

    store = settings(app)
    site = store.for_user(None, skip_damaged=True)
    everyone = [site] + [store.for_user(user.id, skip_damaged=True) for user in users()]
    if not any(str(values.get("apicryptVersion") or "1") == "2" for values in everyone):
        return []
    advice = []
    command = str(site.get("apicrypt2RestartCommand") or "")
    if _uses_sudo(command):
        try:
            lines = sudoers_lines(account, site)
        except BridgeError:
            lines = []
        if lines:
            advice.append(Advice(
                "Sudoers lines for restarting the Apicrypt v2 companion",
                f"apicrypt2RestartCommand is '{command}': add these lines with "
                f"'visudo -f {SUDOERS_FILE}'", tuple(lines)))
    private = private_tmp_status()
    spools = {str(values.get("apicrypt2Spool") or "") for values in everyone
              if str(values.get("apicryptVersion") or "1") == "2"}
    in_tmp = sorted(path for path in spools if path and _under_tmp(Path(path)) is not None)
    if private.private or in_tmp:
        why = (f"this process has a private /tmp ({private.detail})" if private.private
               else f"the Apicrypt v2 spool is under /tmp ({', '.join(in_tmp)})")
        advice.append(Advice(
            "systemd: share /tmp with the Apicrypt v2 companion",
            why + ": the companion exchanges files by path, so move apicrypt2Spool out of "
            "/tmp (best) or turn PrivateTmp off for the bridge's unit",
            PRIVATE_TMP_SNIPPET))
    return advice


def _uses_sudo(command: str) -> bool:
    import shlex

    try:
        words = shlex.split(command or "")
    except ValueError:
        return False
    return any(Path(word).name == "sudo" for word in words)
