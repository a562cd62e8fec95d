"""Apicrypt v2 back-end: encryption and decryption by APICEM's companion service.

DOMAIN §3: v2 users have a certificate (name + password); a local companion service does the
cryptography, signs every outgoing message, reports the signature of incoming ones, and uses
UTF-8. The bridge reaches it only through :mod:`medshake_apicrypt_v2.client`.

Why the care around each call: the companion and the web side exchange files by path, so every
call gets its own private (0700) folder inside the configured spool (``apicrypt2Spool``, never
``/tmp``: a web server with systemd's ``PrivateTmp`` would not share it), and that folder is
removed on the way out, failure included, so no clear text lingers. The caller's files are
never modified, so a failed message can be retried. Recipients come from a web form, so each is
checked against a strict local-part pattern before anything is sent. An invalid signature is
not an error: it is reported in :class:`DecryptedBody` so the inbox flags the message instead
of losing it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medshake_apicrypt_v2.client import DEFAULT_TIMEOUT, DEFAULT_URL, CompanionClient
from medshake_apicrypt_v2.errors import ApicryptV2ConfigError, CompanionProtocolError
from medshake_bridge.api import (
    LOCAL_PART,
    CheckResult,
    CryptoError,
    attachment_source,
    destination_folder,
    free_name,
    private_work_dir,
    safe_work_name,
    write_new_private,
)

# Re-exported: part of this back-end's public API since before they were shared.
from medshake_bridge.api import EncryptedBody as EncryptedBody
from medshake_bridge.api import InvalidRecipientError as InvalidRecipientError
from medshake_bridge.api import validate_recipients as validate_recipients

logger = logging.getLogger(__name__)

CATEGORY = "apicrypt_v2"




@dataclass(frozen=True)
class ApicryptV2Config:
    """One user's v2 settings, resolved by the host (DOMAIN §4 names in the comments)."""

    cert_name: str  # apicrypt2CertName
    cert_password: str  # apicrypt2CertPassword (secret)
    companion_url: str = DEFAULT_URL  # apicrypt2CompanionUrl
    companion_token: str = ""  # apicrypt2CompanionToken (secret)
    spool: Path = Path()  # apicrypt2Spool
    timeout: float = DEFAULT_TIMEOUT  # apicrypt2CompanionTimeout

    def __repr__(self) -> str:  # never show the secrets, even in a traceback or a debugger
        return (
            f"ApicryptV2Config(cert_name={self.cert_name!r}, companion_url="
            f"{self.companion_url!r}, spool={str(self.spool)!r}, timeout={self.timeout})"
        )




@dataclass(frozen=True)
class DecryptedBody:
    """A decrypted body: the clear bytes and what the companion said about the signature.

    The host pipeline reads ``data``, ``signature_status`` (``valid``, ``invalid`` or
    ``unsigned``) and ``signer``; ``sender`` is who the message claims to come from.
    """

    data: bytes
    signature_status: str
    signer: str | None
    sender: str | None = None

    @property
    def signature_ok(self) -> bool:
        return self.signature_status == "valid"


class DecryptedFiles(list[Path]):
    """The files an attachment yielded (a plain ``list[Path]``), plus its signature status.

    v2 signs attachments too; callers that only want the paths use it as a list.
    """

    def __init__(
        self, paths: Sequence[Path], signature_status: str, signer: str | None,
        sender: str | None = None,
    ) -> None:
        super().__init__(paths)
        self.signature_status = signature_status
        self.signer = signer
        self.sender = sender










