"""A FAKE stand-in for APICEM's v2 companion service (``compagnonApicrypt``), over HTTP.

The real companion's protocol is unknown (DOMAIN §3), so the bridge talks to it through one
client module implementing a JSON-over-HTTP contract of our own (DESIGN §6). This server
implements that contract with the sandbox crypto, so the v2 back-end runs end to end here, and
it can play the faults a real deployment meets. Every answer says it is FAKE (a ``sandbox``
field and an ``X-Medshake-Sandbox`` header).

Contract (every request carries ``Authorization: Bearer <token>``; paths are relative to the
spool folder shared with the bridge; answers are JSON)::

    GET  /ping?query=tic       -> {"reply": "toc"}
    GET  /health[?certificate=NAME][&probe=REL]
                               -> {"healthy", "version", "certificate": {...} | null,
                                   "mailboxes": [...], "spool_probe": true/false/null}
    POST /encrypt  {"kind": "body"|"attachment", "source": REL, "destination": REL,
                    "certificate": NAME, "password": PW, "recipients": [LOCAL, ...]}
                               -> {"outputs": [REL]}
    POST /decrypt  {"kind": "body"|"attachment", "source": REL, "destination": REL,
                    "certificate": NAME, "password": PW}
                               -> {"outputs": [REL, ...], "signature": "valid"|"invalid"|
                                   "unsigned", "signer": NAME|null, "sender": NAME}
    errors                     -> HTTP 4xx/5xx {"error": CODE, "message": ..., "fix": ...}

Sandbox-only: ``GET``/``POST /_sandbox/mode`` read and switch the fault mode at run time.

``KEYS`` is a sandbox network folder (``KEYS/<user>/Clefs/``, like
:attr:`~medshake_bridge.sandbox.network.SandboxNetwork.network_dir`): a certificate name is a
user, whose folder holds its yearly keys and its certificate (:mod:`~medshake_bridge.sandbox.v2`).
The companion needs every user's key to verify signatures, so one companion serves the whole
sandbox network.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from medshake_bridge.sandbox import apz
from medshake_bridge.sandbox.errors import (
    SandboxError,
    SandboxKeyMissingError,
    SandboxNotRecipientError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.keys import check_user, key_owners, load_key, to_yy
from medshake_bridge.sandbox.v2 import (
    DELIVER_TWICE_MARKER,
    SandboxCertificateError,
    SandboxCertificateExpiredError,
    SandboxCertificateMissingError,
    SandboxCertificatePasswordError,
    load_certificate,
    open_certificate,
    open_v2,
    sandbox_today,
    seal_v2,
)

logger = logging.getLogger(__name__)

LABEL = "FAKE: medshake-bridge sandbox companion, not Apicrypt and not compatible with it"
VERSION = "medshake-sandbox-companion 1 (FAKE)"
DEFAULT_PORT = 8470
MODES: dict[str, str] = {
    "normal": "answer normally",
    "down": "close every connection without answering (except /_sandbox/mode)",
    "slow": "wait before answering (longer than the bridge's timeout)",
    "wrong-password": "refuse every certificate password",
    "expired-certificate": "report every certificate as expired",
    "invalid-signature": "report every received signature as invalid",
    "duplicate": "work normally, and mark what it encrypts so the sandbox relay delivers it "
    "twice",
    "swapped-line-endings": "write decrypted text with \\n\\r line endings",
}
_MAX_REQUEST = 64 * 1024
KINDS = {"body": "body", "attachment": "apz"}


class CompanionRequestError(Exception):
    """A request the sandbox companion refuses; becomes an HTTP error answer."""

    def __init__(
        self, status: int, code: str, message: str, fix: str = "", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fix = fix
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "fix": self.fix, **self.extra}


def _error_for(exc: SandboxError) -> CompanionRequestError:
    """Map a sandbox refusal to the contract's error codes."""
    table: list[tuple[type[SandboxError], int, str]] = [
        (SandboxCertificatePasswordError, HTTPStatus.FORBIDDEN, "wrong-password"),
        (SandboxCertificateExpiredError, HTTPStatus.FORBIDDEN, "certificate-expired"),
        (SandboxCertificateMissingError, HTTPStatus.NOT_FOUND, "unknown-certificate"),
        (SandboxNotRecipientError, HTTPStatus.UNPROCESSABLE_ENTITY, "not-recipient"),
        (SandboxTamperedError, HTTPStatus.UNPROCESSABLE_ENTITY, "tampered"),
        (SandboxKeyMissingError, HTTPStatus.UNPROCESSABLE_ENTITY, "key-missing"),
        (SandboxUsageError, HTTPStatus.BAD_REQUEST, "bad-request"),
    ]
    for kind, status, code in table:
        if isinstance(exc, kind):
            extra: dict[str, Any] = {}
            if isinstance(exc, SandboxCertificateExpiredError) and exc.not_after:
                extra["not_after"] = exc.not_after.isoformat()
            return CompanionRequestError(status, code, exc.message, exc.fix, **extra)
    return CompanionRequestError(HTTPStatus.INTERNAL_SERVER_ERROR, "sandbox", exc.message, exc.fix)


