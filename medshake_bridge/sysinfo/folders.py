"""Folders and private files: do they exist, can the bridge write there, are they private?

Received mail, archives, working copies and the spool hold clinical data; the instance folder
holds the database (SQLite), the session key and the secrets key. The checks say which path,
who uses it (the site, or the users whose settings override it), and the exact command to fix
it. A data folder that does not exist yet is fine when the bridge can create it (the pipeline
creates it 0700 on first use); one that cannot be created is broken.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from medshake_bridge.config import bridge_home
from medshake_bridge.db import db
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.models import User

FOLDERS = "folders"
SECURITY = "security"

#: Data folders the host and the back-ends write to: setting -> label.
DATA_FOLDERS: dict[str, str] = {
    "apicryptCheminInbox": "Inbox folder",
    "apicryptCheminArchivesInbox": "Archive folder",
    "apicryptCheminFichierNC": "Working folder (clear)",
    "apicryptCheminFichierC": "Working folder (encrypted)",
    "apicrypt2Spool": "Apicrypt v2 spool folder",
}
#: Folders someone else fills, which must exist: setting -> label.
INPUT_FOLDERS: dict[str, str] = {
    "apicryptMaildir": "Maildir folder",
}


@dataclass
class FolderUse:
    """One path and who uses it (``site`` for the default-level value, else user logins)."""

    setting: str
    path: str
    users: list[str] = field(default_factory=list)

    @property
    def who(self) -> str:
        return ", ".join(self.users)


def _nearest_existing(path: Path) -> Path:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


# Where clear text exists for a moment (see medshake_bridge/workfolders.py).
WORK_FOLDERS = ("apicryptCheminFichierNC", "apicryptCheminFichierC")


def data_folder_check(label: str, setting: str, path: str, who: str = "") -> CheckResult:
    """A folder the bridge writes to: exists (or can be created), writable, private."""
    name = f"{label} ({who})" if who else label
    if not str(path).strip():
        return CheckResult(name, False, f"{setting} is empty",
                           f"Set {setting} to a private folder outside any web-served folder.",
                           FOLDERS)
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        return CheckResult(name, False, f"{folder} exists but is not a folder",
                           f"Remove or rename {folder}, or change {setting}.", FOLDERS)
    if not folder.exists():
        parent = _nearest_existing(folder)
        if not parent.is_dir():
            return CheckResult(name, False,
                               f"{folder} does not exist and cannot be created: {parent} is "
                               "not a folder", f"Change {setting} to a folder path.", FOLDERS)
        if not os.access(parent, os.W_OK | os.X_OK):
            return CheckResult(name, False,
                               f"{folder} does not exist and cannot be created ({parent} is "
                               "not writable)",
                               f"Run 'install -d -m 700 {folder}' as the bridge's account's "
                               f"owner, or change {setting}.", FOLDERS)
        return CheckResult(name, True, f"{folder} will be created (mode 0700) in {parent}", "",
                           FOLDERS)
    if not os.access(folder, os.W_OK | os.X_OK):
        return CheckResult(name, False, f"{folder} is not writable by the bridge",
                           f"Give {folder} to the bridge's account ('chown' it) or change "
                           f"{setting}.", FOLDERS)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & stat.S_IWOTH and setting in WORK_FOLDERS:
        return CheckResult(name, False, f"{folder} may be written by every account (mode "
                           f"{mode:04o}): the bridge refuses to put clear text there",
                           f"Create a folder of the bridge's own ('install -d -m 700 "
                           f"/var/lib/medshake-bridge/work') and set {setting} to it; the bridge "
                           "never changes the permissions of an existing folder.", FOLDERS)
    if mode & 0o077:
        return CheckResult(name, None, f"{folder} is writable but open to other accounts "
                           f"(mode {mode:04o})", f"Run 'chmod 700 {folder}'.", FOLDERS)
    return CheckResult(name, True, f"{folder} exists, writable, private (mode {mode:04o})", "",
                       FOLDERS)


def input_folder_check(label: str, setting: str, path: str, who: str = "") -> CheckResult:
    """A folder another program fills (a Maildir): it must exist and be readable."""
    name = f"{label} ({who})" if who else label
    folder = Path(path)
    if not str(path).strip() or not folder.is_dir():
        return CheckResult(name, False, f"{folder} does not exist" if str(path).strip()
                           else f"{setting} is empty",
                           f"Create it (the program that delivers the mail does) or correct "
                           f"{setting}.", FOLDERS)
    missing = [sub for sub in ("cur", "new", "tmp") if not (folder / sub).is_dir()]
    if setting == "apicryptMaildir" and missing:
        return CheckResult(name, False, f"{folder} has no {', '.join(missing)}/ sub-folder",
                           f"Point {setting} at the Maildir itself (the folder holding cur/, "
                           "new/ and tmp/).", FOLDERS)
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return CheckResult(name, False, f"{folder} is not readable and writable by the bridge",
                           f"Give the bridge's account access to {folder}.", FOLDERS)
    return CheckResult(name, True, f"{folder} exists and is usable", "", FOLDERS)


def folder_uses(state: BridgeState, settings_names: Iterable[str]) -> list[FolderUse]:
    """Each distinct path of each setting: the site's value, then users' values that differ.

    Only active users count; a setting a plugin does not declare (plugin disabled) is skipped.
    """
    names = [name for name in settings_names if name in state.registry]
    store = state.settings
    site = store.values_for_user(None, skip_damaged=True)
    version_site = str(site.get("apicryptVersion") or "1")
    uses: dict[tuple[str, str], FolderUse] = {}
    for name in names:
        if not _applies(name, site, version_site):
            continue
        value = str(site.get(name) or "")
        uses[(name, value)] = FolderUse(name, value, ["site"])
    for user in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        values = store.values_for_user(user.id, skip_damaged=True)
        for name in names:
            if not _applies(name, values, str(values.get("apicryptVersion") or "1")):
                continue
            value = str(values.get(name) or "")
            use = uses.get((name, value))
            if use is None:
                uses[(name, value)] = FolderUse(name, value, [user.login])
            elif use.users != ["site"]:
                use.users.append(user.login)
    return list(uses.values())


def _applies(name: str, values: Mapping[str, Any], version: str) -> bool:
    """The spool matters to v2 users, a Maildir to users collected from one; a user's Maildir
    matters only when the user is collected (has an address)."""
    if name == "apicrypt2Spool":
        return version == "2"
    if name == "apicryptMaildir":
        return values.get("apicryptCollector") == "maildir" and bool(
            values.get("apicryptAdresse"))
    return True


def folder_checks(state: BridgeState) -> list[CheckResult]:
    """Data folders (inbox, archive, working folders, v2 spool) and Maildirs, per user where
    overridden."""
    results = []
    for use in folder_uses(state, [*DATA_FOLDERS, *INPUT_FOLDERS]):
        who = "" if use.users == ["site"] else use.who
        if use.setting in DATA_FOLDERS:
            results.append(data_folder_check(DATA_FOLDERS[use.setting], use.setting, use.path,
                                             who))
        else:
            results.append(input_folder_check(INPUT_FOLDERS[use.setting], use.setting,
                                              use.path, who))
    return results


def _private(name: str, path: Path, wanted: int, *, kind: str) -> CheckResult:
    """``path`` must grant nothing to group and others (``wanted`` is 0700 or 0600)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return CheckResult(name, False, f"{path} cannot be read ({exc.strerror})",
                           f"Check that {path} exists and belongs to the bridge's account.",
                           SECURITY)
    if mode & 0o077:
        return CheckResult(name, False,
                           f"{path} is open to other accounts (mode {mode:04o}, expected "
                           f"{wanted:04o})", f"Run 'chmod {wanted:o} {path}'.", SECURITY)
    return CheckResult(name, True, f"{path} ({kind}, mode {mode:04o})", "", SECURITY)


