"""Configuration snippets an admin must paste elsewhere: sudoers lines, systemd overrides.

Shown by the system information page and ``doctor`` only when they apply:

* the sudoers lines for the Apicrypt v1 programs when ``apicryptCommandPrefix`` runs them
  through ``sudo`` (from the back-end's own ``sudoers_lines``, so the paths are the configured
  ones), per distinct programs folder;
* whatever plugins offer through ``medshake_config_advice`` (the v2 plugin: the sudoers lines
  for the companion's restart command, the systemd ``PrivateTmp=false`` override).

The host never imports a plugin: a plugin's snippets come through the hook.
"""

from __future__ import annotations

import getpass
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from medshake_bridge.backends import backend_for
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import Advice
from medshake_bridge.models import User

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


def collect_advice(state: BridgeState, account: str | None = None) -> list[Advice]:
    """Every snippet that applies to this site now."""
    everyone = _everyone(state)
    account = account or default_account(everyone[0][1])
    offered = [item for item in state.call_list_hook("medshake_config_advice", app=state.app,
                                                     account=account)
               if isinstance(item, Advice)]
    return v1_sudoers(state, account, everyone) + offered
