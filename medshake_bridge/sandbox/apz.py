"""What the sandbox puts inside a ``.apz``: several named files in one encrypted container.

A real ``.apz`` may hold several files named by the program (DOMAIN §2), so the sandbox's does
too. The clear container is JSON (names kept as Unicode, content in base64) and is then sealed
as an armour of kind ``apz``: the relay re-encrypts it exactly like a body.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from medshake_bridge.sandbox.errors import SandboxTamperedError, SandboxUsageError

FORMAT = "medshake-sandbox-apz-1 (FAKE, NOT APICRYPT)"


def check_file_name(name: str) -> str:
    """A plain file name: no folder part, no '..', no control characters."""
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
        or len(name.encode("utf-8", errors="surrogateescape")) > 255
    ):
        raise SandboxUsageError(
            f"{name!r} cannot be used as a file name in a .apz.",
            fix="Rename the file: no folder separators, no control characters.",
        )
    return name


def pack(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The clear container for ``files`` (name, content); names must be distinct."""
    if not files:
        raise SandboxUsageError("No file to put in the .apz.", fix="Give at least one -s FILE.")
    seen: set[str] = set()
    entries = []
    for name, data in files:
        check_file_name(name)
        if name in seen:
            raise SandboxUsageError(
                f"Two files named {name!r} in one .apz.", fix="Rename one of them."
            )
        seen.add(name)
        entries.append({"name": name, "data": base64.b64encode(data).decode("ascii")})
    return json.dumps({"format": FORMAT, "files": entries}, ensure_ascii=False).encode("utf-8")


def unpack(container: bytes) -> list[tuple[str, bytes]]:
    """The files of a clear container, names checked again (a sender may be malicious)."""
    try:
        document = json.loads(container.decode("utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError("unknown container format")
        files = [
            (check_file_name(str(entry["name"])), base64.b64decode(entry["data"], validate=True))
            for entry in document["files"]
        ]
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        binascii.Error,
        SandboxUsageError,
    ) as exc:
        raise SandboxTamperedError(
            f"The .apz container is malformed ({exc}).", fix="Ask the sender to send it again."
        ) from exc
    return files
