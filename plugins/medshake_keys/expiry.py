"""The expiry watch: whose yearly key is missing now, and (from 1 December) for next year.

Apicrypt keys change every 1 January; a practice that forgets finds out when mail stops. The
same list feeds the keys page, the system checks (system information page, ``doctor``) and the
daily ``keys-expiry-check`` job, so all three always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask

from medshake_bridge.api import (
    BridgeUser,
    CheckResult,
    Settings,
    _,
    audit,
    renewals,
    settings,
    users,
)
from medshake_keys.clock import today as clock_today
from medshake_keys.folder import CLEFS
from medshake_keys.names import AES_SUFFIX, USER_PART, key_file_name

CATEGORY = "keys"
WATCH_FROM_MONTH = 12  # next year's key is watched from 1 December


@dataclass(frozen=True)
class KeyWatch:
    """One Apicrypt user in one key folder, and the bridge users who rely on it."""

    apicrypt_user: str
    keys_dir: Path | None
    user_ids: tuple[int, ...]
    logins: tuple[str, ...]


@dataclass(frozen=True)
class ExpiryWarning:
    """A missing key: ``when`` is ``current`` (mail is broken) or ``next`` (it will be)."""

    watch: KeyWatch
    year: int
    when: str
    aes_waiting: bool
    message: str
    fix: str

    @property
    def file_name(self) -> str:
        return key_file_name(self.watch.apicrypt_user, self.year)


def watched_keys(state: Settings) -> list[KeyWatch]:
    """Every (Apicrypt user, key folder) that an active bridge user's settings point at."""
    import re

    pattern = re.compile(USER_PART + r"\Z")
    groups: dict[tuple[str, str], list[BridgeUser]] = {}
    for user in sorted(users(), key=lambda user: user.login):
        values = state.for_user(user.id)
        name = str(values.get("apicryptUtilisateur") or "").strip()
        if not name or not pattern.match(name):
            continue
        folder = str(values.get("apicryptCheminVersClefs") or "").strip()
        groups.setdefault((name, folder), []).append(user)
    return [KeyWatch(name, Path(folder) if folder else None,
                     tuple(u.id for u in members), tuple(u.login for u in members))
            for (name, folder), members in sorted(groups.items())]


def _present(clefs: Path | None, file_name: str) -> bool:
    return clefs is not None and (clefs / file_name).is_file()


def expiry_warnings(state: Settings, today: date) -> list[ExpiryWarning]:
    """Missing current-year keys, and from 1 December missing next-year keys."""
    warnings = []
    for watch in watched_keys(state):
        clefs = watch.keys_dir / CLEFS if watch.keys_dir is not None else None
        where = str(clefs) if clefs is not None else _("(no key folder configured)")
        years = [(today.year, "current")]
        if today.month >= WATCH_FROM_MONTH:
            years.append((today.year + 1, "next"))
        for year, when in years:
            name = key_file_name(watch.apicrypt_user, year)
            if _present(clefs, name):
                continue
            aes = _present(clefs, name + AES_SUFFIX)
            if when == "current":
                message = _("The %(year)s key of %(user)s (%(file)s) is missing in %(where)s: "
                            "this user's Apicrypt mail can be neither encrypted nor decrypted.",
                            year=year, user=watch.apicrypt_user, file=name, where=where)
            else:
                message = _("The %(year)s key of %(user)s (%(file)s) is not installed yet in "
                            "%(where)s: it is needed from 1 January.",
                            year=year, user=watch.apicrypt_user, file=name, where=where)
            if aes:
                fix = _("%(file)s.aes is in the folder: open it with the long code on the "
                        "Apicrypt keys page.", file=name)
            else:
                fix = _("Import %(file)s (sent by APICEM) on the Apicrypt keys page.", file=name)
            warnings.append(ExpiryWarning(watch, year, when, aes, message, fix))
    return warnings


def expiry_checks(state: Settings, today: date) -> list[CheckResult]:
    """System-check lines: one per missing key, or one line saying all keys are there."""
    watches = watched_keys(state)
    if not watches:
        return []
    warnings = expiry_warnings(state, today)
    if not warnings:
        return [CheckResult(
            name=_("Apicrypt yearly keys"), ok=True,
            detail=_("%(count)s user key(s) present for %(year)s.", count=len(watches),
                     year=today.year),
            category=CATEGORY)]
    return [CheckResult(
        name=_("Apicrypt key %(file)s", file=warning.file_name),
        ok=False if warning.when == "current" else None,
        detail=warning.message, fix=warning.fix, category=CATEGORY) for warning in warnings]


def run_expiry_check(app: Flask) -> dict[str, Any]:
    """The ``keys-expiry-check`` job: record each missing key, and each certificate or other
    deadline due soon (``medshake_renewals``), in the audit log; return counts."""
    with app.app_context():
        state = settings(app)
        day = clock_today()
        watches = watched_keys(state)
        warnings = expiry_warnings(state, day)
        for warning in warnings:
            audit("keys.expiry_warning", target=warning.file_name, outcome="failed",
                  detail=warning.message, actor_login="scheduler")
        due = [item for item in renewals(app) if item.ok is not True]
        for item in due:
            until = f" ({item.expires.isoformat()})" if item.expires else ""
            audit("keys.renewal_warning", target=item.what + until, outcome="failed",
                  detail=f"{item.detail} {item.fix}".strip(), actor_login="scheduler")
        return {
            "date": day.isoformat(),
            "users_checked": len(watches),
            "missing_current": sum(1 for w in warnings if w.when == "current"),
            "missing_next": sum(1 for w in warnings if w.when == "next"),
            "renewals_due": len(due),
        }
