"""Fake yearly key files laid out like Apicrypt's ``Clefs/`` folder.

A real site keeps ``<user>.<yy>`` and ``Master.<yy>`` (yy = year - 1900) in ``KEYDIR/Clefs/``;
the bridge passes ``KEYDIR`` with ``-k``. The sandbox writes files with the same names so the
product's key pages, checks and program calls are exercised for real, but their content is a
plainly labelled FAKE: 32 random bytes used as an AES-256-GCM key by the sandbox only.
"""

from __future__ import annotations

import binascii
import os

from medshake_bridge.sandbox.errors import (
    SandboxKeyMissingError,
    SandboxKeyYearError,
    SandboxUsageError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from pathlib import Path

# ``pathlib`` is imported only by the functions that return paths: the sandbox programs use
# ``os.path`` (importing pathlib, with re, enum and urllib.parse behind it, is a third of a
# program's start-up).

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
# punctuation (a leading '-' would read as an option); at most 64 characters. Checked by hand,
# not with a regular expression: compiling one is a measurable part of a program's start.
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_USER_CHARS = _ALNUM | frozenset("._-")


def _is_user_name(text: str) -> bool:
    return (
        0 < len(text) <= 64
        and text[0] in _ALNUM
        and text[-1] in _ALNUM
        and all(ch in _USER_CHARS for ch in text)
    )


def _key_name(name: str) -> tuple[str, int] | None:
    """``prenom.NOM.126`` -> ("prenom.NOM", 126); None for any other file name."""
    user, dot, yy = name.rpartition(".")
    if not dot or not user or not 1 <= len(yy) <= 4 or not yy.isascii() or not yy.isdigit():
        return None
    return user, int(yy)


class SandboxKey:
    """One fake yearly key: its owner, its Apicrypt year number (year - 1900) and its secret.

    A plain immutable class rather than a dataclass or a named tuple: ``dataclasses`` and
    ``typing`` take longer to import than the rest of a sandbox program's start-up.
    """

    __slots__ = ("_path", "secret", "user", "yy")
    user: str
    yy: int
    secret: bytes

    def __init__(self, user: str, yy: int, secret: bytes, path: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "user", user)
        object.__setattr__(self, "yy", yy)
        object.__setattr__(self, "secret", secret)
        object.__setattr__(self, "_path", os.fspath(path))

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self._path)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SandboxKey is immutable ({name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SandboxKey):
            return NotImplemented
        return (self.user, self.yy, self.secret, self._path) == (
            other.user, other.yy, other.secret, other._path
        )

    def __hash__(self) -> int:
        return hash((self.user, self.yy, self.secret, self._path))

    def __repr__(self) -> str:  # never the secret
        return f"SandboxKey(user={self.user!r}, yy={self.yy}, path={self._path!r})"

    @property
    def key_id(self) -> str:
        """A short fingerprint written into armour, to tell "other key" from "tampered"."""
        return _sha256(self.secret).hexdigest()[:16]


def _sha256(data: bytes):  # noqa: ANN202 - a hash object of hashlib's kind
    """SHA-256 from CPython's built-in module when there is one: ``hashlib`` loads OpenSSL's
    libcrypto, about 3 ms of a sandbox program's start, for one 16-character fingerprint."""
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12 and later
        except ImportError:
            from hashlib import sha256
    return sha256(data)


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
        import time

        return time.localtime().tm_year
    if not value.isdigit():
        raise SandboxUsageError(
            f"{YEAR_ENV}={value!r} is not a year.", fix=f"Set {YEAR_ENV} to e.g. 2026, or unset it."
        )
    return int(value)


def check_user(user: str, *, what: str = "user") -> str:
    """Refuse names that are not a plain local part (they become file names and arguments)."""
    if not isinstance(user, str) or not _is_user_name(user):
        raise SandboxUsageError(
            f"The {what} {user!r} is not a valid local part.",
            fix="Use a name like prenom.NOM: letters, digits, '.', '-', '_' only.",
        )
    return user


def clefs_dir(keys_dir: str | os.PathLike[str]) -> Path:
    """``KEYDIR/Clefs``: ``-k`` names the parent, the keys live in ``Clefs/``."""
    from pathlib import Path

    return Path(keys_dir) / CLEFS


def _clefs(keys_dir: str | os.PathLike[str]) -> str:
    """:func:`clefs_dir` as a string, without pathlib."""
    return os.path.join(os.fspath(keys_dir), CLEFS)


def key_path(keys_dir: str | os.PathLike[str], user: str, year: int) -> Path:
    return clefs_dir(keys_dir) / f"{user}.{to_yy(year)}"


def render_key(user: str, yy: int, secret: bytes) -> bytes:
    """The text of a fake key file."""
    lines = [
        KEY_BEGIN,
        _NOTICE,
        f"User: {user}",
        f"Year: {yy + 1900} ({yy})",
        f"Secret: {binascii.b2a_base64(secret, newline=False).decode('ascii')}",
        KEY_END,
        "",
    ]
    return "\n".join(lines).encode("ascii")


def parse_key(data: bytes, path: str | os.PathLike[str]) -> SandboxKey:
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
        secret = binascii.a2b_base64(fields["Secret"].encode("ascii"), strict_mode=True)
        if len(secret) != 32:
            raise ValueError("secret is not 32 bytes")
    except (KeyError, IndexError, ValueError, binascii.Error) as exc:
        raise SandboxKeyMissingError(
            f"{path} is not a sandbox key file ({exc}).",
            fix="Recreate it with 'medshake-bridge sandbox make-keys'.",
        ) from exc
    return SandboxKey(user=user, yy=yy, secret=secret, path=path)


def _write_new(path: str | os.PathLike[str], data: bytes) -> None:
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
            _write_new(path, render_key(owner, yy, os.urandom(32)))
        written.append(path)
    return written


def key_owners(keys_dir: str | os.PathLike[str]) -> dict[str, set[int]]:
    """Users (not ``Master``) with key files in ``KEYDIR/Clefs``, each with its years."""
    folder = _clefs(keys_dir)
    owners: dict[str, set[int]] = {}
    if not os.path.isdir(folder):
        return owners
    for name in os.listdir(folder):
        parsed = _key_name(name)
        if parsed and parsed[0] != MASTER and os.path.isfile(os.path.join(folder, name)):
            owners.setdefault(parsed[0], set()).add(parsed[1])
    return owners


def _years(yys: set[int]) -> str:
    return ", ".join(str(yy + 1900) for yy in sorted(yys)) or "none"


def load_key(keys_dir: str | os.PathLike[str], user: str, yy: int) -> SandboxKey:
    """The key of ``user`` for year number ``yy``; distinct errors for "none" and "wrong year"."""
    folder = _clefs(keys_dir)
    name = f"{user}.{yy}"
    path = os.path.join(folder, name)
    keys = os.path.normpath(os.fspath(keys_dir))
    if not os.path.isfile(path):
        years = key_owners(keys_dir).get(user, set())
        if years:
            raise SandboxKeyYearError(
                f"No sandbox key of {user} for year {yy + 1900} ({name}) in {folder}; "
                f"it holds {user}'s keys for {_years(years)}.",
                fix=f"Create it with 'medshake-bridge sandbox make-keys --user {user} "
                f"--keys {keys} --year {yy + 1900}'.",
            )
        raise SandboxKeyMissingError(
            f"No sandbox key of {user} in {folder} (looked for {name}).",
            fix=f"Create it with 'medshake-bridge sandbox make-keys --user {user} "
            f"--keys {keys}', and pass the folder that contains Clefs/.",
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
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
