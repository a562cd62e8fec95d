"""The sandbox's ASCII armour: AES-256-GCM under a fake yearly key, labelled FAKE on line one.

The format is our own and deliberately looks nothing like Apicrypt's (which we do not know and
must not imitate). It carries what the trust model needs in clear, authenticated headers:
the kind (``body`` or ``apz``), the sender, the recipients, whose key encrypts this copy
(``Key-Owner``: the sender before the relay, one recipient after), that key's year number and a
fingerprint. Everything between the BEGIN line and the blank line is the associated data, so a
changed recipient or year is detected like a changed ciphertext.

Sealing and opening are streamed (:class:`ArmourWriter`, :class:`ArmourReader`,
:func:`open_armour_file`): a 50 MB attachment is encrypted or decrypted in blocks of about a
megabyte, so a program's memory does not grow with the file. The byte API (:func:`seal`,
:func:`parse`, :func:`open_armour`) produces and reads exactly the same text.

Two forms share the header. ``Version: 1`` (text): the ciphertext and its tag in base64 lines,
then the END line; the body armour is always this form, since it travels as a mail's text.
``Version: 2`` (binary, what ``apicryptpj`` writes since issue 18): the same header, then the
raw ciphertext and its 16-byte tag up to the end of the file. A ``.apz`` is a file that the
mail carries base64-encoded anyway, as a real one is: base64 inside base64 made a 50 MB
attachment a 92 MB message (68 MB as a binary ``.apz``) and cost every step of the path one
more encoding or decoding. The version is in the authenticated header, so neither form can be
passed off as the other; readers take both (mail already sent keeps working).
"""

from __future__ import annotations

import binascii
import os
from io import BytesIO

from medshake_bridge.base64lines import encode_lines
from medshake_bridge.sandbox.errors import (
    SandboxKeyMissingError,
    SandboxNotRecipientError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.keys import (
    SandboxKey,
    _clefs,
    check_user,
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
TAG_SIZE = 16
LINE_WIDTH = 76
_LINE_BYTES = LINE_WIDTH // 4 * 3  # 57 clear bytes make one full line of base64
BLOCK_SIZE = _LINE_BYTES * 16384  # about 0.9 MB of clear data per step
_READ_SIZE = 1 << 20
_MAX_HEADER_LINE = 1 << 16
_SPACES = b" \t\r\n"
SMALL_ARMOUR = 6 << 20  # armour up to this size is opened in one step, in memory

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import BinaryIO


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False)


def _b64decode(data: bytes | str) -> bytes:
    """Strict base64 (alphabet and padding), like ``base64.b64decode(validate=True)``."""
    if isinstance(data, str):
        data = data.encode("ascii")
    return binascii.a2b_base64(data, strict_mode=True)


def _aesgcm(secret: bytes):  # noqa: ANN202 - an AESGCM object
    """One-shot AES-256-GCM.

    ``cryptography``'s public module imports ``typing``, which costs a sandbox program more
    start-up than everything else it does on a small message; the Rust class behind it is used
    when this version of ``cryptography`` has it, the public one otherwise.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        return rust_openssl.aead.AESGCM(secret)
    except (ImportError, AttributeError):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(secret)


def _gcm(secret: bytes, nonce: bytes, *, encrypt: bool):  # noqa: ANN202 - a cipher context
    """A streaming AES-256-GCM context (large files only)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(secret), modes.GCM(nonce))
    return cipher.encryptor() if encrypt else cipher.decryptor()


def _is_invalid_tag(exc: BaseException) -> bool:
    from cryptography.exceptions import InvalidTag

    return isinstance(exc, InvalidTag)