def instance_checks(app: Flask, state: BridgeState) -> list[CheckResult]:
    """The instance folder is 0700; the SQLite file and key files in it are 0600."""
    from medshake_bridge.app import SESSION_KEY_FILE
    from medshake_bridge.db import database_url
    from medshake_bridge.secrets import KEY_FILE_NAME

    instance = bridge_home(app)
    results = [_private("Instance folder permissions", instance, 0o700, kind="folder")]
    url = database_url(app)
    if url.startswith("sqlite:///"):
        results.append(_private("SQLite database file", Path(url.removeprefix("sqlite:///")),
                                0o600, kind="SQLite database"))
    for file_name, label in ((KEY_FILE_NAME, "Secrets key file"),
                             (SESSION_KEY_FILE, "Session key file")):
        path = instance / file_name
        if path.exists():
            results.append(_private(label, path, 0o600, kind="key file"))
    results.append(secret_key_check(state))
    return results


def secret_key_check(state: BridgeState) -> CheckResult:
    """Secrets (mailbox and certificate passwords, tokens) need an encryption key."""
    if state.secrets.configured:
        return CheckResult("Secrets encryption key", True,
                           "configured (secret settings are stored encrypted)", "", SECURITY)
    return CheckResult("Secrets encryption key", False,
                       "no key is configured: secret settings (passwords, tokens) cannot be "
                       "stored or read",
                       "Run 'medshake-bridge init-db' (it creates one) or 'medshake-bridge "
                       "generate-secret-key --write', or set MEDSHAKE_BRIDGE_SECRET_KEYS.",
                       SECURITY)


