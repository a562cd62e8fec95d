"""Turning one stored raw message into inbox documents.

Runs on the raw file only (never on the server): decrypt the body and the ``.apz``
attachments with the owner's back-end in a private work folder, decode the text, split and parse
the HPRIM documents. Files are staged next to their final folder and renamed into place, so a
crash leaves either nothing or a folder that the next attempt replaces.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medshake_bridge.backends import DecryptedLimits, decrypted_limits
from medshake_bridge.collect.filenames import safe_display_name
from medshake_bridge.collect.mime import ParsedMessage, parse_message_file
from medshake_bridge.errors import CONTENT, BridgeError, CryptoError, ProgramError, error_cause
from medshake_bridge.hprim import HprimDocument, has_end_markers, parse_message_text
from medshake_bridge.interfaces import CryptoBackend
from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.textdecode import decode_bytes
from medshake_bridge.workfolders import ScratchFolders, scratch_folder

log = logging.getLogger(__name__)

ENCRYPTED_ATTACHMENT_SUFFIX = ".apz"


class ProcessingError(BridgeError):
    """A stored message could not be turned into documents (it stays stored and is retried)."""


@dataclass
class ProcessedMessage:
    parsed: ParsedMessage
    text: str
    documents: list[HprimDocument]
    attachments: list[dict[str, Any]] = field(default_factory=list)
    folder: Path | None = None
    signature_status: str = ""
    signer: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def unencrypted(self) -> bool:
        """The body was not Apicrypt-encrypted (clear HPRIM text kept as it came)."""
        return UNENCRYPTED_NOTE in self.notes

    @property
    def signature_invalid(self) -> bool:
        """True when the text or any attachment has an invalid signature."""
        return self.signature_status == INVALID or any(
            item.get("signature") == INVALID for item in self.attachments)


INVALID = "invalid"
UNENCRYPTED_NOTE = "body kept as clear text (it did not decrypt but holds HPRIM markers)"


def _clear_bytes(result: Any) -> tuple[bytes, str, str]:
    """Back-ends return bytes, or an object with ``data`` and an optional signature."""
    if isinstance(result, bytes | bytearray):
        return bytes(result), "", ""
    data = getattr(result, "data", None)
    if not isinstance(data, bytes | bytearray):
        raise ProcessingError("the crypto back-end returned no data",
                              fix="report this to the plugin's author")
    return (bytes(data), str(getattr(result, "signature_status", "") or ""),
            str(getattr(result, "signer", "") or ""))


def _reason(exc: BaseException) -> str:
    """What failed, without the fix (the ProcessingError carries the fix once)."""
    return str(getattr(exc, "message", "") or exc)


def _decrypt_body(body: bytes, backend: CryptoBackend, notes: list[str]
                  ) -> tuple[bytes, str, str]:
    if not body.strip():
        return b"", "", ""
    try:
        return _clear_bytes(backend.decrypt_body(body))
    except (CryptoError, ProgramError) as exc:
        cause = error_cause(exc)
        # Only a body the back-end could judge is kept as clear text: during an outage the
        # message waits, so an encrypted one is never mistaken for clear text.
        if cause == CONTENT and has_end_markers(decode_bytes(body).text):
            notes.append(UNENCRYPTED_NOTE)
            return body, "", ""
        raise ProcessingError(f"the message body could not be decrypted: {_reason(exc)}",
                              fix=getattr(exc, "fix", "") or "check the keys and programs "
                              "on the system information page", cause=cause) from exc


def process_stored_message(raw_path: Path, message_folder: Path,
                           work_root: Path | ScratchFolders,
                           backend: CryptoBackend,
                           limits: DecryptedLimits | None = None) -> ProcessedMessage:
    """Decrypt and parse ``raw_path``; attachments end in ``message_folder`` (replaced).

    Folders are made only when a message has attachments: most lab results have none, and
    creating and removing empty folders costs more than parsing them. ``work_root`` is the
    work folder, or the :class:`ScratchFolders` of a run of messages (cheaper).
    """
    with scratch_folder(work_root, "collect-") as work:
        return _process_in(raw_path, message_folder, work, backend,
                           limits or decrypted_limits({}))


def _process_in(raw_path: Path, message_folder: Path, work: Path,
                backend: CryptoBackend, limits: DecryptedLimits) -> ProcessedMessage:
    staging = message_folder.with_name(message_folder.name + ".staging")
    staged = False  # most messages have no attachment: no folder to look for afterwards
    try:
        parsed = parse_message_file(raw_path, work / "parts")
        notes: list[str] = []
        clear, signature, signer = _decrypt_body(b"\n".join(parsed.body_parts), backend, notes)
        text = decode_bytes(clear).text if clear else ""
        attachments: list[dict[str, Any]] = []
        folder: Path | None = None
        if parsed.attachments:
            staged = True
            shutil.rmtree(staging, ignore_errors=True)
            ensure_private_dir(staging)
            attachments = _store_attachments(parsed, backend, work, staging, limits)
            shutil.rmtree(message_folder, ignore_errors=True)
            staging.rename(message_folder)
            staged = False  # nothing left to clean up (saves a stat per message)
            folder = message_folder
            for item in attachments:
                item["file"] = str(message_folder / Path(item["file"]).name)
        return ProcessedMessage(parsed, text, parse_message_text(text), attachments,
                                folder, signature, signer, notes)
    finally:
        if staged and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _over_limit(name: str, limits: DecryptedLimits, what: str) -> ProcessingError:
    return ProcessingError(
        f"the attachment {name} decrypted to {what}: it was set aside, nothing was kept",
        fix=f"check with the sender; if the attachment is genuine, raise "
            f"apicryptMaxDecryptedMo ({limits.max_bytes // (1024 * 1024)} MB) or "
            f"apicryptMaxDecryptedFiles ({limits.max_files}) and retry", cause=CONTENT)


def _check_output(name: str, files: list[Path], limits: DecryptedLimits) -> None:
    """What a decryption wrote stays within the limits (count, then total size)."""
    if len(files) > limits.max_files:
        raise _over_limit(name, limits, f"{len(files)} files (limit {limits.max_files})")
    total = sum(Path(path).stat().st_size for path in files)
    if total > limits.max_bytes:
        raise _over_limit(name, limits, f"{total // (1024 * 1024)} MB or more "
                          f"(limit {limits.max_bytes // (1024 * 1024)} MB)")


def _store_attachments(parsed: ParsedMessage, backend: CryptoBackend, work: Path,
                       staging: Path, limits: DecryptedLimits) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    names: list[str] = []

    def keep(source: Path, name: str, content_type: str, origin: str, signature: str = "",
             signer: str = "") -> None:
        display = safe_display_name(name, taken=names)
        names.append(display)
        target = staging / f"att-{uuid.uuid4().hex}"
        try:  # a fresh name in a folder of ours: no need to ask whether it is a folder
            os.rename(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.move(str(source), target)  # the work folder is on another file system
        info = os.stat(target)
        if stat.S_IMODE(info.st_mode) != 0o600:  # a program's output may be wider
            os.chmod(target, 0o600)
        stored.append({"name": display, "original": name, "file": str(target),
                       "size": info.st_size, "content_type": content_type,
                       "from": origin, "signature": signature, "signer": signer})

    for index, attachment in enumerate(parsed.attachments):
        original = attachment.original_name or attachment.display_name
        if not original.lower().endswith(ENCRYPTED_ATTACHMENT_SUFFIX):
            keep(attachment.path, original, attachment.content_type, "")
            continue
        out = ensure_private_dir(work / f"apz-{index}")
        try:
            files = backend.decrypt_attachment(attachment.path, out)
        except (CryptoError, ProgramError) as exc:
            result = getattr(exc, "result", None)
            # Killed by the file-size limit (SIGXFSZ), or told "File too large" (EFBIG) by a
            # program that ignores the signal.
            if result is not None and (getattr(result, "returncode", 0) == -signal.SIGXFSZ
                                       or "File too large" in getattr(result, "stderr", "")):
                raise _over_limit(attachment.display_name, limits,
                                  "a file larger than the limit") from exc
            raise ProcessingError(
                f"the attachment {attachment.display_name} could not be decrypted: "
                f"{_reason(exc)}",
                fix=getattr(exc, "fix", "") or "check the keys and programs",
                cause=error_cause(exc),
            ) from exc
        if not files:
            raise ProcessingError(f"the attachment {attachment.display_name} decrypted to "
                                  "nothing", fix="ask the sender to send it again")
        _check_output(attachment.display_name, [Path(path) for path in files], limits)
        # v2 signs each attachment: its status travels with the files (v1: none).
        signature = str(getattr(files, "signature_status", "") or "")
        signer = str(getattr(files, "signer", "") or "")
        for path in files:
            keep(Path(path), Path(path).name, _guess_type(Path(path).name),
                 attachment.display_name, signature, signer)
    return stored


def _guess_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def attachments_json(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, ensure_ascii=False)
