"""One key folder's ``Clefs/``: list, import, delete, and open ``.aes`` keys with the long code.

Why it is careful:

* a name is the only input that becomes a path, and :func:`~medshake_keys.names.validate_name`
  checks it before anything is touched; the folder itself comes from the settings;
* an import is streamed into a private temporary file in ``Clefs/`` and stops reading at the
  size cap, then is *linked* into place, which fails instead of replacing an existing key: a
  key is never half-written and never silently overwritten;
* deleting this year's key stops mail from working, so it needs a second confirmation;
* a ``.aes`` key is opened into a private temporary folder and linked into place; the ``.aes``
  is removed only once the key exists and is not empty;
* every refusal or failure leaves the folder as it was, and every change is reported to
  ``on_event`` (the host's audit log).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from medshake_bridge.api import Runner, _, human_size
from medshake_keys.aes import aes_available, run_aes_utility, validate_code
from medshake_keys.errors import (
    CurrentYearKeyError,
    KeyExistsError,
    KeyFileSizeError,
    KeyFolderError,
    KeyNameError,
    KeyNotFoundError,
)
from medshake_keys.folder import CLEFS, FolderStatus, folder_status
from medshake_keys.names import KeyName, parse_name, validate_name

MAX_KEY_BYTES = 1024 * 1024  # real key files are a few kilobytes
CHUNK = 64 * 1024

EventSink = Callable[[str, str, str, str], None]  # action, target, outcome, detail


@dataclass(frozen=True)
class KeyFile:
    """One file of ``Clefs/`` as the page and ``keys list`` show it."""

    name: str
    size: int
    modified: datetime
    readable: bool
    writable: bool
    parsed: KeyName | None
    current_year: bool

    @property
    def kind(self) -> str:
        return self.parsed.kind if self.parsed else "other"


def _no_events(action: str, target: str, outcome: str, detail: str) -> None:
    """Default sink: nothing is recorded (the factory wires the audit log)."""


class ClefsManager:
    """The key manager of one folder (``keys_dir`` is ``apicryptCheminVersClefs``).

    ``settings`` are the effective settings the folder comes from (for the ``.aes`` command
    and the programs folder), ``runner`` the host's program runner, ``today`` the clock used
    for "the current year's key" (injectable in tests).
    """

    def __init__(
        self,
        keys_dir: str | os.PathLike[str] | None,
        *,
        settings: Mapping[str, Any] | None = None,
        runner: Runner | None = None,
        today: Callable[[], date] = date.today,
        on_event: EventSink = _no_events,
        max_bytes: int = MAX_KEY_BYTES,
    ) -> None:
        text = os.fspath(keys_dir) if keys_dir is not None else ""
        self.keys_dir: Path | None = Path(text).absolute() if text.strip() else None
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.runner = runner or Runner()
        self.today = today
        self.on_event = on_event
        self.max_bytes = max_bytes

    @property
    def clefs(self) -> Path | None:
        return self.keys_dir / CLEFS if self.keys_dir is not None else None

    # -- reading ------------------------------------------------------------------------------

    def status(self) -> FolderStatus:
        return folder_status(self.keys_dir)

    def aes_available(self) -> bool:
        """Whether "decrypt with the long code" should be offered for this folder."""
        return aes_available(self.settings)

    def is_current_year(self, parsed: KeyName | None) -> bool:
        """A usable key (a user's or Master) of the current year: deleting it stops mail."""
        return (parsed is not None and not parsed.encrypted
                and parsed.year == self.today().year)

    def list_keys(self) -> list[KeyFile]:
        """Regular files of ``Clefs/`` (hidden work files left out), sorted by name."""
        clefs = self.clefs
        if clefs is None or not clefs.is_dir():
            return []
        found = []
        try:
            entries = list(os.scandir(clefs))
        except OSError:
            return []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            parsed = parse_name(entry.name)
            found.append(KeyFile(
                name=entry.name, size=info.st_size,
                modified=datetime.fromtimestamp(info.st_mtime, UTC),
                readable=os.access(entry.path, os.R_OK),
                writable=os.access(entry.path, os.W_OK),
                parsed=parsed, current_year=self.is_current_year(parsed)))
        return sorted(found, key=lambda key: key.name.lower())

    # -- changing -----------------------------------------------------------------------------

    def import_key(self, name: str, stream: BinaryIO) -> KeyFile:
        """Store ``stream`` as ``Clefs/<name>`` (0600), reading at most the cap plus one byte."""
        parsed = validate_name(name)
        folder = self._usable_clefs(create=True)
        target = folder / parsed.name
        if os.path.lexists(target):
            raise self._exists(parsed.name)
        try:
            handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
        except OSError as exc:
            raise self._not_writable(folder, exc) from exc
        temp_path = Path(temporary)
        try:
            with os.fdopen(handle, "wb") as out:
                total = self._copy_capped(stream, out, parsed.name)
                out.flush()
                os.fsync(out.fileno())
            if total == 0:
                raise KeyFileSizeError(
                    _("The file %(name)s is empty: it was not stored.", name=parsed.name),
                    fix=_("Send the key file as received from APICEM; an empty file is not a "
                          "key."))
            self._link_into_place(temp_path, target, parsed.name)
        except OSError as exc:
            raise self._not_writable(folder, exc) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp_path.unlink()
        self._sync(folder)
        self.on_event("keys.import", str(target), "ok", f"{total} bytes")
        return self._entry(target)

    def delete_key(self, name: str, *, confirm_current_year: bool = False) -> None:
        """Remove ``Clefs/<name>``; the current year's key needs ``confirm_current_year``."""
        parsed = validate_name(name)
        folder = self._usable_clefs(create=False)
        target = folder / parsed.name
        self._require_file(target, parsed.name)
        if self.is_current_year(parsed) and not confirm_current_year:
            self.on_event("keys.delete", str(target), "denied", "current year, not confirmed")
            raise CurrentYearKeyError(
                _("%(name)s is the key for %(year)s, the current year: without it mail "
                  "cannot be encrypted or decrypted. It was not deleted.",
                  name=parsed.name, year=parsed.year),
                fix=_("Confirm a second time that this key must be deleted (command line: "
                      "--confirm-current-year)."))
        try:
            target.unlink()
        except OSError as exc:
            self.on_event("keys.delete", str(target), "failed", exc.strerror or str(exc))
            raise self._not_writable(folder, exc) from exc
        self._sync(folder)
        self.on_event("keys.delete", str(target), "ok",
                      "current year, confirmed twice" if self.is_current_year(parsed) else "")

    def decrypt_aes(self, name: str, code: str) -> KeyFile:
        """Open ``Clefs/<name>.aes`` with the long code into ``Clefs/<name>``, then remove the
        ``.aes``. The code is checked first and never recorded."""
        parsed = validate_name(name)
        if not parsed.encrypted:
            raise KeyNameError(
                _("%(name)s is not an encrypted (.aes) key.", name=parsed.name),
                fix=_("Only files ending in .aes are opened with the long code."))
        checked = validate_code(code)
        folder = self._usable_clefs(create=False)
        source = folder / parsed.name
        self._require_file(source, parsed.name)
        target = folder / parsed.decrypted_name
        if os.path.lexists(target):
            raise self._exists(parsed.decrypted_name)
        try:
            work = Path(tempfile.mkdtemp(prefix=".aes-", dir=folder))
        except OSError as exc:
            raise self._not_writable(folder, exc) from exc
        try:
            output = work / parsed.decrypted_name
            try:
                run_aes_utility(self.settings, self.runner, source, output, checked,
                                name=parsed.name)
            except Exception as exc:
                self.on_event("keys.decrypt", str(source), "failed", getattr(exc, "message",
                                                                             str(exc)))
                raise
            if not output.is_file() or output.is_symlink() or output.stat().st_size == 0:
                raise KeyFileSizeError(
                    _("The key opened from %(name)s is missing or empty.", name=parsed.name),
                    fix=_("Try again; the .aes key is kept."))
            os.chmod(output, 0o600)
            self._link_into_place(output, target, parsed.decrypted_name)
        except OSError as exc:
            raise self._not_writable(folder, exc) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if target.is_file() and target.stat().st_size > 0:
            source.unlink()
        self._sync(folder)
        self.on_event("keys.decrypt", str(source), "ok", f"opened into {target.name}")
        return self._entry(target)

    # -- helpers ------------------------------------------------------------------------------

    def _usable_clefs(self, *, create: bool) -> Path:
        """``Clefs/`` when it may be changed (made if ``create``), else :class:`KeyFolderError`."""
        status = self.status()
        clefs = self.clefs
        if clefs is None or self.keys_dir is None or not self.keys_dir.is_dir():
            raise KeyFolderError(status.problems[0] if status.problems else "",
                                 fix=_("Nothing was changed."))
        if not clefs.exists() and not clefs.is_symlink():
            if not create:
                raise KeyFolderError(
                    _("%(path)s does not exist: the folder holds no key yet.", path=str(clefs)),
                    fix=_("Import a key first, or check “Keys folder” (apicryptCheminVersClefs)."))
            try:
                clefs.mkdir(mode=0o700)
            except OSError as exc:
                raise self._not_writable(self.keys_dir, exc) from exc
            status = self.status()
        if not status.ok:
            raise KeyFolderError(" ".join(status.problems), fix=_("Nothing was changed."))
        return clefs

    def _copy_capped(self, stream: BinaryIO, out: BinaryIO, name: str) -> int:
        total = 0
        while True:
            chunk = stream.read(min(CHUNK, self.max_bytes + 1 - total))
            if not chunk:
                return total
            total += len(chunk)
            if total > self.max_bytes:
                raise KeyFileSizeError(
                    _("%(name)s is larger than %(size)s: it cannot be a key file and was not "
                      "stored.", name=name, size=human_size(self.max_bytes)),
                    fix=_("Check that you chose the key file itself (a few kilobytes)."))
            out.write(chunk)

    def _link_into_place(self, source: Path, target: Path, name: str) -> None:
        """Make ``source`` appear as ``target`` at once, never replacing an existing file."""
        try:
            os.link(source, target)
        except FileExistsError:
            raise self._exists(name) from None
        except OSError:
            # A file system without hard links: rename, after checking again that the name
            # is free (a narrower guarantee, stated here rather than hidden).
            if os.path.lexists(target):
                raise self._exists(name) from None
            os.rename(source, target)

    def _require_file(self, path: Path, name: str) -> None:
        try:
            info = path.lstat()
        except FileNotFoundError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            raise KeyNotFoundError(
                _("There is no key file %(name)s in %(path)s.", name=name,
                  path=str(path.parent)),
                fix=_("Check the name in the list of this folder; keys of another folder "
                      "are managed from that folder's tab (or with --user)."))

    def _exists(self, name: str) -> KeyExistsError:
        return KeyExistsError(
            _("%(name)s is already in the folder: it was kept and not overwritten.", name=name),
            fix=_("If the stored key really must be replaced, delete it first, then import the "
                  "new one."))

    @staticmethod
    def _not_writable(folder: Path, exc: OSError) -> KeyFolderError:
        return KeyFolderError(
            _("The key folder %(path)s cannot be changed (%(reason)s).", path=str(folder),
              reason=exc.strerror or str(exc)),
            fix=_("Give the bridge's account write access to that folder; nothing was "
                  "changed."))

    @staticmethod
    def _sync(folder: Path) -> None:
        """Make the new or removed name durable (best effort: not every system allows it)."""
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _entry(self, path: Path) -> KeyFile:
        for key in self.list_keys():
            if key.name == path.name:
                return key
        raise KeyNotFoundError(_("There is no key file %(name)s in %(path)s.", name=path.name,
                                 path=str(path.parent)), fix="")

