"""Fake ``.aes`` yearly keys opened with a "long code", for ``ApiV2AESUtility``'s stand-in.

APICEM mails next year's key encrypted (``*.aes``) and prints a long code on a paper letter;
the EHR runs ``ApiV2AESUtility {source} {destination} {code}`` to get the key file. The sandbox
makes such files with its own format: a sandbox key file encrypted with AES-256-GCM under a key
derived from the code by scrypt, labelled FAKE on its first line.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import textwrap
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from medshake_bridge.sandbox.errors import (
    SandboxLongCodeError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.keys import (
    check_user,
    clefs_dir,
    current_year,
    render_key,
    to_yy,
)

AES_BEGIN = "-----BEGIN MEDSHAKE SANDBOX AES KEY (FAKE, NOT APICRYPT)-----"
AES_END = "-----END MEDSHAKE SANDBOX AES KEY (FAKE, NOT APICRYPT)-----"
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: it is typed from paper
_GROUPS, _GROUP_LEN = 6, 5


def new_long_code() -> str:
    """A random code like ``K7QX2-...``, six groups of five unambiguous characters."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_LEN))
    return "-".join(chars[i : i + _GROUP_LEN] for i in range(0, len(chars), _GROUP_LEN))


def normalise_code(code: str) -> str:
    """What matters in a typed code: its characters, not case, spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def _derive(code: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(
        normalise_code(code).encode("utf-8")
    )


def make_aes_key(
    user: str, keys_dir: str | os.PathLike[str], year: int | None = None
) -> tuple[Path, str]:
    """Write ``KEYDIR/Clefs/<user>.<yy>.aes`` (default: next year) and return it with its code.

    The clear key inside is a fresh sandbox key; ``ApiV2AESUtility`` with the code writes it.
    """
    check_user(user)
    yy = to_yy(current_year() + 1 if year is None else year)
    folder = clefs_dir(keys_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{user}.{yy}.aes"
    code = new_long_code()
    salt, nonce = os.urandom(16), os.urandom(12)
    header = [
        AES_BEGIN,
        "Notice: fake key of the medshake-bridge sandbox; not Apicrypt",
        f"Salt: {base64.b64encode(salt).decode('ascii')}",
        f"Nonce: {base64.b64encode(nonce).decode('ascii')}",
    ]
    clear = render_key(user, yy, secrets.token_bytes(32))
    sealed = AESGCM(_derive(code, salt)).encrypt(nonce, clear, "\n".join(header).encode())
    text = "\n".join(
        [*header, "", *textwrap.wrap(base64.b64encode(sealed).decode("ascii"), 76), AES_END, ""]
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    return path, code


def decrypt_aes_key(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], code: str
) -> Path:
    """Open ``source`` with ``code`` and write the key file to ``destination`` (never over one)."""
    try:
        lines = Path(source).read_text("ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SandboxUsageError(
            f"Cannot read the .aes file {os.fspath(source)!r} ({exc}).",
            fix="Check the source path.",
        ) from exc
    try:
        if lines[0] != AES_BEGIN or AES_END not in lines:
            raise ValueError("not a sandbox .aes key")
        blank = lines.index("")
        header = lines[:blank]
        fields = dict(line.split(": ", 1) for line in header[1:])
        salt = base64.b64decode(fields["Salt"], validate=True)
        nonce = base64.b64decode(fields["Nonce"], validate=True)
        sealed = base64.b64decode("".join(lines[blank + 1 : lines.index(AES_END)]), validate=True)
    except (ValueError, KeyError, IndexError, binascii.Error) as exc:
        raise SandboxTamperedError(
            f"{os.fspath(source)} is not a sandbox .aes key file ({exc}).",
            fix="Use a file made by 'medshake-bridge sandbox make-keys --aes'.",
        ) from exc
    try:
        clear = AESGCM(_derive(code, salt)).decrypt(nonce, sealed, "\n".join(header).encode())
    except InvalidTag:
        raise SandboxLongCodeError(
            "The long code does not open this .aes key (or the file was altered).",
            fix="Type the long code again exactly as printed on the letter.",
        ) from None
    target = Path(destination)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SandboxUsageError(
            f"{target} already exists; the sandbox never overwrites a key.",
            fix="Move the existing key away first if it really must be replaced.",
        ) from None
    except OSError as exc:
        raise SandboxUsageError(
            f"Cannot write {target} ({exc.strerror}).", fix="Check the folder's permissions."
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(clear)
    return target
