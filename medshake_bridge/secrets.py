"""Encryption of secret setting values at rest.

Keys live outside the database (instance config, the ``instance/secret_keys`` file, or the
``MEDSHAKE_BRIDGE_SECRET_KEYS`` environment variable), newest first: MultiFernet encrypts with
the first and decrypts with any, so a key can be added, everything rotated, and the old key
removed without a moment where a secret cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from medshake_bridge.errors import ConfigurationError, SecretKeyMissingError
from medshake_bridge.paths import ensure_private_dir, write_private_file

KEY_FILE_NAME = "secret_keys"

HOW_TO_MAKE_A_KEY = (
    "run `medshake-bridge generate-secret-key --write` (it writes instance/secret_keys, mode "
    "0600) or set MEDSHAKE_BRIDGE_SECRET_KEYS to the output of `medshake-bridge "
    "generate-secret-key`"
)


def new_key() -> str:
    """A fresh Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(raw: str | Sequence[str] | None) -> list[str]:
    """Accept a list or a comma/whitespace separated text; drop blanks and comments."""
    if raw is None:
        return []
    lines = raw.splitlines() if isinstance(raw, str) else [str(item) for item in raw]
    keys = []
    for line in lines:
        if line.strip().startswith("#"):
            continue
        keys.extend(part.strip() for part in line.split(",") if part.strip())
    return keys


def read_key_file(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return parse_keys(path.read_text(encoding="ascii"))


def write_key_file(path: Path, keys: Iterable[str]) -> None:
    """Write the keys file atomically with mode 0600 (newest key first)."""
    body = "# medshake-bridge secret keys, newest first. Keep a backup; never commit.\n"
    body += "\n".join(keys) + "\n"
    ensure_private_dir(path.parent)
    write_private_file(path, body.encode("ascii"))


class SecretBox:
    """Encrypts and decrypts secret values with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = list(keys)
        fernets = []
        for index, key in enumerate(self._keys):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, TypeError):
                raise ConfigurationError(
                    f"secret key number {index + 1} is not a valid Fernet key",
                    fix=HOW_TO_MAKE_A_KEY,
                ) from None
        self._fernet = MultiFernet(fernets) if fernets else None

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretKeyMissingError(
                "no encryption key is configured, so secrets cannot be stored or read",
                fix=HOW_TO_MAKE_A_KEY,
            )
        return self._fernet

    def encrypt(self, plaintext: str) -> str:
        return self._require().encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._require().decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyMissingError(
                "a stored secret cannot be decrypted with the configured keys",
                fix="put back the key it was encrypted with (keys are listed newest first)",
            ) from None

    def rotate(self, token: str) -> str:
        try:
            return self._require().rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyMissingError(
                "a stored secret cannot be decrypted with the configured keys",
                fix="keep the old key in the list (after the new one) until rotation is done",
            ) from None