def plugin_checks(state: BridgeState) -> list[CheckResult]:
    """One broken line per plugin that failed to load, else one line saying all loaded."""
    failed = [record for record in state.plugins.values() if record.status == "failed"]
    results = [
        CheckResult(f"Plugin {record.name}", False, record.error or "failed to load",
                    "Open the Extensions page (or run 'medshake-bridge plugins -v') for the "
                    "details; fix or update the plugin, or disable it.", "plugins")
        for record in failed
    ]
    from medshake_bridge.settings.choices import stale_choices

    for name, level, scope, value in stale_choices(state.app):
        where = {"user": f"user {scope}", "module": f"module {scope}"}.get(level, level)
        option = {"user": f" --user {scope}", "module": f" --module {scope}"}.get(level, "")
        results.append(CheckResult(
            f"Setting {name} ({where})", False,
            f"{value!r} is offered by no installed plugin (uninstalled or disabled)",
            f"Install or enable the plugin that offers {value!r}, or choose another value "
            f"('medshake-bridge config set {name} VALUE{option}').", "plugins"))
    suspended = state.hooks.suspensions()
    for name, row in sorted(suspended.items()):
        results.append(CheckResult(
            f"Plugin {name}", False, f"suspended: {row.reason}",
            "Fix or update the plugin, then re-enable it on the Extensions page (or run "
            f"'medshake-bridge plugins --reenable {name}').", "plugins"))
    recent = [row for row in state.hooks.recent_failures(limit=50)
              if row.plugin not in suspended and _within_a_day(row.created_at)]
    by_plugin: dict[str, list[Any]] = {}
    for row in recent:
        by_plugin.setdefault(row.plugin, []).append(row)
    for name, rows in sorted(by_plugin.items()):
        results.append(CheckResult(
            f"Plugin {name}", None,
            f"{len(rows)} failure(s) in the last 24 hours, the last in {rows[0].hook}: "
            f"{rows[0].error}",
            "Open the Extensions page (or run 'medshake-bridge plugins -v') for the details; "
            "the other plugins kept working. Report it to the plugin's authors.", "plugins"))
    if not failed and not suspended and not by_plugin and not any(
            result.name.startswith("Setting ") for result in results):
        loaded = sum(1 for record in state.plugins.values() if record.status == "loaded")
        results.append(CheckResult("Plugins", True, f"{loaded} loaded, none failed", "",
                                   "plugins"))
    return results


def _within_a_day(moment: Any) -> bool:
    import datetime as dt

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC) - moment < dt.timedelta(days=1)
