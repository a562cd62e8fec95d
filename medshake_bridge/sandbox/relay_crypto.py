"""The server step of the trust model: decrypt with the sender's key, re-encrypt per recipient.

On the real network the sender encrypts with its own yearly key and APICEM's server re-encrypts
for each recipient. The sandbox relay (and ``medshake-bridge sandbox reencrypt``) does the same
with the fake keys of every sandbox user, kept as ``NETWORK/<user>/Clefs/<user>.<yy>``. It works
on body armour and on ``.apz`` content alike, since both are armour.

v1 and v2 users share the network, as on the real one: a v2 sender's content is signed
(:mod:`~medshake_bridge.sandbox.v2`); v2 recipients (those with a sandbox certificate) get it
with its signature, v1 recipients get the bare content their programs understand, and a v1
sender's unsigned content reaches v2 recipients unsigned.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from medshake_bridge.sandbox.armour import decrypt_with, parse, seal
from medshake_bridge.sandbox.errors import SandboxKeyMissingError, SandboxUsageError
from medshake_bridge.sandbox.keys import SandboxKey, load_key
from medshake_bridge.sandbox.v2 import is_v2_user, strip_signature


def _network_key(network_dir: Path, user: str, yy: int, role: str) -> SandboxKey:
    user_dir = network_dir / user
    if not user_dir.is_dir():
        raise SandboxKeyMissingError(
            f"The relay knows no sandbox user {user!r} ({role}): {user_dir} does not exist.",
            fix=f"Create it with 'medshake-bridge sandbox make-keys --user {user} "
            f"--keys {user_dir}'.",
        )
    return load_key(user_dir, user, yy)


def reencrypt(network_dir: str | os.PathLike[str], armour: bytes) -> dict[str, bytes]:
    """Return one armour per recipient, each encrypted with that recipient's key.

    The year is the one the sender used (``Key-Year``). A signed (v2) content keeps its
    signature for v2 recipients and loses it for v1 recipients. Raises a sandbox error when
    the armour is tampered, was already re-encrypted, or a sender's or recipient's key is
    missing; nothing is returned partially, so a relay either delivers to everyone or to no one.
    """
    network = Path(network_dir)
    header, ciphertext = parse(armour)
    if header.key_owner != header.sender:
        raise SandboxUsageError(
            f"This armour was already re-encrypted for {header.key_owner}.",
            fix="Give the relay what the sender's program produced.",
        )
    sender_key = _network_key(network, header.sender, header.key_yy, "sender")
    plaintext = decrypt_with(header, ciphertext, sender_key)
    copies: dict[str, bytes] = {}
    for recipient in header.recipients:
        key = _network_key(network, recipient, header.key_yy, "recipient")
        v2 = is_v2_user(network / recipient, recipient)
        copies[recipient] = seal(
            header.kind,
            plaintext if v2 else strip_signature(plaintext),
            sender=header.sender,
            recipients=header.recipients,
            key=key,
            binary=header.binary,  # each copy in the form the sender's program wrote
        )
    return copies


def reencrypt_file(network_dir: str | os.PathLike[str], armour: Path | BinaryIO,
                   out_for: Callable[[str], Path]) -> dict[str, Path]:
    """:func:`reencrypt` from a file (or a binary stream, read to its end) to one file per
    recipient (``out_for(recipient)``), streamed a block at a time: memory stays about a
    megabyte whatever the size.

    Every copy is written in one pass over the sender's ciphertext; the GCM tag is checked at
    the end, and on any error every output is removed before the error is raised, so nothing
    of an altered content is ever delivered.
    """
    from medshake_bridge.sandbox.armour import ArmourReader, ArmourWriter
    from medshake_bridge.sandbox.v2 import SIGNED_MAGIC, unwrap

    network = Path(network_dir)
    outputs: dict[str, Path] = {}
    handles: list[BinaryIO] = []
    try:
        with armour.open("rb") if isinstance(armour, Path) else armour as source:
            reader = ArmourReader(source)
            header = reader.header
            if header.key_owner != header.sender:
                raise SandboxUsageError(
                    f"This armour was already re-encrypted for {header.key_owner}.",
                    fix="Give the relay what the sender's program produced.",
                )
            sender_key = _network_key(network, header.sender, header.key_yy, "sender")
            writers: list[tuple[bool, ArmourWriter]] = []
            for recipient in header.recipients:
                key = _network_key(network, recipient, header.key_yy, "recipient")
                path = outputs[recipient] = out_for(recipient)
                handle = path.open("wb")
                handles.append(handle)
                writers.append((is_v2_user(network / recipient, recipient),
                                ArmourWriter(handle, header.kind, sender=header.sender,
                                             recipients=header.recipients, key=key,
                                             binary=header.binary)))
            start = b""  # held until it is known whether the content is signed (v2)
            started = False
            for block in reader.plaintext(sender_key):
                if not started:
                    start += block
                    magic = start[:len(SIGNED_MAGIC)]
                    if SIGNED_MAGIC.startswith(magic) and (
                            len(start) < len(SIGNED_MAGIC)
                            or b"\n" not in start[len(SIGNED_MAGIC):]):
                        continue  # not enough yet to tell
                    started = True
                    block, start = start, b""
                    if block.startswith(SIGNED_MAGIC):
                        line_end = block.index(b"\n", len(SIGNED_MAGIC)) + 1
                        unwrap(block[:line_end])  # a malformed envelope fails as before
                        for v2, writer in writers:
                            writer.write(block if v2 else block[line_end:])
                        continue
                for _, writer in writers:
                    writer.write(block)
            if not started and start:
                for v2, writer in writers:
                    writer.write(start if v2 else strip_signature(start))
            for _, writer in writers:
                writer.close()
    except BaseException:
        for handle in handles:
            handle.close()
        for path in outputs.values():
            path.unlink(missing_ok=True)
        raise
    for handle in handles:
        handle.close()
    return outputs
