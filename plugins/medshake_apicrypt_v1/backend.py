"""Apicrypt v1 back-end: APICEM's four programs, run through the host's :class:`Runner`.

DOMAIN §2 is the contract: ``apicrypt``/``apicryptpj`` encrypt with the user's own yearly key
(``-u``, ``-k`` = the folder that *contains* ``Clefs/``, ``-d`` = recipients' local parts,
comma-separated); ``apiuncrypt``/``apiuncryptpj`` decrypt, the latter into a folder that may
receive several files named by the program. Their exit codes and messages are undocumented, so
success is "exit 0 and a non-empty expected output" (the runner checks both).

Why the care around each call: recipients come from a web form, so each is checked against a
strict local-part pattern before anything runs (and no shell is ever involved); clear text must
not linger, so each call works in 0700 folders under the configured clear and encrypted
working folders (``apicryptCheminFichierNC`` / ``apicryptCheminFichierC``) that are emptied
afterwards, failure included (one pair per thread, reused: ``reused_work_dir``); the caller's
own files are never modified, so a failed message can be retried. Program failures surface as
the runner's typed errors (``ProgramError`` subclasses) whose text includes what the program
said.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from medshake_bridge.api import (
    LOCAL_PART,
    CheckResult,
    ConfigurationError,
    CryptoError,
    Runner,
    attachment_source,
    destination_folder,
    encode_outgoing_latin1,
    free_name,
    prepare_work_folder,
    reused_work_dir,
    safe_work_name,
    write_new_private,
)

# Re-exported: part of this back-end's public API since before they were shared.
from medshake_bridge.api import EncryptedBody as EncryptedBody
from medshake_bridge.api import InvalidRecipientError as InvalidRecipientError
from medshake_bridge.api import validate_recipients as validate_recipients

logger = logging.getLogger(__name__)

PROGRAMS = ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj")
CATEGORY = "apicrypt_v1"
# A local part such as prenom.NOM or jean-pierre.DUPONT2: no leading or trailing punctuation
# (a leading '-' would read as an option), nothing a shell or the -d list could interpret.




class ApicryptV1ConfigError(ConfigurationError):
    """The v1 back-end's settings are incomplete or point at unusable folders."""


@dataclass(frozen=True)
class ApicryptV1Config:
    """Everything one user's v1 back-end needs, resolved from the settings by the host.

    ``keys_dir`` is ``apicryptCheminVersClefs``, the parent of ``Clefs/``; ``clear_dir`` and
    ``encrypted_dir`` are ``apicryptCheminFichierNC`` / ``apicryptCheminFichierC``; ``timeout``
    (seconds, ``None`` = the runner's) is ``apicryptCommandTimeout``; ``today`` is the clock the
    key checks use.
    """

    binaries_dir: Path
    keys_dir: Path
    user: str
    clear_dir: Path
    encrypted_dir: Path
    runner: Runner
    timeout: float | None = None
    today: Callable[[], date] = field(default=date.today)










