"""MariaDB's ``AES_ENCRYPT``/``AES_DECRYPT`` in Python (AES-128-ECB, XOR-folded key, PKCS#7).

MedShakeEHR stores account hashes and user-level passwords with these functions and the
``sqlVarPassword`` of its config.yml; doing it here keeps that secret out of SQL statements
(and so out of MariaDB's logs and process list).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _folded_key(secret: bytes) -> bytes:
    key = bytearray(16)
    for index, byte in enumerate(secret):
        key[index % 16] ^= byte
    return bytes(key)


def aes_encrypt(plain: bytes, secret: bytes) -> bytes:
    """``AES_ENCRYPT(plain, secret)`` as MariaDB computes it."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_folded_key(secret)), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(data) + encryptor.finalize()


def aes_decrypt(cipher: bytes, secret: bytes) -> bytes | None:
    """``AES_DECRYPT(cipher, secret)``; ``None`` (like MariaDB's NULL) when it does not decrypt."""
    if not cipher or len(cipher) % 16:
        return None
    decryptor = Cipher(algorithms.AES(_folded_key(secret)), modes.ECB()).decryptor()  # noqa: S305
    data = decryptor.update(cipher) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        return None


def decrypt_hex(value: str, secret: bytes) -> str | None:
    """``CONVERT(AES_DECRYPT(UNHEX(value), secret), CHAR)``: a user-level password parameter."""
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        return None
    plain = aes_decrypt(raw, secret)
    if plain is None:
        return None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        return None
