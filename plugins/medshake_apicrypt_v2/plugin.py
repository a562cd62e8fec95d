"""Hook implementations of the Apicrypt v2 plugin (the back-end lives in ``backend.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from medshake_apicrypt_v2.backend import build_backend, config_from_settings
from medshake_apicrypt_v2.checks import (
    certificate_checks,
    certificate_expiry_check,
    certificate_state,
    companion_status,
    site_checks,
)
from medshake_apicrypt_v2.settings import SETTINGS
from medshake_bridge.api import (
    Advice,
    BackendSpec,
    CheckResult,
    MenuItem,
    Renewal,
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


@hookimpl
def medshake_renewals(app: Flask) -> list[Renewal]:
    """Each v2 certificate in use, with the end date its companion reports, beside the keys:
    opening next year's ``.aes`` renews the keys, not the certificate."""
    from medshake_bridge.api import BridgeError, _, settings, users

    store = settings(app)
    found: list[Renewal] = []
    by_companion: dict[tuple[str, str], dict[str, list[str]]] = {}
    for user in sorted(users(), key=lambda user: user.login):
        values = store.for_user(user.id, skip_damaged=True)
        if str(values.get("apicryptVersion") or "1") != "2":
            continue
        try:
            config = config_from_settings(values)
        except BridgeError as exc:
            found.append(Renewal(_("Apicrypt v2 certificate of %(login)s", login=user.login),
                                 (user.login,), None, False, exc.message, exc.fix))
            continue
        place = by_companion.setdefault((config.companion_url, config.companion_token), {})
        place.setdefault(config.cert_name, []).append(user.login)
    for (url, token), certificates in sorted(by_companion.items()):
        status = companion_status(url, token, timeout=5.0)
        for name, logins in sorted(certificates.items()):
            found.append(_renewal(name, tuple(logins), status.health if status.up else None))
    return found


def _renewal(name: str, logins: tuple[str, ...], health: Any) -> Renewal:
    """One certificate's line: what the companion says of it, in the reader's language."""
    from medshake_bridge.api import _

    if not name:
        return Renewal(_("Apicrypt v2 certificate (no name)"), logins, None, False,
                       _("apicrypt2CertName is empty for these users."),
                       _("Set apicrypt2CertName to the certificate name given by APICEM."))
    what = _("Apicrypt v2 certificate %(name)s", name=name)
    if health is None:
        return Renewal(what, logins, None, None,
                       _("The Apicrypt v2 companion does not answer: its end date cannot be "
                         "read now."),
                       _("See the system information page (companion) and come back."))
    kind, expires = certificate_state(name, health)
    if kind == "unknown":
        return Renewal(what, logins, None, False,
                       _("The companion does not know this certificate."),
                       _("Install the certificate in the companion or correct "
                         "apicrypt2CertName."))
    renew = _("Ask APICEM for the renewed certificate, install it in the companion, then "
              "update apicrypt2CertName / apicrypt2CertPassword if they changed. Opening "
              "next year's .aes key does not renew the certificate.")
    if kind == "expired":
        return Renewal(what, logins, expires, False,
                       _("Expired: v2 mail of these users is neither decrypted nor sent."),
                       renew)
    if kind == "soon":
        return Renewal(what, logins, expires, None, _("Ends soon."), renew)
    return Renewal(what, logins, expires, True, _("Valid."))


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
