"""Fake yearly key files laid out like Apicrypt's ``Clefs/`` folder.

A real site keeps ``<user>.<yy>`` and ``Master.<yy>`` (yy = year - 1900) in ``KEYDIR/Clefs/``;
the bridge passes ``KEYDIR`` with ``-k``. The sandbox writes files with the same names so the
product's key pages, checks and program calls are exercised for real, but their content is a
plainly labelled FAKE: 32 random bytes used as an AES-256-GCM key by the sandbox only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from medshake_bridge.sandbox.errors import (
    SandboxKeyMissingError,
    SandboxKeyYearError,
    SandboxUsageError,
)

CLEFS = "Clefs"
MASTER = "Master"
YEAR_ENV = "MEDSHAKE_SANDBOX_YEAR"
KEY_BEGIN = "-----BEGIN MEDSHAKE SANDBOX KEY (FAKE, NOT APICRYPT)-----"
KEY_END = "-----END MEDSHAKE SANDBOX KEY (FAKE, NOT APICRYPT)-----"
_NOTICE = (
    "This is a FAKE key written by the medshake-bridge sandbox. It is not an Apicrypt key,\n"
    "works only with the sandbox programs and protects nothing real."
)
# A local part such as prenom.NOM: letters, digits, dot, dash, underscore; no leading or trailing
# punctuation (a leading '-' would read as an option).
USER_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z")
_KEY_NAME = re.compile(r"(?P<user>.+)\.(?P<yy>\d{1,4})\Z")


@dataclass(frozen=True)
class SandboxKey:
    """One fake yearly key: its owner, its Apicrypt year number (year - 1900) and its secret."""

    user: str
    yy: int
    secret: bytes
    path: Path

    @property
    def key_id(self) -> str:
        """A short fingerprint written into armour, to tell "other key" from "tampered"."""
        return hashlib.sha256(self.secret).hexdigest()[:16]


def to_yy(year: int) -> int:
    """Apicrypt's year number in key file names: 2026 -> 126."""
    if not 1901 <= year <= 2899:
        raise SandboxUsageError(
            f"The year {year} is out of range.", fix="Give a four-digit year such as 2026."
        )
    return year - 1900


def current_year() -> int:
    """Today's year, or ``MEDSHAKE_SANDBOX_YEAR`` so tests and demos can move the clock."""
    value = os.environ.get(YEAR_ENV, "").strip()
    if not value:
        return date.today().year
    if not value.isdigit():
        raise SandboxUsageError(
            f"{YEAR_ENV}={value!r} is not a year.", fix=f"Set {YEAR_ENV} to e.g. 2026, or unset it."
        )
    return int(value)


def check_user(user: str, *, what: str = "user") -> str:
    """Refuse names that are not a plain local part (they become file names and arguments)."""
    if not isinstance(user, str) or not USER_PATTERN.match(user):
        raise SandboxUsageError(
            f"The {what} {user!r} is not a valid local part.",
            fix="Use a name like prenom.NOM: letters, digits, '.', '-', '_' only.",
        )
    return user


def clefs_dir(keys_dir: str | os.PathLike[str]) -> Path:
    """``KEYDIR/Clefs``: ``-k`` names the parent, the keys live in ``Clefs/``."""
    return Path(keys_dir) / CLEFS


def key_path(keys_dir: str | os.PathLike[str], user: str, year: int) -> Path:
    return clefs_dir(keys_dir) / f"{user}.{to_yy(year)}"


def render_key(user: str, yy: int, secret: bytes) -> bytes:
    """The text of a fake key file."""
    lines = [
        KEY_BEGIN,
        _NOTICE,
        f"User: {user}",
        f"Year: {yy + 1900} ({yy})",
        f"Secret: {base64.b64encode(secret).decode('ascii')}",
        KEY_END,
        "",
    ]
    return "\n".join(lines).encode("ascii")


