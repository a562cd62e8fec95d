"""The sandbox's ASCII armour: AES-256-GCM under a fake yearly key, labelled FAKE on line one.

The format is our own and deliberately looks nothing like Apicrypt's (which we do not know and
must not imitate). It carries what the trust model needs in clear, authenticated headers:
the kind (``body`` or ``apz``), the sender, the recipients, whose key encrypts this copy
(``Key-Owner``: the sender before the relay, one recipient after), that key's year number and a
fingerprint. Everything between the BEGIN line and the blank line is the associated data, so a
changed recipient or year is detected like a changed ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medshake_bridge.sandbox.errors import (
    SandboxKeyMissingError,
    SandboxNotRecipientError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.keys import (
    SandboxKey,
    check_user,
    clefs_dir,
    key_owners,
    load_key,
)

BEGIN = "-----BEGIN MEDSHAKE SANDBOX ARMOUR (FAKE, NOT APICRYPT)-----"
END = "-----END MEDSHAKE SANDBOX ARMOUR (FAKE, NOT APICRYPT)-----"
NOTICE = "fake output of the medshake-bridge sandbox; not Apicrypt and not compatible with it"
KINDS = ("body", "apz")
_FIELDS = (
    "Notice",
    "Version",
    "Kind",
    "Sender",
    "Recipients",
    "Key-Owner",
    "Key-Year",
    "Key-Id",
    "Nonce",
)


@dataclass(frozen=True)
class ArmourHeader:
    """The clear, authenticated part of an armour."""

    kind: str
    sender: str
    recipients: tuple[str, ...]
    key_owner: str
    key_yy: int
    key_id: str
    nonce: bytes

    def lines(self) -> list[str]:
        return [
            f"Notice: {NOTICE}",
            "Version: 1",
            f"Kind: {self.kind}",
            f"Sender: {self.sender}",
            f"Recipients: {','.join(self.recipients)}",
            f"Key-Owner: {self.key_owner}",
            f"Key-Year: {self.key_yy}",
            f"Key-Id: {self.key_id}",
            f"Nonce: {base64.b64encode(self.nonce).decode('ascii')}",
        ]

    def associated_data(self) -> bytes:
        return "\n".join(self.lines()).encode("utf-8")


def seal(
    kind: str,
    plaintext: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    key: SandboxKey,
) -> bytes:
    """Encrypt ``plaintext`` with ``key`` (the sender's, or one recipient's after the relay)."""
    if kind not in KINDS:
        raise SandboxUsageError(f"Unknown armour kind {kind!r}.", fix=f"Use one of {KINDS}.")
    check_user(sender, what="sender")
    if not recipients:
        raise SandboxUsageError("No recipient given.", fix="Pass at least one recipient with -d.")
    for recipient in recipients:
        check_user(recipient, what="recipient")
    header = ArmourHeader(
        kind=kind,
        sender=sender,
        recipients=tuple(recipients),
        key_owner=key.user,
        key_yy=key.yy,
        key_id=key.key_id,
        nonce=os.urandom(12),
    )
    ciphertext = AESGCM(key.secret).encrypt(header.nonce, plaintext, header.associated_data())
    body = _lines_of(base64.b64encode(ciphertext).decode("ascii"), 76)
    return ("\n".join([BEGIN, *header.lines(), "", *body, END]) + "\n").encode("ascii")


def _lines_of(text: str, width: int) -> list[str]:
    """Cut ``text`` (one long base64 line) into lines of ``width``.

    Linear, unlike ``textwrap.wrap``, which is quadratic on a line without spaces: a 10 MB
    attachment took two minutes to armour with it.
    """
    return [text[start : start + width] for start in range(0, len(text), width)]


def parse(armour: bytes) -> tuple[ArmourHeader, bytes]:
    """Split an armour into its header and ciphertext; anything malformed counts as tampered.

    Text around the armour (a mail signature, CRLF line ends) is tolerated, as a mail body
    would carry it.
    """
    text = armour.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    try:
        start = lines.index(BEGIN)
    except ValueError:
        raise SandboxTamperedError(
            "This is not a sandbox armour (its BEGIN line is missing).",
            fix="Only output of the sandbox programs can be decrypted by them.",
        ) from None
    try:
        end = lines.index(END, start)
    except ValueError:
        raise SandboxTamperedError(
            "The sandbox armour is truncated (its END line is missing).",
            fix="Fetch the message again; it was cut in transit or by a fault.",
        ) from None
    block = lines[start + 1 : end]
    try:
        blank = block.index("")
    except ValueError:
        raise SandboxTamperedError(
            "The sandbox armour has no blank line after its header.", fix="Fetch it again."
        ) from None
    fields: dict[str, str] = {}
    names = []
    for line in block[:blank]:
        name, sep, value = line.partition(": ")
        if not sep:
            raise SandboxTamperedError(
                f"Malformed armour header line {line!r}.", fix="Fetch it again."
            )
        names.append(name)
        fields[name] = value
    if tuple(names) != _FIELDS or fields["Version"] != "1" or fields["Kind"] not in KINDS:
        raise SandboxTamperedError(
            "The sandbox armour header has unexpected fields or version.", fix="Fetch it again."
        )
    try:
        header = ArmourHeader(
            kind=fields["Kind"],
            sender=fields["Sender"],
            recipients=tuple(r for r in fields["Recipients"].split(",") if r),
            key_owner=fields["Key-Owner"],
            key_yy=int(fields["Key-Year"]),
            key_id=fields["Key-Id"],
            nonce=base64.b64decode(fields["Nonce"], validate=True),
        )
        ciphertext = base64.b64decode("".join(block[blank + 1 :]), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SandboxTamperedError(
            f"The sandbox armour is damaged ({exc}).", fix="Fetch it again."
        ) from exc
    if header.associated_data() != "\n".join(block[:blank]).encode("utf-8"):
        raise SandboxTamperedError("The sandbox armour header was altered.", fix="Fetch it again.")
    return header, ciphertext


def decrypt_with(header: ArmourHeader, ciphertext: bytes, key: SandboxKey) -> bytes:
    """Authenticate and decrypt with a key already chosen for ``header``."""
    if key.key_id != header.key_id:
        raise SandboxKeyMissingError(
            f"The key file {key.path} is not the key this armour was encrypted with "
            f"(fingerprint {key.key_id}, armour expects {header.key_id}).",
            fix="The key was probably recreated; restore the original key file.",
        )
    try:
        return AESGCM(key.secret).decrypt(header.nonce, ciphertext, header.associated_data())
    except InvalidTag:
        raise SandboxTamperedError(
            "The sandbox armour failed authentication: it was altered or truncated.",
            fix="Fetch the message again; do not edit armour by hand.",
        ) from None


def open_armour(
    armour: bytes, keys_dir: str | os.PathLike[str], *, kind: str
) -> tuple[ArmourHeader, bytes]:
    """Decrypt ``armour`` with the keys in ``keys_dir/Clefs``, as a recipient's program does.

    Errors, in the order they are checked: tampered/not an armour, wrong kind, no key at all,
    not a recipient (or not yet re-encrypted by the relay), wrong year, authentication failure.
    """
    header, ciphertext = parse(armour)
    if header.kind != kind:
        other = "apiuncryptpj" if header.kind == "apz" else "apiuncrypt"
        raise SandboxUsageError(
            f"This armour holds a {header.kind!r}, not a {kind!r}.", fix=f"Decrypt it with {other}."
        )
    owners = key_owners(keys_dir)
    folder = clefs_dir(keys_dir)
    if not owners:
        raise SandboxKeyMissingError(
            f"No sandbox key in {folder}.",
            fix="Pass with -k the folder that contains Clefs/, and create keys with make-keys.",
        )
    if header.key_owner not in owners:
        mine = sorted(owners)
        addressed = set(header.recipients)
        if header.key_owner == header.sender and addressed.intersection(mine):
            raise SandboxNotRecipientError(
                f"This armour is still encrypted with the sender {header.sender}'s key; it has "
                "not been through the relay.",
                fix="The relay (sandbox reencrypt) re-encrypts it for each recipient.",
            )
        raise SandboxNotRecipientError(
            f"This armour from {header.sender} is encrypted for {header.key_owner} "
            f"(recipients: {', '.join(header.recipients)}); the keys in {folder} belong to "
            f"{', '.join(mine)}.",
            fix="Only a recipient can decrypt it, with the copy the relay made for it.",
        )
    key = load_key(keys_dir, header.key_owner, header.key_yy)
    return header, decrypt_with(header, ciphertext, key)


def read_input(path: str | os.PathLike[str], what: str = "input") -> bytes:
    """Read a program's ``-s`` file with a usage error instead of a traceback."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SandboxUsageError(
            f"Cannot read the {what} {os.fspath(path)!r} ({exc.strerror}).",
            fix="Check the -s path and its permissions.",
        ) from exc