class ApicryptV2Backend:
    """A :class:`~medshake_bridge.interfaces.CryptoBackend` over the v2 companion."""

    def __init__(self, config: ApicryptV2Config, client: CompanionClient | None = None) -> None:
        self.config = config
        self.spool = Path(config.spool).absolute()
        self._client = client

    @property
    def client(self) -> CompanionClient:
        """Built on first use, so a back-end with a bad URL can still report its checks."""
        if self._client is None:
            self._client = CompanionClient(
                self.config.companion_url, self.config.companion_token,
                timeout=self.config.timeout,
            )
        return self._client

    # -- operations ---------------------------------------------------------------------------

    def encrypt_body(self, text: str, recipients: Sequence[str]) -> EncryptedBody:
        """Encrypt and sign ``text`` (UTF-8) for ``recipients`` with the user's certificate."""
        checked = validate_recipients(recipients)
        self._require_config()
        with self._call() as call:
            source = call / "body.txt"
            write_new_private(source, text.encode("utf-8"))
            output = call / "body.apicrypt"
            reply = self.client.encrypt(
                kind="body", source=self._rel(source), destination=self._rel(output),
                certificate=self.config.cert_name, password=self.config.cert_password,
                recipients=checked,
            )
            produced = self._produced(reply.outputs, call, expect=output)
            return EncryptedBody(armour=produced[0].read_bytes(), signed=True)

    def encrypt_attachment(
        self,
        path: str | os.PathLike[str],
        recipients: Sequence[str],
        dest_dir: str | os.PathLike[str],
    ) -> Path:
        """Encrypt one file into ``dest_dir/<name>.apz`` (never overwriting); returns it."""
        checked = validate_recipients(recipients)
        self._require_config()
        original, name = attachment_source(path)
        with self._call() as call:
            source = call / name
            shutil.copyfile(original, source)
            output = call / f"{name}.apz"
            reply = self.client.encrypt(
                kind="attachment", source=self._rel(source), destination=self._rel(output),
                certificate=self.config.cert_name, password=self.config.cert_password,
                recipients=checked,
            )
            produced = self._produced(reply.outputs, call, expect=output)
            target_dir = destination_folder(dest_dir)
            target = free_name(target_dir, f"{name}.apz")
            shutil.move(produced[0], target)
        return target

    def decrypt_body(self, armour: bytes) -> DecryptedBody:
        """Decrypt a received body; the signature status comes back with the clear bytes."""
        self._require_config()
        with self._call() as call:
            source = call / "body.apicrypt"
            write_new_private(source, armour)
            output = call / "body.txt"
            reply = self.client.decrypt(
                kind="body", source=self._rel(source), destination=self._rel(output),
                certificate=self.config.cert_name, password=self.config.cert_password,
            )
            produced = self._produced(reply.outputs, call, expect=output)
            data = produced[0].read_bytes()
        if reply.signature != "valid":
            logger.warning(
                "apicrypt v2: received body with signature %s (signer %s, sender %s)",
                reply.signature, reply.signer, reply.sender,
            )
        return DecryptedBody(
            data=data, signature_status=reply.signature, signer=reply.signer, sender=reply.sender
        )

    def decrypt_attachment(
        self, path: str | os.PathLike[str], dest_dir: str | os.PathLike[str]
    ) -> DecryptedFiles:
        """Decrypt a ``.apz``; move every file it yields into ``dest_dir`` (names kept, ``(2)``
        added rather than overwriting). Returns the files in ``dest_dir`` as a list that also
        carries the signature status and signer."""
        self._require_config()
        original = Path(path)
        if not original.is_file():
            raise CryptoError(
                f"The attachment {original} does not exist or is not a file.",
                fix="Check the stored message's attachment path.",
            )
        with self._call() as call:
            source = call / safe_work_name(original.name, "attachment.apz")
            shutil.copyfile(original, source)
            out_dir = call / "out"
            out_dir.mkdir(mode=0o700)
            reply = self.client.decrypt(
                kind="attachment", source=self._rel(source), destination=self._rel(out_dir),
                certificate=self.config.cert_name, password=self.config.cert_password,
            )
            produced = self._produced(reply.outputs, out_dir)
            target_dir = destination_folder(dest_dir)
            results = []
            for item in produced:
                target = free_name(target_dir, safe_work_name(item.name, "attachment"))
                shutil.move(item, target)
                results.append(target)
        return DecryptedFiles(results, reply.signature, reply.signer, reply.sender)

    # -- checks -------------------------------------------------------------------------------

    def checks(self) -> list[CheckResult]:
        """This user's certificate settings, then the companion and spool checks."""
        from medshake_apicrypt_v2.checks import certificate_checks, companion_checks

        return [*certificate_checks(self), *companion_checks(self)]

    # -- helpers ------------------------------------------------------------------------------

    def _require_config(self) -> None:
        if not self.config.cert_name or not LOCAL_PART.match(self.config.cert_name):
            raise ApicryptV2ConfigError(
                f"The Apicrypt v2 certificate name {self.config.cert_name!r} is not set or not "
                "valid.",
                fix="Set apicrypt2CertName to the user's certificate name (from APICEM).",
            )
        if not self.config.cert_password:
            raise ApicryptV2ConfigError(
                "The Apicrypt v2 certificate password is not set.",
                fix="Set apicrypt2CertPassword on the user's settings (it is stored encrypted).",
            )
        if not str(self.config.spool).strip() or str(self.config.spool) == ".":
            raise ApicryptV2ConfigError(
                "The setting apicrypt2Spool is empty.",
                fix="Set apicrypt2Spool to a folder shared with the companion (not /tmp).",
            )
        self.client  # noqa: B018 - validates the URL and the timeout before any file is written

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.spool).as_posix()

    def _produced(self, outputs: Sequence[str], inside: Path, *, expect: Path | None = None
                  ) -> list[Path]:
        """Resolve the companion's outputs, refusing anything outside this call's folder."""
        paths = []
        for rel in outputs:
            candidate = (self.spool / rel).resolve()
            if inside.resolve() not in candidate.parents or not candidate.is_file() \
                    or candidate.is_symlink():
                raise CompanionProtocolError(
                    f"The Apicrypt v2 companion reported an output {rel!r} that is not a file "
                    "in this call's spool folder.",
                    fix="Check that the companion and the bridge use the same spool folder "
                    "(apicrypt2Spool) and that the web server has no private /tmp.",
                )
            paths.append(candidate)
        if expect is not None and (not paths or paths[0] != expect.resolve()):
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion did not write {self._rel(expect)}.",
                fix="Check that the companion and the bridge use the same spool folder.",
            )
        if not paths or any(p.stat().st_size == 0 for p in paths):
            raise CompanionProtocolError(
                "The Apicrypt v2 companion reported success but wrote nothing usable.",
                fix="Check the companion's log; the message is kept for a retry.",
            )
        return paths


    @contextmanager
    def _call(self) -> Iterator[Path]:
        """A fresh 0700 folder in the spool for one call, locked while in use and removed on
        the way out, always (a crashed run's folders are removed by the next collection)."""
        try:
            self.spool.mkdir(parents=True, exist_ok=True, mode=0o700)
            work = private_work_dir(self.spool, "call-")
            folder = work.__enter__()
        except OSError as exc:
            raise ApicryptV2ConfigError(
                f"Cannot create a private folder in the spool {self.spool} ({exc.strerror}).",
                fix="Make it writable by the bridge's account or change apicrypt2Spool.",
            ) from exc
        try:
            yield folder
        finally:
            work.__exit__(None, None, None)