class ArmourHeader:
    """The clear, authenticated part of an armour (immutable; a plain class because importing
    ``dataclasses`` or ``typing`` would slow every program start)."""

    __slots__ = ("binary", "key_id", "key_owner", "key_yy", "kind", "nonce", "recipients",
                 "sender")
    _ORDER = ("kind", "sender", "recipients", "key_owner", "key_yy", "key_id", "nonce",
              "binary")
    kind: str
    sender: str
    recipients: tuple[str, ...]
    key_owner: str
    key_yy: int
    key_id: str
    nonce: bytes
    binary: bool  # Version 2: raw ciphertext after the header (see the module docstring)

    def __init__(
        self,
        *,
        kind: str,
        sender: str,
        recipients: tuple[str, ...],
        key_owner: str,
        key_yy: int,
        key_id: str,
        nonce: bytes,
        binary: bool = False,
    ) -> None:
        values = (kind, sender, recipients, key_owner, key_yy, key_id, nonce, binary)
        for name, value in zip(self._ORDER, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ArmourHeader is immutable ({name})")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._ORDER)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArmourHeader):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._ORDER)
        return f"ArmourHeader({fields})"

    def lines(self) -> list[str]:
        return [
            f"Notice: {NOTICE}",
            "Version: 2" if self.binary else "Version: 1",
            f"Kind: {self.kind}",
            f"Sender: {self.sender}",
            f"Recipients: {','.join(self.recipients)}",
            f"Key-Owner: {self.key_owner}",
            f"Key-Year: {self.key_yy}",
            f"Key-Id: {self.key_id}",
            f"Nonce: {_b64encode(self.nonce).decode('ascii')}",
        ]

    def associated_data(self) -> bytes:
        return "\n".join(self.lines()).encode("utf-8")


def _new_header(
    kind: str, *, sender: str, recipients: Sequence[str], key: SandboxKey, binary: bool = False
) -> ArmourHeader:
    if kind not in KINDS:
        raise SandboxUsageError(f"Unknown armour kind {kind!r}.", fix=f"Use one of {KINDS}.")
    check_user(sender, what="sender")
    if not recipients:
        raise SandboxUsageError("No recipient given.", fix="Pass at least one recipient with -d.")
    for recipient in recipients:
        check_user(recipient, what="recipient")
    return ArmourHeader(
        kind=kind,
        sender=sender,
        recipients=tuple(recipients),
        key_owner=key.user,
        key_yy=key.yy,
        key_id=key.key_id,
        nonce=os.urandom(12),
        binary=binary,
    )


def base64_lines(data: bytes | memoryview) -> bytes:
    """``data`` as base64 lines of 76 characters, each ended by a newline (linear).

    Encoded a block at a time, so the line pieces in memory at once stay about a megabyte
    whatever the size (a list of every line of 50 MB weighed more than the text itself).
    """
    view = memoryview(data)
    if len(view) <= BLOCK_SIZE:
        return encode_lines(view)
    return b"".join(
        encode_lines(view[at : at + BLOCK_SIZE]) for at in range(0, len(view), BLOCK_SIZE)
    )


class ArmourWriter:
    """Seal a stream: ``write`` clear bytes as they come, ``close`` writes the tag and END.

    The output is identical to :func:`seal`'s: the base64 of ciphertext followed by the GCM
    tag, in lines of 76 (clear data buffered only up to one block, about 0.9 MB); with
    ``binary``, the raw ciphertext as it comes, then the tag.
    """

    def __init__(
        self,
        out: BinaryIO,
        kind: str,
        *,
        sender: str,
        recipients: Sequence[str],
        key: SandboxKey,
        binary: bool = False,
    ) -> None:
        self.header = _new_header(
            kind, sender=sender, recipients=recipients, key=key, binary=binary
        )
        self._out = out
        self._encryptor = _gcm(key.secret, self.header.nonce, encrypt=True)
        self._encryptor.authenticate_additional_data(self.header.associated_data())
        self._pending = bytearray()
        out.write(("\n".join([BEGIN, *self.header.lines(), ""]) + "\n").encode("ascii"))

    def write(self, data: bytes) -> None:
        if self.header.binary:
            self._out.write(self._encryptor.update(data))
            return
        self._pending += self._encryptor.update(data)
        if len(self._pending) >= BLOCK_SIZE:
            whole = len(self._pending) - len(self._pending) % _LINE_BYTES
            self._out.write(base64_lines(bytes(self._pending[:whole])))
            del self._pending[:whole]

    def close(self) -> None:
        if self.header.binary:
            self._out.write(self._encryptor.finalize() + self._encryptor.tag)
            return
        self._pending += self._encryptor.finalize()
        self._pending += self._encryptor.tag
        self._out.write(base64_lines(bytes(self._pending)))
        self._pending.clear()
        self._out.write((END + "\n").encode("ascii"))


def seal(
    kind: str,
    plaintext: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    key: SandboxKey,
    binary: bool = False,
) -> bytes:
    """Encrypt ``plaintext`` with ``key`` (the sender's, or one recipient's after the relay).

    In memory and in one step (the same output as :class:`ArmourWriter` writes in blocks);
    ``binary``: the Version 2 form (raw ciphertext, see the module docstring).
    """
    header = _new_header(kind, sender=sender, recipients=recipients, key=key, binary=binary)
    ciphertext = _aesgcm(key.secret).encrypt(header.nonce, plaintext, header.associated_data())
    head = ("\n".join([BEGIN, *header.lines(), ""]) + "\n").encode("ascii")
    if binary:
        return head + ciphertext
    return b"".join([head, base64_lines(ciphertext), (END + "\n").encode("ascii")])


def _damaged(reason: str) -> SandboxTamperedError:
    return SandboxTamperedError(f"The sandbox armour is damaged ({reason}).", fix="Fetch it again.")


def _truncated() -> SandboxTamperedError:
    return SandboxTamperedError(
        "The sandbox armour is truncated (its END line is missing).",
        fix="Fetch the message again; it was cut in transit or by a fault.",
    )


def _text_line(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip()


def _read_header(handle: BinaryIO) -> ArmourHeader:
    """Skip any text before BEGIN, then read and check the header up to its blank line."""
    while True:
        raw = handle.readline(_MAX_HEADER_LINE)
        if not raw:
            raise SandboxTamperedError(
                "This is not a sandbox armour (its BEGIN line is missing).",
                fix="Only output of the sandbox programs can be decrypted by them.",
            )
        if _text_line(raw) == BEGIN:
            break
    block: list[str] = []
    while True:
        raw = handle.readline(_MAX_HEADER_LINE)
        if not raw:
            raise _truncated()
        line = _text_line(raw)
        if line == END:
            raise SandboxTamperedError(
                "The sandbox armour has no blank line after its header.", fix="Fetch it again."
            )
        if not line:
            break
        if len(block) > len(_FIELDS):
            raise SandboxTamperedError(
                "The sandbox armour header has unexpected fields or version.",
                fix="Fetch it again.",
            )
        block.append(line)
    fields: dict[str, str] = {}
    names = []
    for line in block:
        name, sep, value = line.partition(": ")
        if not sep:
            raise SandboxTamperedError(
                f"Malformed armour header line {line!r}.", fix="Fetch it again."
            )
        names.append(name)
        fields[name] = value
    if tuple(names) != _FIELDS or fields["Version"] not in ("1", "2") or \
            fields["Kind"] not in KINDS:
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
            nonce=_b64decode(fields["Nonce"]),
            binary=fields["Version"] == "2",
        )
    except (ValueError, binascii.Error) as exc:
        raise _damaged(str(exc)) from exc
    if header.associated_data() != "\n".join(block).encode("utf-8"):
        raise SandboxTamperedError("The sandbox armour header was altered.", fix="Fetch it again.")
    return header


def _ciphertext_blocks(handle: BinaryIO) -> Iterator[bytes]:
    """The decoded base64 between the header and END, in blocks (tag included, at the end).

    Base64 never contains ``-``, so the first ``-`` ends the data: it must start the END line.
    """
    carry = b""
    ended = False
    while not ended:
        raw = handle.read(_READ_SIZE)
        if not raw:
            raise _truncated()
        dash = raw.find(b"-")
        if dash >= 0:
            tail = raw[dash:]
            while b"\n" not in tail and len(tail) < len(END) + 2:
                more = handle.read(_READ_SIZE)
                if not more:
                    break
                tail += more
            if _text_line(tail.split(b"\n", 1)[0]) != END:
                if tail.startswith(END[:10].encode()):
                    raise _truncated()
                raise _damaged("unexpected text inside the base64 data")
            raw = raw[:dash]
            ended = True
        data = carry + raw.translate(None, _SPACES)
        usable = len(data) - len(data) % 4
        carry = data[usable:]
        if usable:
            try:
                yield _b64decode(data[:usable])
            except (ValueError, binascii.Error) as exc:
                raise _damaged(str(exc)) from exc
    if carry:
        raise _damaged("incomplete base64 data")


class ArmourReader:
    """An armour being read from a binary file: its header first, then its clear content.

    :meth:`plaintext` yields clear blocks before the tag is checked (GCM); callers write them
    to a file they only keep when the iteration ends without error.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.header = _read_header(handle)

    def _blocks(self) -> Iterator[bytes]:
        """The ciphertext and tag, in blocks: decoded from base64 (Version 1), or read as
        they are up to the end of the file (Version 2)."""
        if not self.header.binary:
            yield from _ciphertext_blocks(self._handle)
            return
        while block := self._handle.read(_READ_SIZE):
            yield block

    def ciphertext(self) -> bytes:
        """The whole ciphertext and tag (for the byte API)."""
        if self.header.binary:
            return self._handle.read()
        return b"".join(_ciphertext_blocks(self._handle))

    def plaintext(self, key: SandboxKey) -> Iterator[bytes]:
        _check_key(self.header, key)
        decryptor = _gcm(key.secret, self.header.nonce, encrypt=False)
        decryptor.authenticate_additional_data(self.header.associated_data())
        held = b""
        for block in self._blocks():
            held = held + block if held else block
            if len(held) > TAG_SIZE:
                yield decryptor.update(memoryview(held)[:-TAG_SIZE])
                held = held[-TAG_SIZE:]
        if len(held) < TAG_SIZE:
            raise _failed()
        try:
            last = decryptor.finalize_with_tag(held)
        except Exception as exc:
            if _is_invalid_tag(exc):
                raise _failed() from None
            raise
        yield last


def _failed() -> SandboxTamperedError:
    return SandboxTamperedError(
        "The sandbox armour failed authentication: it was altered or truncated.",
        fix="Fetch the message again; do not edit armour by hand.",
    )


def parse(armour: bytes) -> tuple[ArmourHeader, bytes]:
    """Split an armour into its header and ciphertext; anything malformed counts as tampered.

    Text around the armour (a mail signature, CRLF line ends) is tolerated, as a mail body
    would carry it.
    """
    reader = ArmourReader(BytesIO(armour))
    return reader.header, reader.ciphertext()


def _check_key(header: ArmourHeader, key: SandboxKey) -> None:
    if key.key_id != header.key_id:
        raise SandboxKeyMissingError(
            f"The key file {key.path} is not the key this armour was encrypted with "
            f"(fingerprint {key.key_id}, armour expects {header.key_id}).",
            fix="The key was probably recreated; restore the original key file.",
        )


def decrypt_with(header: ArmourHeader, ciphertext: bytes, key: SandboxKey) -> bytes:
    """Authenticate and decrypt with a key already chosen for ``header``."""
    _check_key(header, key)
    try:
        return _aesgcm(key.secret).decrypt(header.nonce, ciphertext, header.associated_data())
    except Exception as exc:
        if _is_invalid_tag(exc):
            raise _failed() from None
        raise


def recipient_key(
    header: ArmourHeader, keys_dir: str | os.PathLike[str], *, kind: str
) -> SandboxKey:
    """The key in ``keys_dir/Clefs`` that opens ``header``, as a recipient's program finds it.

    Errors, in the order they are checked: wrong kind, no key at all, not a recipient (or not
    yet re-encrypted by the relay), wrong year.
    """
    if header.kind != kind:
        other = "apiuncryptpj" if header.kind == "apz" else "apiuncrypt"
        raise SandboxUsageError(
            f"This armour holds a {header.kind!r}, not a {kind!r}.", fix=f"Decrypt it with {other}."
        )
    owners = key_owners(keys_dir)
    folder = _clefs(keys_dir)
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
    return load_key(keys_dir, header.key_owner, header.key_yy)


def open_armour(
    armour: bytes, keys_dir: str | os.PathLike[str], *, kind: str
) -> tuple[ArmourHeader, bytes]:
    """Decrypt ``armour`` with the keys in ``keys_dir/Clefs``, as a recipient's program does.

    Errors, in the order they are checked: tampered/not an armour, wrong kind, no key at all,
    not a recipient (or not yet re-encrypted by the relay), wrong year, authentication failure.
    """
    header, ciphertext = parse(armour)
    key = recipient_key(header, keys_dir, kind=kind)
    return header, decrypt_with(header, ciphertext, key)


def opened_blocks(
    handle: BinaryIO, keys_dir: str | os.PathLike[str], *, kind: str
) -> tuple[ArmourHeader, Iterator[bytes]]:
    """The header of the armour in the open file ``handle`` and its clear content in blocks,
    checked by a recipient's key; the content is authenticated when the blocks are exhausted
    (up to :data:`SMALL_ARMOUR`, in memory and before this returns)."""
    if os.fstat(handle.fileno()).st_size <= SMALL_ARMOUR:
        header, clear = open_armour(handle.read(), keys_dir, kind=kind)
        return header, iter((clear,))
    reader = ArmourReader(handle)
    return reader.header, reader.plaintext(recipient_key(reader.header, keys_dir, kind=kind))


def open_armour_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    keys_dir: str | os.PathLike[str],
    *,
    kind: str,
) -> ArmourHeader:
    """Decrypt the armour in file ``source`` into file ``destination``, streamed.

    The clear text goes to a hidden file beside ``destination`` that is renamed into place
    only once the armour has been authenticated; on any error nothing is left behind.
    """
    target = os.fspath(destination)
    with open_input(source) as handle:
        header, blocks = opened_blocks(handle, keys_dir, kind=kind)
        folder, name = os.path.split(target)
        temporary = os.path.join(folder, f".{name}.{os.getpid()}.part")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise SandboxUsageError(
                f"Cannot write {target} ({exc.strerror}).", fix="Check the -o path and its folder."
            ) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                for block in blocks:
                    out.write(block)
            os.replace(temporary, target)
        except BaseException:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise
    return header


def open_input(path: str | os.PathLike[str], what: str = "input") -> BinaryIO:
    """Open a program's ``-s`` file for reading, with a usage error instead of a traceback."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise SandboxUsageError(
            f"Cannot read the {what} {os.fspath(path)!r} ({exc.strerror}).",
            fix="Check the -s path and its permissions.",
        ) from exc


def read_input(path: str | os.PathLike[str], what: str = "input") -> bytes:
    """Read a program's ``-s`` file with a usage error instead of a traceback."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SandboxUsageError(
            f"Cannot read the {what} {os.fspath(path)!r} ({exc.strerror}).",
            fix="Check the -s path and its permissions.",
        ) from exc
