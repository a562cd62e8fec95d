"""Sandbox Apicrypt v2: fake certificates, signed content, and v1/v2 interoperation.

Apicrypt v2 (DOMAIN §3) adds a per-user certificate protected by a password, signs every
message and uses UTF-8; its wire format is unknown. The sandbox plays it with its own FAKE
formats, built on the v1 sandbox so the relay treats both alike:

* **Certificate**: ``KEYDIR/Clefs/<user>.p12.sandbox``, a JSON file holding an scrypt hash of
  the password and an expiry date. Its presence is also what makes ``<user>`` a v2 user of the
  sandbox network (the relay reads it to know what each recipient understands). The key that
  encrypts is still the yearly ``<user>.<yy>`` of :mod:`~medshake_bridge.sandbox.keys`.
* **Signed content**: before sealing, the clear content is wrapped in an envelope: a magic line
  saying FAKE, a JSON line naming the signer, the key year and fingerprint and an HMAC-SHA256
  over the content under a key derived from the signer's yearly key, then the content itself.
  The envelope travels inside the ordinary armour (kind ``body`` or ``apz``), so a recipient
  learns whether the signature is valid only after decrypting, as with a real signed message.
* **Interoperation**: :func:`~medshake_bridge.sandbox.relay_crypto.reencrypt` keeps the envelope
  for v2 recipients and strips it for v1 recipients (whose programs know no signature), and a
  v1 sender's content reaches a v2 recipient unsigned. So v1 and v2 users exchange mail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from medshake_bridge.sandbox.armour import ArmourHeader, open_armour, seal
from medshake_bridge.sandbox.errors import (
    SandboxError,
    SandboxKeyMissingError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.keys import (
    SandboxKey,
    check_user,
    clefs_dir,
    current_year,
    load_key,
)

CERT_SUFFIX = ".p12.sandbox"
CERT_FORMAT = "medshake-sandbox-v2-certificate-1 (FAKE, NOT APICRYPT)"
SIGNED_MAGIC = b"MEDSHAKE SANDBOX V2 SIGNED CONTENT (FAKE, NOT APICRYPT)\n"
SIGNATURE_VALID = "valid"
SIGNATURE_INVALID = "invalid"
SIGNATURE_UNSIGNED = "unsigned"
SIGNATURE_STATUSES = (SIGNATURE_VALID, SIGNATURE_INVALID, SIGNATURE_UNSIGNED)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

# Written after the armour by the sandbox companion in its "duplicate" mode: the sandbox relay
# then delivers the message twice, as a real network sometimes does. It sits outside the
# armour's authenticated data, so nothing else reads it.
DELIVER_TWICE_MARKER = b"X-Sandbox-Deliver-Twice: FAKE sandbox duplicate mode"


class SandboxCertificateError(SandboxError):
    """A sandbox certificate is missing, unreadable, or refuses the request."""

    exit_code = 8


class SandboxCertificateMissingError(SandboxCertificateError):
    """No sandbox certificate by that name."""


class SandboxCertificatePasswordError(SandboxCertificateError):
    """The password does not open the certificate."""


class SandboxCertificateExpiredError(SandboxCertificateError):
    """The certificate's expiry date is past."""

    def __init__(self, message: str, *, fix: str = "", not_after: date | None = None) -> None:
        super().__init__(message, fix=fix)
        self.not_after = not_after


@dataclass(frozen=True)
class SandboxCertificate:
    """A fake v2 certificate: its name (the user), expiry, and the password's scrypt hash."""

    name: str
    not_after: date
    salt: bytes
    password_hash: bytes
    path: Path

    def expired(self, today: date) -> bool:
        return today > self.not_after


@dataclass(frozen=True)
class SignedContent:
    """An unwrapped envelope: who claims to have signed, with which key, and the content."""

    signer: str
    key_yy: int
    key_id: str
    signature: bytes
    content: bytes


@dataclass(frozen=True)
class V2Opened:
    """What a v2 recipient learns from a message: the content and its signature status."""

    header: ArmourHeader
    content: bytes
    signature_status: str
    signer: str | None
    reason: str = ""


# -- certificates -----------------------------------------------------------------------------


