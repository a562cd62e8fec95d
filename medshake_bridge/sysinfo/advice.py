"""Configuration snippets an admin must paste elsewhere: sudoers lines, systemd overrides.

Shown by the system information page and ``doctor`` only when they apply:

* the sudoers lines for the Apicrypt v1 programs when ``apicryptCommandPrefix`` runs them
  through ``sudo`` (from the back-end's own ``sudoers_lines``, so the paths are the configured
  ones), per distinct programs folder;
* the sudoers lines for the Apicrypt v2 companion's restart command when it uses ``sudo``;
* the systemd ``PrivateTmp=false`` override when the web process has a private ``/tmp`` or the
  v2 spool is under ``/tmp``.

The v2 parts import the v2 plugin lazily and only when it is loaded: the host does not need it.
"""

from __future__ import annotations

import getpass
import importlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from medshake_bridge.backends import backend_for
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import BridgeState
from medshake_bridge.models import User

TMP_FOLDERS = (Path("/tmp"), Path("/var/tmp"))  # noqa: S108 - detected, never used
PRIVATE_TMP_SNIPPET = [
    "# systemctl edit <the bridge's unit, e.g. medshake-bridge.service or apache2.service>",
    "[Service]",
    "PrivateTmp=false",
]


@dataclass(frozen=True)
class Advice:
    """A titled block of lines to paste, with why it applies."""

    title: str
    why: str
    lines: tuple[str, ...]


SUDOERS_FILE = "/etc/sudoers.d/medshake-apicrypt"  # one file for v1 and v2 rules


def default_account(settings: Mapping[str, Any] | None = None) -> str:
    """The account the sudoers lines name: ``apicryptSudoAccount`` when set (the web server's
    account in the setup guide, ``www-data``), else the one running this process."""
    configured = str((settings or {}).get("apicryptSudoAccount") or "").strip()
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "www-data"


def _uses_sudo(command: str) -> bool:
    try:
        words = shlex.split(command or "")
    except ValueError:
        return False
    return any(Path(word).name == "sudo" for word in words)


def _everyone(state: BridgeState) -> list[tuple[str, dict[str, Any]]]:
    """The site's settings and each active user's (labelled)."""
    store = state.settings
    people = [("site", store.values_for_user(None, skip_damaged=True))]
    for user in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        people.append((user.login, store.values_for_user(user.id, skip_damaged=True)))
    return people


def v1_sudoers(state: BridgeState, account: str,
               everyone: list[tuple[str, dict[str, Any]]]) -> list[Advice]:
    """Lines for each distinct (programs folder, prefix) of v1 users whose prefix uses sudo.

    The collected users (those with an address) are the ones whose programs run; the site's
    own values count only while nobody is collected, as in the v1 plugin's checks.
    """
    seen: dict[tuple[str, str], list[str]] = {}
    values: dict[tuple[str, str], Mapping[str, Any]] = {}
    collected = [(who, s) for who, s in everyone[1:] if s.get("apicryptAdresse")]
    for who, settings in collected or everyone[:1]:
        prefix = str(settings.get("apicryptCommandPrefix") or "")
        binaries = str(settings.get("apicryptCheminVersBinaires") or "").strip()
        if (str(settings.get("apicryptVersion") or "1") != "1" or not _uses_sudo(prefix)
                or not binaries):
            continue
        key = (binaries, prefix)
        seen.setdefault(key, []).append(who)
        values.setdefault(key, settings)
    advice = []
    for key, whos in seen.items():
        try:
            backend = backend_for(state, values[key])
        except BridgeError:
            continue
        lines = getattr(backend, "sudoers_lines", None)
        if not callable(lines):
            continue
        advice.append(Advice(
            "Sudoers lines for the Apicrypt v1 programs",
            f"apicryptCommandPrefix is '{key[1]}' ({', '.join(whos)}): add these lines with "
            f"'visudo -f {SUDOERS_FILE}'",
            tuple(lines(account))))
    return advice


def _under_tmp(folder: Path) -> bool:
    resolved = folder.resolve()
    return any(resolved == tmp or tmp in resolved.parents for tmp in TMP_FOLDERS)


def _v2_module(state: BridgeState, name: str) -> Any:
    record = state.plugins.get("apicrypt_v2")
    if record is None or record.status != "loaded":
        return None
    try:
        return importlib.import_module(f"medshake_apicrypt_v2.{name}")
    except ImportError:
        return None


def v2_advice(state: BridgeState, account: str,
              everyone: list[tuple[str, dict[str, Any]]]) -> list[Advice]:
    """Restart sudoers lines and the PrivateTmp override, when someone uses v2."""
    if not any(str(s.get("apicryptVersion") or "1") == "2" for _who, s in everyone):
        return []
    service, checks = _v2_module(state, "service"), _v2_module(state, "checks")
    if service is None or checks is None:
        return []
    site = everyone[0][1]
    advice = []
    command = str(site.get("apicrypt2RestartCommand") or "")
    if _uses_sudo(command):
        try:
            lines = service.sudoers_lines(account, site)
        except BridgeError:
            lines = []
        if lines:
            advice.append(Advice(
                "Sudoers lines for restarting the Apicrypt v2 companion",
                f"apicrypt2RestartCommand is '{command}': add these lines with "
                f"'visudo -f {SUDOERS_FILE}'", tuple(lines)))
    private = checks.private_tmp_status()
    spools = {str(s.get("apicrypt2Spool") or "") for _who, s in everyone
              if str(s.get("apicryptVersion") or "1") == "2"}
    in_tmp = sorted(p for p in spools if p and _under_tmp(Path(p)))
    if private.private or in_tmp:
        why = (f"this process has a private /tmp ({private.detail})" if private.private
               else f"the Apicrypt v2 spool is under /tmp ({', '.join(in_tmp)})")
        advice.append(Advice(
            "systemd: share /tmp with the Apicrypt v2 companion",
            why + ": the companion exchanges files by path, so move apicrypt2Spool out of "
            "/tmp (best) or turn PrivateTmp off for the bridge's unit",
            tuple(PRIVATE_TMP_SNIPPET)))
    return advice


def collect_advice(state: BridgeState, account: str | None = None) -> list[Advice]:
    """Every snippet that applies to this site now."""
    everyone = _everyone(state)
    account = account or default_account(everyone[0][1])
    return v1_sudoers(state, account, everyone) + v2_advice(state, account, everyone)