def config_from_settings(settings: Mapping[str, Any]) -> ApicryptV2Config:
    """The v2 part of one user's effective settings (DOMAIN §4 names)."""
    timeout = settings.get("apicrypt2CompanionTimeout")
    try:
        timeout = float(timeout) if timeout else DEFAULT_TIMEOUT
    except (TypeError, ValueError):
        raise ApicryptV2ConfigError(
            f"The setting apicrypt2CompanionTimeout is not a number ({timeout!r}).",
            fix="Set apicrypt2CompanionTimeout to a number of seconds such as 10.") from None
    return ApicryptV2Config(
        cert_name=str(settings.get("apicrypt2CertName") or ""),
        cert_password=str(settings.get("apicrypt2CertPassword") or ""),
        companion_url=str(settings.get("apicrypt2CompanionUrl") or DEFAULT_URL),
        companion_token=str(settings.get("apicrypt2CompanionToken") or ""),
        spool=Path(str(settings.get("apicrypt2Spool") or "")),
        timeout=timeout,
    )


def build_backend(settings: Mapping[str, Any], runner: Any = None) -> ApicryptV2Backend:
    """Build a back-end from one user's effective settings; fits ``BackendSpec.factory``.

    The runner is not needed for encryption (the companion does it); the restart and ``.aes``
    actions in :mod:`medshake_apicrypt_v2.service` take it.
    """
    return ApicryptV2Backend(config_from_settings(settings))