class ApicryptV1Backend:
    """A :class:`~medshake_bridge.interfaces.CryptoBackend` over APICEM's v1 programs."""

    def __init__(self, config: ApicryptV1Config) -> None:
        # Paths are made absolute because the programs run with the work folder as cwd.
        self.config = config
        self.binaries_dir = Path(config.binaries_dir).absolute()
        self.keys_dir = Path(config.keys_dir).absolute()
        self.clear_dir = Path(config.clear_dir).absolute()
        self.encrypted_dir = Path(config.encrypted_dir).absolute()
        self.user = config.user
        self.runner = config.runner

    # -- operations ---------------------------------------------------------------------------

    def encrypt_body(self, text: str, recipients: Sequence[str]) -> EncryptedBody:
        """Encode ``text`` as ISO-8859-1 (transliterating) and encrypt it with ``apicrypt``."""
        checked = validate_recipients(recipients)
        self._require_config()
        clear_bytes, replacements = encode_outgoing_latin1(text)
        with self._workspace() as (clear, encrypted):
            source = clear / "body.txt"
            write_new_private(source, clear_bytes)
            output = encrypted / "body.apicrypt"
            args = [*self._source_and_output(source, output), *self._sender(checked)]
            self._run("apicrypt", args, cwd=encrypted, expect_output=output)
            armour = output.read_bytes()
        return EncryptedBody(armour=armour, replacements=tuple(replacements))

    def encrypt_attachment(
        self,
        path: str | os.PathLike[str],
        recipients: Sequence[str],
        dest_dir: str | os.PathLike[str],
    ) -> Path:
        """Encrypt one file with ``apicryptpj`` into ``dest_dir/<name>.apz`` (never overwriting)."""
        checked = validate_recipients(recipients)
        self._require_config()
        original, name = attachment_source(path)
        with self._workspace() as (clear, encrypted):
            source = clear / name
            shutil.copyfile(original, source)
            output = encrypted / f"{name}.apz"
            self._run(
                "apicryptpj",
                [*self._source_and_output(source, output), *self._sender(checked)],
                cwd=encrypted,
                expect_output=output,
            )
            target_dir = destination_folder(dest_dir)
            target = free_name(target_dir, f"{name}.apz")
            shutil.move(output, target)
        return target

    def decrypt_body(self, armour: bytes) -> bytes:
        """Decrypt a received body with ``apiuncrypt``; returns the clear bytes as written."""
        self._require_config(need_user=False)
        with self._workspace() as (clear, encrypted):
            source = encrypted / "body.apicrypt"
            write_new_private(source, armour)
            output = clear / "body.txt"
            self._run(
                "apiuncrypt",
                ["-s", str(source), "-o", str(output), "-k", str(self.keys_dir)],
                cwd=clear,
                expect_output=output,
            )
            return output.read_bytes()

    def decrypt_attachment(
        self, apz_path: str | os.PathLike[str], dest_dir: str | os.PathLike[str]
    ) -> list[Path]:
        """Decrypt a ``.apz`` with ``apiuncryptpj``; move every file it yields into ``dest_dir``.

        The program names the files; they keep those names (Unicode included), with ``(2)``
        added when ``dest_dir`` already holds one. Only regular files are taken.
        """
        self._require_config(need_user=False)
        original = Path(apz_path)
        if not original.is_file():
            raise CryptoError(
                f"The attachment {original} does not exist or is not a file.",
                fix="Check the stored message's attachment path.",
            )
        with self._workspace() as (clear, encrypted):
            source = encrypted / safe_work_name(original.name, "attachment.apz")
            shutil.copyfile(original, source)
            out_dir = clear / "out"
            out_dir.mkdir(mode=0o700)
            self._run(
                "apiuncryptpj",
                ["-s", str(source), "-o", f"{out_dir}{os.sep}", "-k", str(self.keys_dir)],
                cwd=clear,
                expect_output=out_dir,
            )
            produced = sorted(p for p in out_dir.rglob("*") if p.is_file() and not p.is_symlink())
            target_dir = destination_folder(dest_dir)
            results = []
            for item in produced:
                target = free_name(target_dir, safe_work_name(item.name, "attachment"))
                shutil.move(item, target)
                results.append(target)
        return results

    # -- checks -------------------------------------------------------------------------------

    def checks(self) -> list[CheckResult]:
        """Programs present and executable, keys folder usable, this year's key, work folders."""
        results = [self._check_user()]
        results.extend(self._check_programs())
        results.append(self._check_keys_folder())
        results.extend(self._check_year_keys())
        for label, folder, setting in (
            ("clear working folder", self.clear_dir, "apicryptCheminFichierNC"),
            ("encrypted working folder", self.encrypted_dir, "apicryptCheminFichierC"),
        ):
            results.append(self._check_work_folder(label, folder, setting))
        return results

    def sudoers_lines(self, account: str = "www-data") -> list[str]:
        """Sudoers lines letting ``account`` run the four programs through a ``sudo -n`` prefix."""
        return [f"{account} ALL=(root) NOPASSWD: {self.binaries_dir / name}" for name in PROGRAMS]

    def _check_user(self) -> CheckResult:
        ok = bool(self.user) and LOCAL_PART.match(self.user) is not None
        return CheckResult(
            name="Apicrypt v1 user name",
            ok=ok,
            detail=f"apicryptUtilisateur = {self.user!r}",
            fix="" if ok else "Set apicryptUtilisateur to the user's prenom.NOM (case kept).",
            category=CATEGORY,
        )

    def _check_programs(self) -> list[CheckResult]:
        results = []
        behind_prefix = bool(self.runner.prefix)
        for name in PROGRAMS:
            path = self.binaries_dir / name
            if not path.is_file():
                ok, detail = False, f"{path} is missing"
                fix = (
                    "Install APICEM's programs in that folder or correct "
                    "apicryptCheminVersBinaires (see docs/apicrypt-v1.md)."
                )
            else:
                runnable = (
                    bool(path.stat().st_mode & 0o111) if behind_prefix else os.access(path, os.X_OK)
                )
                ok = runnable
                detail = f"{path} is {'executable' if runnable else 'not executable'}"
                fix = "" if runnable else f"Run 'chmod 755 {path}'."
            results.append(
                CheckResult(
                    name=f"Program {name}", ok=ok, detail=detail, fix=fix, category=CATEGORY
                )
            )
        return results

    def _check_keys_folder(self) -> CheckResult:
        clefs = self.keys_dir / "Clefs"
        if not clefs.is_dir():
            return CheckResult(
                name="Keys folder",
                ok=False,
                detail=f"{clefs} does not exist",
                fix="Set apicryptCheminVersClefs to the folder that CONTAINS Clefs/ (not Clefs/ "
                "itself) and put the keys in Clefs/.",
                category=CATEGORY,
            )
        readable = os.access(clefs, os.R_OK | os.X_OK)
        writable = os.access(clefs, os.W_OK | os.X_OK)
        ok = readable and writable
        return CheckResult(
            name="Keys folder",
            ok=ok,
            detail=f"{clefs}: {'readable' if readable else 'NOT readable'}, "
            f"{'writable' if writable else 'NOT writable'}",
            fix=""
            if ok
            else "The programs read and may rewrite the key files: give the "
            "account that runs them read and write access to Clefs/.",
            category=CATEGORY,
        )

    def _check_year_keys(self) -> list[CheckResult]:
        today = self.config.today()
        clefs = self.keys_dir / "Clefs"
        current = clefs / f"{self.user}.{today.year - 1900}"
        present = current.is_file() and os.access(current, os.R_OK)
        results = [
            CheckResult(
                name=f"Key for {today.year}",
                ok=present,
                detail=f"{current} {'present' if present else 'missing or unreadable'}",
                fix=""
                if present
                else f"Put this year's key {current.name} (from APICEM) in {clefs}.",
                category=CATEGORY,
            )
        ]
        if today.month == 12:
            following = clefs / f"{self.user}.{today.year + 1 - 1900}"
            ready = following.is_file()
            results.append(
                CheckResult(
                    name=f"Key for {today.year + 1}",
                    ok=True if ready else None,
                    detail=f"{following} {'present' if ready else 'not yet installed'}",
                    fix=""
                    if ready
                    else f"Install next year's key {following.name} before 1 January.",
                    category=CATEGORY,
                )
            )
        return results

    @staticmethod
    def _check_work_folder(label: str, folder: Path, setting: str) -> CheckResult:
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        ok = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
        state = "writable" if ok else "not writable"
        detail = (
            f"{folder} ({state})"
            if existing == folder
            else (f"{folder} will be created in {existing} ({state})")
        )
        return CheckResult(
            name=label.capitalize(),
            ok=ok,
            detail=detail,
            fix=""
            if ok
            else f"Make {existing} writable by the bridge's account or change {setting}.",
            category=CATEGORY,
        )

    # -- helpers ------------------------------------------------------------------------------

    def _require_config(self, *, need_user: bool = True) -> None:
        if need_user and (not self.user or not LOCAL_PART.match(self.user)):
            raise ApicryptV1ConfigError(
                f"The Apicrypt user name {self.user!r} is not set or not valid.",
                fix="Set apicryptUtilisateur to prenom.NOM exactly as in the key file names.",
            )
        for value, setting in (
            (self.config.binaries_dir, "apicryptCheminVersBinaires"),
            (self.config.keys_dir, "apicryptCheminVersClefs"),
            (self.config.clear_dir, "apicryptCheminFichierNC"),
            (self.config.encrypted_dir, "apicryptCheminFichierC"),
        ):
            if not str(value).strip() or str(value) == ".":
                raise ApicryptV1ConfigError(
                    f"The setting {setting} is empty.", fix=f"Set {setting} to a folder path."
                )

    def _sender(self, recipients: list[str]) -> list[str]:
        return ["-u", self.user, "-k", str(self.keys_dir), "-d", ",".join(recipients), "-v"]

    @staticmethod
    def _source_and_output(source: Path, output: Path) -> list[str]:
        return ["-s", str(source), "-o", str(output)]

    def _run(self, program: str, args: list[str], *, cwd: Path, expect_output: Path) -> None:
        self.runner.run(
            self.binaries_dir / program,
            args,
            cwd=cwd,
            timeout=self.config.timeout,
            expect_output=expect_output,
        )



    @contextmanager
    def _workspace(self) -> Iterator[tuple[Path, Path]]:
        """An empty 0700 folder under each working folder, locked while the process lives and
        emptied on the way out, always; a crashed run's folders are removed by the next
        collection. A configured folder is never chmod'ed; a world-writable one is refused.

        The folders are this thread's, handed out again for its next run (``reused_work_dir``):
        making and removing two locked folders per run cost about as much as the run of a
        copy-through stand-in (issue 18)."""
        with ExitStack() as stack:
            made: list[Path] = []
            for base, setting, prefix in (
                (self.clear_dir, "apicryptCheminFichierNC", "apicrypt-nc-"),
                (self.encrypted_dir, "apicryptCheminFichierC", "apicrypt-c-"),
            ):
                try:
                    prepare_work_folder(base, setting=setting)
                    made.append(stack.enter_context(reused_work_dir(base, prefix)))
                except ConfigurationError as exc:
                    raise ApicryptV1ConfigError(exc.message, fix=exc.fix) from exc
                except OSError as exc:
                    raise ApicryptV1ConfigError(
                        f"Cannot create a private work folder in {base} ({exc.strerror}).",
                        fix=f"Make {base} writable by the bridge's account or change {setting}.",
                    ) from exc
            yield made[0], made[1]


def build_backend(settings: Mapping[str, Any], runner: Runner) -> ApicryptV1Backend:
    """Build a back-end from one user's effective settings (DOMAIN §4 names) and the runner.

    Fits :class:`~medshake_bridge.interfaces.BackendSpec`'s ``factory``; the host builds the
    runner from ``apicryptCommandPrefix`` / ``apicryptCommandTimeout``.
    """
    timeout = settings.get("apicryptCommandTimeout")
    return ApicryptV1Backend(
        ApicryptV1Config(
            binaries_dir=Path(str(settings.get("apicryptCheminVersBinaires") or "")),
            keys_dir=Path(str(settings.get("apicryptCheminVersClefs") or "")),
            user=str(settings.get("apicryptUtilisateur") or ""),
            clear_dir=Path(str(settings.get("apicryptCheminFichierNC") or "")),
            encrypted_dir=Path(str(settings.get("apicryptCheminFichierC") or "")),
            runner=runner,
            timeout=float(timeout) if timeout else None,
        )
    )