def sandbox_today() -> date:
    """Today, in the year ``MEDSHAKE_SANDBOX_YEAR`` says (the clock the sandbox programs use)."""
    today = date.today()
    year = current_year()
    try:
        return today.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def cert_path(keys_dir: str | os.PathLike[str], user: str) -> Path:
    """``KEYDIR/Clefs/<user>.p12.sandbox``."""
    return clefs_dir(keys_dir) / f"{check_user(user, what='certificate name')}{CERT_SUFFIX}"


def _hash_password(password: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, **_SCRYPT).derive(password.encode("utf-8"))


def make_certificate(
    user: str,
    keys_dir: str | os.PathLike[str],
    password: str,
    *,
    not_after: date | None = None,
    replace: bool = False,
) -> Path:
    """Write the fake certificate of ``user`` (default expiry: 31 December of this year).

    An existing certificate is kept unless ``replace`` (a new password or expiry is a new
    certificate, as with APICEM's yearly renewal).
    """
    if not password:
        raise SandboxUsageError(
            "A sandbox certificate needs a password.", fix="Give --password (or password=...)."
        )
    path = cert_path(keys_dir, user)
    if path.exists() and not replace:
        return path
    expiry = not_after or date(current_year(), 12, 31)
    salt = os.urandom(16)
    document = {
        "format": CERT_FORMAT,
        "notice": "FAKE certificate of the medshake-bridge sandbox; not Apicrypt",
        "name": user,
        "not_after": expiry.isoformat(),
        "scrypt": {
            **_SCRYPT,
            "salt": base64.b64encode(salt).decode("ascii"),
            "hash": base64.b64encode(_hash_password(password, salt)).decode("ascii"),
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
    os.replace(temporary, path)
    return path


def is_v2_user(keys_dir: str | os.PathLike[str], user: str) -> bool:
    """Whether ``user``'s key folder holds a sandbox v2 certificate."""
    try:
        return cert_path(keys_dir, user).is_file()
    except SandboxUsageError:
        return False


def load_certificate(keys_dir: str | os.PathLike[str], name: str) -> SandboxCertificate:
    """Read the certificate ``name`` from ``KEYDIR/Clefs``."""
    path = cert_path(keys_dir, name)
    if not path.is_file():
        raise SandboxCertificateMissingError(
            f"The sandbox companion knows no certificate {name!r} ({path} does not exist).",
            fix=f"Create it with 'medshake-bridge sandbox make-keys --v2 --user {name} ...', "
            "or correct apicrypt2CertName.",
        )
    try:
        document = json.loads(path.read_text("utf-8"))
        if document.get("format") != CERT_FORMAT or document.get("name") != name:
            raise ValueError("not a sandbox certificate of that name")
        scrypt = document["scrypt"]
        return SandboxCertificate(
            name=name,
            not_after=date.fromisoformat(document["not_after"]),
            salt=base64.b64decode(scrypt["salt"], validate=True),
            password_hash=base64.b64decode(scrypt["hash"], validate=True),
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SandboxCertificateMissingError(
            f"{path} is not a usable sandbox certificate ({exc}).",
            fix="Recreate it with 'medshake-bridge sandbox make-keys --v2'.",
        ) from exc


def password_matches(cert: SandboxCertificate, password: str) -> bool:
    """Constant-time comparison of the password's scrypt hash."""
    return hmac.compare_digest(_hash_password(password or "", cert.salt), cert.password_hash)


def open_certificate(
    keys_dir: str | os.PathLike[str], name: str, password: str, *, today: date | None = None
) -> SandboxCertificate:
    """Load ``name`` and check its password and expiry, as the companion does for each call."""
    cert = load_certificate(keys_dir, name)
    if not password_matches(cert, password):
        raise SandboxCertificatePasswordError(
            f"The password of the certificate {name!r} is wrong.",
            fix="Re-enter apicrypt2CertPassword exactly as APICEM gave it.",
        )
    when = today or sandbox_today()
    if cert.expired(when):
        raise SandboxCertificateExpiredError(
            f"The certificate {name!r} expired on {cert.not_after.isoformat()}.",
            fix="Install the renewed certificate from APICEM (sandbox: make-keys --v2 --replace).",
            not_after=cert.not_after,
        )
    return cert


# -- signatures -------------------------------------------------------------------------------


def _signing_key(key: SandboxKey) -> bytes:
    return hashlib.sha256(b"medshake-sandbox-v2-signing\0" + key.secret).digest()


def _mac(key: SandboxKey, signer: str, content: bytes) -> bytes:
    message = b"\0".join([SIGNED_MAGIC, signer.encode("utf-8"), str(key.yy).encode(), content])
    return hmac.new(_signing_key(key), message, hashlib.sha256).digest()


def sign(content: bytes, key: SandboxKey) -> bytes:
    """Wrap ``content`` in a signed envelope under ``key`` (its owner is the signer)."""
    meta = {
        "signer": key.user,
        "key_year": key.yy,
        "key_id": key.key_id,
        "alg": "HMAC-SHA256 (sandbox)",
        "signature": base64.b64encode(_mac(key, key.user, content)).decode("ascii"),
    }
    return SIGNED_MAGIC + json.dumps(meta).encode("ascii") + b"\n" + content


def unwrap(data: bytes) -> SignedContent | None:
    """The envelope in ``data``, or ``None`` when the content is not signed (a v1 sender)."""
    if not data.startswith(SIGNED_MAGIC):
        return None
    rest = data[len(SIGNED_MAGIC) :]
    line, newline, content = rest.partition(b"\n")
    try:
        if not newline:
            raise ValueError("no content line")
        meta = json.loads(line.decode("ascii"))
        return SignedContent(
            signer=check_user(str(meta["signer"]), what="signer"),
            key_yy=int(meta["key_year"]),
            key_id=str(meta["key_id"]),
            signature=base64.b64decode(meta["signature"], validate=True),
            content=content,
        )
    except (ValueError, KeyError, TypeError, binascii.Error, SandboxUsageError) as exc:
        raise SandboxTamperedError(
            f"The signed envelope is malformed ({exc}).", fix="Ask the sender to send it again."
        ) from exc


def strip_signature(data: bytes) -> bytes:
    """The content without its envelope (what a v1 recipient receives); unsigned data as is."""
    signed = unwrap(data)
    return data if signed is None else signed.content


def verify(signed: SignedContent, network_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Check ``signed`` with the signer's key from ``NETWORK/<signer>/Clefs``.

    Returns (status, reason). A signer whose key the network does not hold cannot be trusted,
    so that is ``invalid`` too, with the reason saying so.
    """
    try:
        key = load_key(Path(network_dir) / signed.signer, signed.signer, signed.key_yy)
    except SandboxKeyMissingError as exc:
        return SIGNATURE_INVALID, f"the signer's key cannot be found ({exc.message})"
    if key.key_id != signed.key_id:
        return SIGNATURE_INVALID, "the signer's key does not match the signature's fingerprint"
    expected = _mac(key, signed.signer, signed.content)
    if not hmac.compare_digest(expected, signed.signature):
        return SIGNATURE_INVALID, "the content does not match its signature"
    return SIGNATURE_VALID, ""


def seal_v2(kind: str, content: bytes, *, recipients: list[str], key: SandboxKey) -> bytes:
    """Sign ``content`` with the sender's ``key``, then seal it as v1 sandbox armour."""
    return seal(kind, sign(content, key), sender=key.user, recipients=recipients, key=key)


def open_v2(
    armour: bytes,
    network_dir: str | os.PathLike[str],
    recipient: str,
    *,
    kind: str,
) -> V2Opened:
    """Decrypt a relayed armour as v2 ``recipient`` and check the signature, if any.

    Decryption failures raise (not a recipient, tampered, key missing); a bad signature does
    not: it is reported in ``signature_status`` so the inbox can flag the message.
    """
    header, clear = open_armour(armour, Path(network_dir) / recipient, kind=kind)
    signed = unwrap(clear)
    if signed is None:
        return V2Opened(header, clear, SIGNATURE_UNSIGNED, None)
    status, reason = verify(signed, network_dir)
    if status == SIGNATURE_VALID and signed.signer != header.sender:
        status, reason = SIGNATURE_INVALID, (
            f"signed by {signed.signer} but sent as {header.sender}"
        )
    return V2Opened(header, signed.content, status, signed.signer, reason)
