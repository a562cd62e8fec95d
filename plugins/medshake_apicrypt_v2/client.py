"""The ONE module that talks to the Apicrypt v2 companion service.

The real companion's protocol is unknown (DOMAIN §3): what is public is that a local service
answers a ping (``tic`` -> ``toc``), reports health and mailboxes, and exchanges files with the
EHR by path. Until APICEM documents it (under an agreement), the bridge speaks a contract of its
own, JSON over HTTP on loopback with a bearer token (DESIGN §6), which the sandbox companion
implements. Everything protocol-specific lives here, so adopting the real protocol changes this
file and nothing else: the back-end only calls :class:`CompanionClient`'s methods and reads the
reply dataclasses.

Why it is built like this:

* stdlib ``http.client`` and no proxy: ``urllib`` would honour ``http_proxy`` from the
  environment and could send the token and a certificate password to a proxy;
* loopback URLs only: the password travels in the request body in clear HTTP, which is
  acceptable on the same machine and nowhere else;
* a timeout on every call, and distinct errors for "nothing answers" and "too slow" so the
  admin knows whether to start the service or to look at its load;
* error messages name the URL and the operation, never the token or the password.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit

from medshake_apicrypt_v2.errors import (
    RESTART_FIX,
    ApicryptV2ConfigError,
    CertificateExpiredError,
    CertificatePasswordError,
    CertificateUnknownError,
    CompanionAuthError,
    CompanionError,
    CompanionProtocolError,
    CompanionRefusedError,
    CompanionTimeoutError,
    CompanionUnavailableError,
)

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8470"
DEFAULT_TIMEOUT = 10.0
SIGNATURE_STATUSES = ("valid", "invalid", "unsigned")
KINDS = ("body", "attachment")
_MAX_REPLY = 4 * 1024 * 1024


@dataclass(frozen=True)
class PingReply:
    """The companion answered the ping; ``elapsed`` is the round trip in seconds."""

    reply: str
    elapsed: float


@dataclass(frozen=True)
class MailboxReport:
    """What the companion says about one mailbox (the *Apicrypt 2 mailbox* page lists these).

    ``raw`` keeps every field the companion sent, so the page can show what we do not model.
    """

    certificate: str
    expires: date | None
    expired: bool
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReply:
    """``GET /health``: overall state, version, the asked certificate, every mailbox."""

    healthy: bool
    version: str
    problems: tuple[str, ...]
    certificate: MailboxReport | None
    mailboxes: tuple[MailboxReport, ...]
    spool_probe: bool | None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncryptReply:
    """``POST /encrypt``: spool-relative paths of what the companion wrote."""

    outputs: tuple[str, ...]


@dataclass(frozen=True)
class DecryptReply:
    """``POST /decrypt``: outputs, the signature status and who signed (``None``: unsigned)."""

    outputs: tuple[str, ...]
    signature: str
    signer: str | None
    sender: str | None


def check_url(url: str) -> tuple[str, int]:
    """Host and port of a loopback ``http://`` URL, or a configuration error saying why not."""
    fix = "Set apicrypt2CompanionUrl to the companion's local address, e.g. " + DEFAULT_URL + "."
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError as exc:
        raise ApicryptV2ConfigError(
            f"The companion URL {url!r} is not valid ({exc}).", fix=fix
        ) from exc
    if parts.scheme != "http" or not parts.hostname:
        raise ApicryptV2ConfigError(
            f"The companion URL {url!r} must start with http:// and name a host.", fix=fix
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ApicryptV2ConfigError(
            f"The companion URL {url!r} must not carry credentials, a query or a fragment "
            "(the token has its own setting).",
            fix=fix,
        )
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ApicryptV2ConfigError(
            f"The companion URL {url!r} is not on this machine; the token and the certificate "
            "password travel in clear HTTP, so only loopback addresses are accepted.",
            fix=fix,
        )
    return host, port or 80


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _mailbox(raw: Any) -> MailboxReport | None:
    if not isinstance(raw, Mapping) or not raw.get("certificate"):
        return None
    return MailboxReport(
        certificate=str(raw["certificate"]),
        expires=_date(raw.get("expires")),
        expired=bool(raw.get("expired")),
        raw=dict(raw),
    )


class CompanionClient:
    """Calls the companion at ``url`` with ``token`` (may be empty) and a per-call ``timeout``."""

    def __init__(self, url: str, token: str = "", *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = (url or "").rstrip("/")
        self.host, self.port = check_url(self.url)
        self.base_path = urlsplit(self.url).path
        self.token = token or ""
        if timeout <= 0:
            raise ApicryptV2ConfigError(
                f"The companion timeout must be positive, not {timeout}.",
                fix="Set apicrypt2CompanionTimeout to a number of seconds such as 10.",
            )
        self.timeout = float(timeout)

    # -- the contract -------------------------------------------------------------------------

    def ping(self) -> PingReply:
        """``GET /ping?query=tic``; the companion must answer ``toc``."""
        started = time.monotonic()
        reply = self._request("GET", "/ping", query={"query": "tic"}, what="ping")
        if reply.get("reply") != "toc":
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} answered the ping with "
                f"{reply.get('reply')!r} instead of 'toc'.",
                fix="Check that apicrypt2CompanionUrl points at the companion and not at "
                "another service.",
            )
        return PingReply(reply="toc", elapsed=time.monotonic() - started)

    def health(self, *, certificate: str | None = None, probe: str | None = None) -> HealthReply:
        """``GET /health``; ``certificate`` asks about one certificate, ``probe`` asks whether
        the companion sees a spool file (so a private ``/tmp`` or a wrong spool shows)."""
        query = {k: v for k, v in (("certificate", certificate), ("probe", probe)) if v}
        reply = self._request("GET", "/health", query=query, what="health check")
        if "healthy" not in reply:
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} sent a health report without "
                "'healthy'.",
                fix="Check the companion's version against docs/apicrypt-v2.md.",
            )
        mailboxes = tuple(m for m in map(_mailbox, reply.get("mailboxes") or []) if m)
        probe_seen = reply.get("spool_probe")
        return HealthReply(
            healthy=bool(reply["healthy"]),
            version=str(reply.get("version") or ""),
            problems=tuple(str(p) for p in reply.get("problems") or []),
            certificate=_mailbox(reply.get("certificate")),
            mailboxes=mailboxes,
            spool_probe=probe_seen if isinstance(probe_seen, bool) else None,
            raw=reply,
        )

    def encrypt(
        self,
        *,
        kind: str,
        source: str,
        destination: str,
        certificate: str,
        password: str,
        recipients: Sequence[str],
    ) -> EncryptReply:
        """``POST /encrypt``: ``source`` (spool-relative) into ``destination``, signed."""
        reply = self._request(
            "POST",
            "/encrypt",
            payload={
                "kind": self._kind(kind),
                "source": source,
                "destination": destination,
                "certificate": certificate,
                "password": password,
                "recipients": list(recipients),
            },
            what=f"encryption of {'a body' if kind == 'body' else 'an attachment'}",
        )
        return EncryptReply(outputs=self._outputs(reply))

    def decrypt(
        self, *, kind: str, source: str, destination: str, certificate: str, password: str
    ) -> DecryptReply:
        """``POST /decrypt``: outputs plus the signature status (``valid``/``invalid``/
        ``unsigned``) and signer; an invalid signature is a status, not an error."""
        reply = self._request(
            "POST",
            "/decrypt",
            payload={
                "kind": self._kind(kind),
                "source": source,
                "destination": destination,
                "certificate": certificate,
                "password": password,
            },
            what=f"decryption of {'a body' if kind == 'body' else 'an attachment'}",
        )
        signature = reply.get("signature")
        if signature not in SIGNATURE_STATUSES:
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} gave the signature status "
                f"{signature!r}; expected one of {', '.join(SIGNATURE_STATUSES)}.",
                fix="Check the companion's version against docs/apicrypt-v2.md.",
            )
        signer = reply.get("signer")
        sender = reply.get("sender")
        return DecryptReply(
            outputs=self._outputs(reply),
            signature=str(signature),
            signer=str(signer) if signer else None,
            sender=str(sender) if sender else None,
        )

    # -- transport ----------------------------------------------------------------------------

    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        return kind

    def _outputs(self, reply: Mapping[str, Any]) -> tuple[str, ...]:
        outputs = reply.get("outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} did not list its output files.",
                fix="Check the companion's version against docs/apicrypt-v2.md.",
            )
        return tuple(outputs)

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        payload: Mapping[str, Any] | None = None,
        what: str,
    ) -> dict[str, Any]:
        target = self.base_path + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "Connection": "close"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = None
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.monotonic()
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(_MAX_REPLY + 1)
            status = response.status
        except TimeoutError as exc:
            raise CompanionTimeoutError(
                f"The Apicrypt v2 companion at {self.url} did not answer the {what} within "
                f"{self.timeout:g} s.",
                fix=f"It may be hung or overloaded: {RESTART_FIX}; raise "
                "apicrypt2CompanionTimeout if the machine is only slow.",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc)
            reason = reason.__name__ if isinstance(reason, type) else reason
            raise CompanionUnavailableError(
                f"The Apicrypt v2 companion at {self.url} does not answer ({what}: {reason}).",
                fix=f"The compagnonApicrypt service is not running or not on that port: "
                f"{RESTART_FIX}, and check apicrypt2CompanionUrl.",
            ) from exc
        finally:
            connection.close()
        logger.info(
            "apicrypt v2 companion %s %s -> %s in %.3f s", method, path, status,
            time.monotonic() - started,
        )
        if len(data) > _MAX_REPLY:
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} sent an oversized answer to the {what}.",
                fix="Check that apicrypt2CompanionUrl points at the companion.",
            )
        try:
            reply = json.loads(data.decode("utf-8")) if data else {}
        except (UnicodeDecodeError, ValueError):
            reply = None
        if status == 401:
            raise CompanionAuthError(
                f"The Apicrypt v2 companion at {self.url} refused the bridge's token ({what}).",
                fix="Set apicrypt2CompanionToken to the token the companion expects.",
            )
        if not isinstance(reply, dict):
            raise CompanionProtocolError(
                f"The Apicrypt v2 companion at {self.url} answered the {what} with HTTP "
                f"{status} and no JSON.",
                fix="Check that apicrypt2CompanionUrl points at the companion and not at "
                "another service.",
            )
        if status >= 400 or "error" in reply:
            raise self._error(status, reply, what)
        return reply

    def _error(self, status: int, reply: Mapping[str, Any], what: str) -> CompanionError:
        """Turn the companion's error answer into a typed error (its text, our fixes)."""
        code = str(reply.get("error") or "")
        said = str(reply.get("message") or f"HTTP {status}")
        their_fix = str(reply.get("fix") or "")
        if code == "wrong-password":
            return CertificatePasswordError(
                f"The Apicrypt v2 certificate refused its password ({what}).",
                fix="Re-enter apicrypt2CertPassword (the certificate password given by APICEM) "
                "on the user's settings.",
            )
        if code == "certificate-expired":
            not_after = _date(reply.get("not_after"))
            when = f" on {not_after.isoformat()}" if not_after else ""
            return CertificateExpiredError(
                f"The Apicrypt v2 certificate expired{when} ({what}): {said}",
                fix="Install the renewed certificate from APICEM, then update apicrypt2CertName "
                "and apicrypt2CertPassword if they changed.",
                not_after=not_after,
            )
        if code == "unknown-certificate":
            return CertificateUnknownError(
                f"The Apicrypt v2 companion does not know the certificate ({what}): {said}",
                fix="Check apicrypt2CertName against the certificates the companion lists "
                "(Apicrypt 2 mailbox page).",
            )
        return CompanionRefusedError(
            f"The Apicrypt v2 companion refused the {what} (HTTP {status}, {code or 'error'}): "
            f"{said}",
            fix=their_fix or "Read the companion's message; the message is kept for a retry.",
            code=code,
        )