@dataclass
class CompanionState:
    """What the handler threads share: folders, token, the current mode, the stop signal."""

    spool: Path
    keys: Path
    token: str
    mode: str = "normal"
    slow_seconds: float = 30.0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise SandboxUsageError(
            f"Unknown companion mode {mode!r}.", fix=f"Use one of: {', '.join(MODES)}."
        )
    return mode


class _Handler(BaseHTTPRequestHandler):
    server_version = "MedshakeSandboxCompanion/1 (FAKE)"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> CompanionState:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        logger.debug("sandbox companion: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # -- plumbing -----------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        route = (method, url.path)
        if self.state.mode == "down" and url.path != "/_sandbox/mode":
            # Play a dead service: the connection closes without a byte of answer.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            body = self._read_body() if method == "POST" else {}
            if not self._authorised():
                raise CompanionRequestError(
                    HTTPStatus.UNAUTHORIZED,
                    "unauthorized",
                    "Missing or wrong companion token.",
                    "Send 'Authorization: Bearer <token>' with the companion's token.",
                )
            if url.path == "/_sandbox/mode":
                self._answer(HTTPStatus.OK, self._mode(method, body))
                return
            mode = self.state.mode
            if mode == "slow" and self.state.stopping.wait(self.state.slow_seconds):
                self.close_connection = True
                return
            handlers = {
                ("GET", "/ping"): self._ping,
                ("GET", "/health"): self._health,
                ("POST", "/encrypt"): self._encrypt,
                ("POST", "/decrypt"): self._decrypt,
            }
            handler = handlers.get(route)
            if handler is None:
                raise CompanionRequestError(
                    HTTPStatus.NOT_FOUND, "not-found", f"No endpoint {method} {url.path}."
                )
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            reply = handler(query, body)
            if mode == "duplicate":
                reply["sandbox_deliver_twice"] = True
            self._answer(HTTPStatus.OK, reply)
        except CompanionRequestError as exc:
            self._answer(exc.status, exc.payload())
        except SandboxError as exc:
            mapped = _error_for(exc)
            self._answer(mapped.status, mapped.payload())
        except OSError:
            # The client went away (a timeout on its side): nothing to answer.
            self.close_connection = True
        except Exception as exc:  # a sandbox bug must read as one, not as "does not answer"
            logger.exception("sandbox companion: internal error")
            self._answer(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "internal", "message": f"Sandbox companion bug: {type(exc).__name__}.",
                 "fix": "Report it with the companion's log."},
            )

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.state.token}"
        return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    def _read_body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_REQUEST:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-request", "Missing or oversized request body."
            )
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError) as exc:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-request", f"The request is not JSON ({exc})."
            ) from exc
        if not isinstance(body, dict):
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-request", "The request must be a JSON object."
            )
        return body

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps({**payload, "sandbox": LABEL}, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Medshake-Sandbox", "FAKE (not Apicrypt)")
        self.end_headers()
        self.wfile.write(data)

    # -- spool paths ----------------------------------------------------------------------------

    def _spool_path(self, body: Mapping[str, Any], field: str) -> Path:
        """A path inside the spool; absolute paths, '..' and symlinks out of it are refused."""
        value = body.get(field)
        if not isinstance(value, str) or not value or os.path.isabs(value) or "\0" in value:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST,
                "bad-path",
                f"{field!r} must be a path relative to the spool folder.",
            )
        spool = self.state.spool.resolve()
        candidate = (spool / value).resolve()
        if candidate == spool or spool not in candidate.parents:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-path", f"{field!r} leaves the spool folder."
            )
        return candidate

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.state.spool.resolve()).as_posix()

    def _certificate(self, body: Mapping[str, Any]) -> str:
        name = body.get("certificate")
        password = body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST,
                "bad-request",
                "'certificate' and 'password' are required strings.",
            )
        check_user(name, what="certificate name")
        mode = self.state.mode
        if mode == "wrong-password":
            raise SandboxCertificatePasswordError(
                f"The password of the certificate {name!r} is wrong (sandbox fault mode).",
                fix="Re-enter apicrypt2CertPassword exactly as APICEM gave it.",
            )
        cert = open_certificate(self.state.keys / name, name, password)
        if mode == "expired-certificate":
            raise SandboxCertificateExpiredError(
                f"The certificate {name!r} expired on {cert.not_after.isoformat()} "
                "(sandbox fault mode).",
                fix="Install the renewed certificate from APICEM.",
                not_after=cert.not_after,
            )
        return name

    @staticmethod
    def _kind(body: Mapping[str, Any]) -> str:
        kind = body.get("kind")
        if kind not in KINDS:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-request", "'kind' must be 'body' or 'attachment'."
            )
        return str(kind)

    @staticmethod
    def _write_new(path: Path, data: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise CompanionRequestError(
                HTTPStatus.CONFLICT,
                "bad-path",
                f"Cannot write {path.name} in the spool ({exc.strerror}).",
                "Give a destination that does not exist yet, in an existing spool folder.",
            ) from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    # -- endpoints ------------------------------------------------------------------------------

    def _mode(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if method == "POST":
            mode = check_mode(str(body.get("mode", "")))
            with self.state.lock:
                self.state.mode = mode
            logger.info("sandbox companion: mode %s", mode)
        return {"mode": self.state.mode, "modes": MODES}

    def _ping(self, query: Mapping[str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        if query.get("query", "tic") != "tic":
            raise CompanionRequestError(HTTPStatus.BAD_REQUEST, "bad-request", "Ping with 'tic'.")
        return {"reply": "toc"}

    def _health(self, query: Mapping[str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        today = sandbox_today()
        expired_mode = self.state.mode == "expired-certificate"
        mailboxes = []
        for user in sorted(p.name for p in self.state.keys.iterdir() if p.is_dir()):
            try:
                cert = load_certificate(self.state.keys / user, user)
            except (SandboxCertificateError, SandboxUsageError):
                continue
            years = sorted(key_owners(self.state.keys / user).get(user, set()))
            mailboxes.append(
                {
                    "certificate": user,
                    "expires": cert.not_after.isoformat(),
                    "expired": expired_mode or cert.expired(today),
                    "key_years": [yy + 1900 for yy in years],
                    "current_key": to_yy(today.year) in years,
                }
            )
        certificate = None
        name = query.get("certificate")
        if name:
            found = [m for m in mailboxes if m["certificate"] == name]
            certificate = found[0] if found else {"certificate": name, "missing": True}
        probe = None
        if query.get("probe"):
            probe = self._spool_path(query, "probe").is_file()
        problems = [f"certificate {m['certificate']} expired" for m in mailboxes if m["expired"]]
        return {
            "healthy": not problems,
            "problems": problems,
            "version": VERSION,
            "mode": self.state.mode,
            "certificate": certificate,
            "mailboxes": mailboxes,
            "spool_probe": probe,
        }

    def _encrypt(self, query: Mapping[str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._kind(body)
        source = self._spool_path(body, "source")
        destination = self._spool_path(body, "destination")
        recipients = body.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-request", "'recipients' must be a non-empty list."
            )
        for recipient in recipients:
            check_user(recipient if isinstance(recipient, str) else "", what="recipient")
        name = self._certificate(body)
        if not source.is_file():
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-path", "The source file does not exist in the spool."
            )
        data = source.read_bytes()
        if kind == "body":
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CompanionRequestError(
                    HTTPStatus.BAD_REQUEST,
                    "not-utf8",
                    f"Apicrypt v2 bodies are UTF-8; this one is not ({exc.reason}).",
                    "Encode the body as UTF-8.",
                ) from exc
        else:
            data = apz.pack([(source.name, data)])
        key = load_key(self.state.keys / name, name, to_yy(sandbox_today().year))
        armour = seal_v2(KINDS[kind], data, recipients=list(recipients), key=key)
        if self.state.mode == "duplicate":  # read by the sandbox relay, outside the armour
            armour += DELIVER_TWICE_MARKER + b"\n"
        self._write_new(destination, armour)
        return {"outputs": [self._relative(destination)]}

    def _decrypt(self, query: Mapping[str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        kind = self._kind(body)
        source = self._spool_path(body, "source")
        destination = self._spool_path(body, "destination")
        name = self._certificate(body)
        if not source.is_file():
            raise CompanionRequestError(
                HTTPStatus.BAD_REQUEST, "bad-path", "The source file does not exist in the spool."
            )
        opened = open_v2(source.read_bytes(), self.state.keys, name, kind=KINDS[kind])
        status, signer = opened.signature_status, opened.signer
        if self.state.mode == "invalid-signature" and status != "unsigned":
            status = "invalid"
        outputs: list[Path] = []
        if kind == "body":
            content = opened.content
            if self.state.mode == "swapped-line-endings":
                content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\n\r")
            self._write_new(destination, content)
            outputs.append(destination)
        else:
            if not destination.is_dir():
                raise CompanionRequestError(
                    HTTPStatus.BAD_REQUEST,
                    "bad-path",
                    "The destination folder does not exist in the spool.",
                )
            for file_name, data in apz.unpack(opened.content):
                target = destination / file_name
                self._write_new(target, data)
                outputs.append(target)
        return {
            "outputs": [self._relative(p) for p in outputs],
            "signature": status,
            "signer": signer,
            "sender": opened.header.sender,
        }


class SandboxCompanion:
    """The sandbox companion: start it in a thread (tests) or serve in the foreground (CLI).

    Binds loopback only: the token and certificate passwords travel in clear HTTP, as they
    would to a real local service.
    """

    def __init__(
        self,
        spool: str | os.PathLike[str],
        keys: str | os.PathLike[str],
        *,
        token: str | None = None,
        port: int = 0,
        mode: str = "normal",
        slow_seconds: float = 30.0,
    ) -> None:
        spool_dir, keys_dir = Path(spool), Path(keys)
        for folder, what in ((spool_dir, "--spool"), (keys_dir, "--keys")):
            if not folder.is_dir():
                raise SandboxUsageError(
                    f"The {what} folder {folder} does not exist.", fix="Create it first."
                )
        self.state = CompanionState(
            spool=spool_dir,
            keys=keys_dir,
            token=token or secrets.token_urlsafe(24),
            mode=check_mode(mode),
            slow_seconds=slow_seconds,
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.state = self.state  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def mode(self) -> str:
        return self.state.mode

    def set_mode(self, mode: str) -> None:
        """Switch the fault mode (the same as ``POST /_sandbox/mode``)."""
        with self.state.lock:
            self.state.mode = check_mode(mode)

    def start(self) -> SandboxCompanion:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},  # a prompt stop() keeps the tests fast
            name="sandbox-companion",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop serving; a handler sleeping in ``slow`` mode wakes up and answers nothing."""
        self.state.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxCompanion:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_listening(port: int, timeout: float = 5.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:``port`` (CLI tests)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