def parse_key(data: bytes, path: Path) -> SandboxKey:
    """Read a fake key file, refusing anything that is not one."""
    text = data.decode("ascii", errors="replace")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            fields[name.strip()] = value.strip()
    try:
        if KEY_BEGIN not in text:
            raise ValueError("no sandbox key label")
        user = fields["User"]
        yy = int(fields["Year"].split("(")[1].rstrip(")"))
        secret = base64.b64decode(fields["Secret"], validate=True)
        if len(secret) != 32:
            raise ValueError("secret is not 32 bytes")
    except (KeyError, IndexError, ValueError) as exc:
        raise SandboxKeyMissingError(
            f"{path} is not a sandbox key file ({exc}).",
            fix="Recreate it with 'medshake-bridge sandbox make-keys'.",
        ) from exc
    return SandboxKey(user=user, yy=yy, secret=secret, path=path)


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_keys(user: str, keys_dir: str | os.PathLike[str], year: int | None = None) -> list[Path]:
    """Write ``KEYDIR/Clefs/<user>.<yy>`` and ``Master.<yy>`` for ``year`` (default: this year).

    Existing files are kept, never overwritten: regenerating a key would make every message
    already encrypted with it unreadable, exactly as with real keys. Returns both paths.
    """
    check_user(user)
    if user == MASTER:
        raise SandboxUsageError(
            "'Master' is the name of the shared key file, not a user.", fix="Choose a user name."
        )
    yy = to_yy(current_year() if year is None else year)
    folder = clefs_dir(keys_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for owner in (user, MASTER):
        path = folder / f"{owner}.{yy}"
        if not path.exists():
            _write_new(path, render_key(owner, yy, secrets.token_bytes(32)))
        written.append(path)
    return written


def key_owners(keys_dir: str | os.PathLike[str]) -> dict[str, set[int]]:
    """Users (not ``Master``) with key files in ``KEYDIR/Clefs``, each with its years."""
    folder = clefs_dir(keys_dir)
    owners: dict[str, set[int]] = {}
    if not folder.is_dir():
        return owners
    for entry in folder.iterdir():
        match = _KEY_NAME.match(entry.name)
        if match and entry.is_file() and match["user"] != MASTER:
            owners.setdefault(match["user"], set()).add(int(match["yy"]))
    return owners


def _years(yys: set[int]) -> str:
    return ", ".join(str(yy + 1900) for yy in sorted(yys)) or "none"


def load_key(keys_dir: str | os.PathLike[str], user: str, yy: int) -> SandboxKey:
    """The key of ``user`` for year number ``yy``; distinct errors for "none" and "wrong year"."""
    folder = clefs_dir(keys_dir)
    path = folder / f"{user}.{yy}"
    if not path.is_file():
        years = key_owners(keys_dir).get(user, set())
        if years:
            raise SandboxKeyYearError(
                f"No sandbox key of {user} for year {yy + 1900} ({path.name}) in {folder}; "
                f"it holds {user}'s keys for {_years(years)}.",
                fix=f"Create it with 'medshake-bridge sandbox make-keys --user {user} "
                f"--keys {Path(keys_dir)} --year {yy + 1900}'.",
            )
        raise SandboxKeyMissingError(
            f"No sandbox key of {user} in {folder} (looked for {path.name}).",
            fix=f"Create it with 'medshake-bridge sandbox make-keys --user {user} "
            f"--keys {Path(keys_dir)}', and pass the folder that contains Clefs/.",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SandboxKeyMissingError(
            f"The sandbox key {path} cannot be read ({exc.strerror}).",
            fix="Let the account running the programs read the Clefs folder.",
        ) from exc
    key = parse_key(data, path)
    if key.user != user or key.yy != yy:
        raise SandboxKeyMissingError(
            f"{path} holds the key of {key.user} for {key.yy + 1900}, not of {user} "
            f"for {yy + 1900}.",
            fix="Do not rename key files; recreate the right one with make-keys.",
        )
    return key
