"""The FAKE sandbox relay: an SMTP server that plays APICEM's server (not Apicrypt).

On the real network the sender encrypts with its own key and APICEM's server re-encrypts the
content for each recipient before delivering it (DOMAIN §1). This relay does the same with the
sandbox keys, so sending can be tried and tested end to end:

* SMTP with STARTTLS (when given a certificate) and AUTH (logins and passwords from a users
  file or mapping), AUTH only after STARTTLS; the envelope sender must be the logged-in user;
* recipients are accepted only when the sandbox network knows them (``NETWORK/<user>/``) and
  a mailbox exists for them; others are refused at ``RCPT`` with a 550 that says why;
* the body armour and every ``.apz`` attachment are re-encrypted for each recipient with
  :func:`~medshake_bridge.sandbox.relay_crypto.reencrypt` (v1/v2 aware): all or nothing;
* each copy is delivered into the recipient's Maildir the Maildir way (``tmp/`` then ``new/``),
  owned by the Maildir's owner, labelled ``X-Sandbox-Relay: FAKE``.
"""

from __future__ import annotations

import asyncio
import binascii
import email
import email.parser
import email.policy
import io
import itertools
import logging
import os
import secrets
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from email.generator import BytesGenerator
from email.message import Message
from pathlib import Path
from typing import Any, BinaryIO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from medshake_bridge.sandbox.armour import base64_lines as _base64_line_bytes
from medshake_bridge.sandbox.errors import SandboxError
from medshake_bridge.sandbox.relay_crypto import reencrypt
from medshake_bridge.sandbox.relay_spool import SpoolingSMTP
from medshake_bridge.sandbox.v2 import DELIVER_TWICE_MARKER

log = logging.getLogger(__name__)

LABEL = "FAKE medshake-bridge sandbox relay (not Apicrypt)"
MailboxLookup = Callable[[str], Path | None]
DATA_SIZE_LIMIT = 256 * 1024 * 1024  # bytes of one message the relay accepts


def maildirs_under(root: str | os.PathLike[str]) -> MailboxLookup:
    """Recipient ``prenom.NOM`` -> ``ROOT/prenom.NOM`` (a Maildir), created on first use when
    ROOT exists: what the demo's Maildir collectors read."""
    base = Path(root)

    def lookup(local: str) -> Path | None:
        if "/" in local or local.startswith("."):
            return None
        folder = base / local
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    return lookup


def read_users_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``login:password`` lines (``#`` comments allowed) -> mapping."""
    users: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            login, sep, password = line.partition(":")
            if sep and login:
                users[login.strip()] = password
    return users


def deliver(maildir: Path, data: bytes) -> Path:
    """Write ``data`` into ``maildir/tmp`` then rename it into ``new`` (atomic for readers);
    the file belongs to the Maildir's owner, as a delivery agent's would."""
    return deliver_with(maildir, lambda handle: handle.write(data))


def deliver_with(maildir: Path, write: Callable[[BinaryIO], object]) -> Path:
    """:func:`deliver` with the content written by ``write(file)`` (a copy of any size)."""
    owner = maildir.stat()
    name = (f"{time.time():.6f}.R{secrets.token_hex(6)}P{os.getpid()}."
            f"{socket.gethostname() or 'sandbox-relay'}")
    tmp = maildir / "tmp" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    if os.geteuid() == 0 and owner.st_uid != 0:
        os.chown(tmp, owner.st_uid, owner.st_gid)
    target = maildir / "new" / name
    os.rename(tmp, target)
    return target


def _leaf_parts(message: Message) -> list[Message]:
    return [part for part in message.walk() if not part.is_multipart()]


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment"


def copies_for(raw: bytes, network_dir: Path, recipients: list[str]
               ) -> Iterator[tuple[str, bytes]]:
    """The message as each recipient receives it (see :func:`_copies_by_email`): by slicing
    the bytes when the message is a plain one-level multipart or a single part (what the
    bridge and the companion send), else with the ``email`` package."""
    fast = _copies_by_slicing(raw, network_dir, recipients)
    return fast if fast is not None else _copies_by_email(raw, network_dir, recipients)


_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _head_and_body(entity: bytes) -> tuple[bytes, bytes] | None:
    """Split an entity at its first empty line: (header block with its line ends, body)."""
    ends = [index for index in (entity.find(b"\r\n\r\n"), entity.find(b"\n\n")) if index >= 0]
    if entity.startswith((b"\r\n", b"\n")):
        return b"", entity.partition(b"\n")[2]
    if not ends:
        return None
    cut = min(ends)
    separator = 4 if entity[cut:cut + 4] == b"\r\n\r\n" else 2
    return entity[:cut + separator // 2], entity[cut + separator:]


def _without_header(head: bytes, name: bytes) -> list[bytes]:
    """The header lines of ``head`` (LF, no CR) without field ``name`` and its folded lines."""
    kept: list[bytes] = []
    dropping = False
    wanted = name.lower() + b":"
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(wanted)
        if not dropping:
            kept.append(line)
    return kept


def _decoded(headers: Message, body: bytes) -> bytes:
    encoding = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if encoding == "base64":
        return binascii.a2b_base64(body)  # not strict: line ends and junk are skipped
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    return body


def _copies_by_slicing(raw: bytes, network_dir: Path, recipients: list[str]
                       ) -> Iterator[tuple[str, bytes]] | None:
    """Copies made by cutting the message bytes at its boundary and swapping the encrypted
    parts: no ``email`` parse of the body (its line-by-line parser and generator took some
    seven seconds and four times the message's size for a 50 MB attachment). ``None`` when the
    message is not a plain one-level multipart or a single part."""
    split = _head_and_body(raw)
    if split is None:
        return None
    top_head, top_body = split
    top = _HEADER_PARSER.parsebytes(top_head + b"\n")
    entities: list[bytes]  # [preamble, part, part, ..., closing and epilogue] or [whole]
    if top.get_content_maintype() == "multipart":
        boundary = top.get_boundary()
        if not boundary:
            return None
        opening = b"--" + boundary.encode("utf-8", "surrogateescape")
        pieces = top_body.split(b"\n" + opening)
        del top_body  # the pieces are the only copy kept (a 95 MB message is held enough)
        if pieces[0].startswith(opening):  # no preamble: the body starts with a delimiter
            pieces[0:1] = [b"", pieces[0][len(opening):]]
        if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
            return None
        entities = [pieces[0].removesuffix(b"\r")]
        for piece in pieces[1:-1]:
            _, newline, entity = piece.partition(b"\n")  # the rest of the delimiter line
            if not newline:
                return None
            entities.append(entity)
        entities.append(pieces[-1])
        leaves = range(1, len(entities) - 1)
    else:
        entities, leaves = [top_body], range(0, 0)
    parts: list[tuple[int, bytes, Message, dict[str, bytes] | None]] = []
    for index in leaves:
        crlf = entities[index].endswith(b"\r")
        entity = entities[index][:-1] if crlf else entities[index]
        head_body = _head_and_body(entity)
        if head_body is None:
            return None
        head, body = head_body
        headers = _HEADER_PARSER.parsebytes(head + b"\n")
        if headers.get_content_maintype() in ("multipart", "message"):
            return None
        reencrypted = None
        if (headers.get_content_disposition() == "attachment"
                or headers.get_content_type() == "text/plain"):
            reencrypted = reencrypt(network_dir, _decoded(headers, body))
            entities[index] = b""  # replaced in every copy: the original is not needed
        del entity, body
        parts.append((index, head, headers, reencrypted))
    if not parts:  # a single part: the whole message is the leaf
        if top.get_content_disposition() != "attachment" and \
                top.get_content_type() != "text/plain":
            return None
        parts.append((0, top_head, top, reencrypt(network_dir, _decoded(top, top_body))))
    for recipient in recipients:
        if any(found is not None and recipient not in found for *_, found in parts):
            raise SandboxError(f"the content is not encrypted for {recipient}",
                               fix="encrypt for every recipient of the envelope")
    return _assemble(top_head, entities, parts, boundary_line(top), recipients)


def boundary_line(top: Message) -> bytes:
    boundary = top.get_boundary() if top.get_content_maintype() == "multipart" else None
    return b"--" + boundary.encode("utf-8", "surrogateescape") if boundary else b""


def _assemble(top_head: bytes, entities: list[bytes],
              parts: list[tuple[int, bytes, Message, dict[str, bytes] | None]],
              delimiter: bytes, recipients: list[str]) -> Iterator[tuple[str, bytes]]:
    """Write each recipient's copy with LF line ends (a Maildir file), one at a time."""
    label = b"X-Sandbox-Relay: " + LABEL.encode("ascii")
    for recipient in recipients:
        swapped: dict[int, tuple[list[bytes], bytes]] = {}
        for index, head, headers, reencrypted in parts:
            if reencrypted is None:
                continue
            content = reencrypted[recipient]
            lines = _without_header(head, b"Content-Transfer-Encoding")
            if headers.get_content_disposition() == "attachment":
                lines.append(b"Content-Transfer-Encoding: base64")
                body = _base64_line_bytes(content)
            else:
                lines.append(b"Content-Transfer-Encoding: 7bit")
                body = content.replace(b"\r\n", b"\n")
            swapped[index] = lines, body.removesuffix(b"\n")
        if not delimiter:  # a single part: its headers are the message's
            lines, body = swapped[0]
            kept = [line for line in lines if not line.lower().startswith(b"x-sandbox-relay:")]
            yield recipient, b"\n".join([*kept, label]) + b"\n\n" + body + b"\n"
            continue
        chunks = [b"\n".join([*_without_header(top_head, b"X-Sandbox-Relay"), label]), b"\n\n"]
        if entities[0]:
            chunks += [entities[0].replace(b"\r\n", b"\n"), b"\n"]
        for index in range(1, len(entities) - 1):
            if index in swapped:
                lines, body = swapped[index]
                entity = b"\n".join(lines) + b"\n\n" + body
            else:
                entity = entities[index].replace(b"\r\n", b"\n").removesuffix(b"\r")
            chunks += [delimiter, b"\n", entity, b"\n"]
        chunks += [delimiter, entities[-1].replace(b"\r\n", b"\n")]
        yield recipient, b"".join(chunks)


def _copies_by_email(raw: bytes, network_dir: Path, recipients: list[str]
                     ) -> Iterator[tuple[str, bytes]]:
    """The message as each recipient receives it: body and attachments re-encrypted for them.

    Everything is re-encrypted and checked before the first copy is made, so it raises
    :class:`SandboxError` (when any part cannot be re-encrypted or is not encrypted for a
    recipient) before anybody gets anything. Then the copies are made one at a time (yielded
    as (recipient, bytes)), from one parse of the message whose encrypted parts are swapped:
    parsing and generating the message once per recipient with the ``email`` default policy
    held some thirty times a large attachment's size in memory.
    """
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    per_part: list[tuple[Message, dict[str, bytes]]] = []
    for part in _leaf_parts(message):
        if _is_attachment(part) or part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            if not isinstance(payload, bytes):
                raise SandboxError("a part of the message cannot be decoded",
                                   fix="send a well-formed MIME message")
            per_part.append((part, reencrypt(network_dir, payload)))
            part.set_payload("")  # the encoded original is no longer needed
    for recipient in recipients:
        if any(recipient not in reencrypted for _, reencrypted in per_part):
            raise SandboxError(f"the content is not encrypted for {recipient}",
                               fix="encrypt for every recipient of the envelope")
    del message["X-Sandbox-Relay"]
    message["X-Sandbox-Relay"] = LABEL
    for recipient in recipients:
        for part, reencrypted in per_part:
            content = reencrypted[recipient]
            del part["Content-Transfer-Encoding"]
            if _is_attachment(part):
                part["Content-Transfer-Encoding"] = "base64"
                part.set_payload(_base64_lines(content))
            else:
                part["Content-Transfer-Encoding"] = "7bit"
                if part.get_param("charset") is not None:
                    part.set_param("charset", "us-ascii")
                part.set_payload(content.decode("ascii"))
        out = io.BytesIO()
        BytesGenerator(out, mangle_from_=False, policy=_DELIVERY_POLICY).flatten(message)
        for part, _ in per_part:
            part.set_payload("")
        yield recipient, out.getvalue()


_DELIVERY_POLICY = email.policy.compat32.clone(linesep="\n")


def _base64_lines(data: bytes) -> str:
    """``data`` in base64 lines of 76 characters (the ``email`` way of the slow path)."""
    return _base64_line_bytes(data).decode("ascii")


class RelayHandler:
    """aiosmtpd handler of the relay (see the module docstring)."""

    def __init__(self, network_dir: Path, mailbox_for: MailboxLookup) -> None:
        self.network_dir = Path(network_dir)
        self.mailbox_for = mailbox_for
        self.delivered: list[tuple[str, Path]] = []

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        login = _login(session)
        local = address.rpartition("@")[0]
        if login is not None and local != login:
            return (f"553 5.7.1 <{address}>: you are logged in as {login}; "
                    "send from your own address (FAKE sandbox relay)")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        local = address.rpartition("@")[0]
        if not local or not (self.network_dir / local).is_dir():
            return (f"550 5.1.1 <{address}>: unknown recipient: the FAKE sandbox relay has no "
                    f"user {local or address!r} (create its keys with 'medshake-bridge sandbox "
                    "make-keys')")
        if self.mailbox_for(local) is None:
            return f"550 5.1.1 <{address}>: the FAKE sandbox relay has no mailbox for {local}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        locals_ = [address.rpartition("@")[0] for address in envelope.rcpt_tos]
        spool = getattr(envelope, "spool", None)
        if spool is None:  # a plain aiosmtpd server: the message is in memory
            return self.deliver_bytes(envelope.original_content or b"", locals_)
        # re-encrypting a large message takes seconds: not in the event loop
        return await asyncio.get_running_loop().run_in_executor(
            None, self.deliver_spooled, Path(spool), locals_)

    def deliver_spooled(self, spool: Path, locals_: list[str]) -> str:
        """Deliver the message spooled in ``spool`` (see :mod:`.relay_stream`)."""
        from medshake_bridge.sandbox.relay_stream import contains, spooled_copies

        times = 2 if contains(spool, DELIVER_TWICE_MARKER) else 1
        with tempfile.TemporaryDirectory(prefix="relay-work-", dir=spool.parent) as work:
            try:
                write = spooled_copies(spool, self.network_dir, locals_, Path(work))
            except (SandboxError, ValueError, UnicodeDecodeError) as exc:
                log.warning("sandbox relay refused a message: %s", exc)
                return ("554 5.6.0 the FAKE sandbox relay could not re-encrypt the message: "
                        f"{exc}")
            if write is None:  # not the bridge's shape: the in-memory way
                return self.deliver_bytes(spool.read_bytes(), locals_)
            try:
                for local in locals_:
                    maildir = self.mailbox_for(local)
                    assert maildir is not None
                    for _ in range(times):
                        path = deliver_with(maildir, lambda out, who=local: write(who, out))
                        self.delivered.append((local, path))
            finally:
                write.close()  # type: ignore[attr-defined]
        return f"250 2.0.0 delivered to {len(locals_)} mailbox(es) by the FAKE sandbox relay"

    def deliver_bytes(self, raw: bytes, locals_: list[str]) -> str:
        """Deliver the message ``raw`` held in memory."""
        times = 2 if DELIVER_TWICE_MARKER in raw else 1  # the companion's "duplicate" mode
        try:
            copies = copies_for(raw, self.network_dir, locals_)
            first = next(copies)  # everything is re-encrypted and checked before this one
        except (SandboxError, ValueError, UnicodeDecodeError) as exc:
            log.warning("sandbox relay refused a message: %s", exc)
            return f"554 5.6.0 the FAKE sandbox relay could not re-encrypt the message: {exc}"
        for local, copy in itertools.chain([first], copies):
            maildir = self.mailbox_for(local)
            assert maildir is not None
            for _ in range(times):
                path = deliver(maildir, copy)
                self.delivered.append((local, path))
        return f"250 2.0.0 delivered to {len(locals_)} mailbox(es) by the FAKE sandbox relay"


def _login(session: Session) -> str | None:
    auth = session.auth_data
    if isinstance(auth, LoginPassword):
        return auth.login.decode("utf-8", "replace")
    return None


class _Authenticator:
    """Logins and passwords: a fixed mapping, or a users file read again whenever it changes
    (so adding a sandbox user needs no relay restart)."""

    def __init__(self, users: Mapping[str, str] | str | os.PathLike[str]) -> None:
        self.path = None if isinstance(users, Mapping) else Path(users)
        self._stamp: tuple[int, int] | None = None
        self._users = dict(users) if isinstance(users, Mapping) else {}

    @property
    def users(self) -> dict[str, str]:
        if self.path is not None:
            try:
                info = self.path.stat()
                stamp = (info.st_mtime_ns, info.st_size)
                if stamp != self._stamp:
                    self._users, self._stamp = read_users_file(self.path), stamp
            except OSError as exc:  # keep the last users known; say why
                log.warning("sandbox relay: cannot read the users file %s: %s", self.path, exc)
        return self._users

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        expected = self.users.get(login)
        if expected is not None and secrets.compare_digest(expected, password):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


class _Controller(Controller):
    """``Controller`` that may bind port 0 and then knows the port it got, and whose server
    spools DATA to disk (:class:`~medshake_bridge.sandbox.relay_spool.SpoolingSMTP`)."""

    spool_dir: str | None = None

    def factory(self) -> SMTP:
        return SpoolingSMTP(self.handler, spool_dir=self.spool_dir, **self.SMTP_kwargs)

    def _create_server(self) -> Any:
        async def create() -> Any:
            server = await self.loop.create_server(self._factory_invoker, host=self.hostname,
                                                   port=self.port, ssl=self.ssl_context)
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


class SandboxRelay:
    """The relay, running in a thread: ``start()``, ``port``, ``stop()``."""

    def __init__(self, network_dir: str | os.PathLike[str], mailbox_for: MailboxLookup,
                 users: Mapping[str, str] | str | os.PathLike[str], *,
                 host: str = "127.0.0.1", port: int = 0,
                 tls_cert: str | os.PathLike[str] | None = None,
                 tls_key: str | os.PathLike[str] | None = None,
                 spool_dir: str | os.PathLike[str] | None = None) -> None:
        """``spool_dir``: where each message being received is written (a private temporary
        file, removed once answered); the system's temporary folder by default."""
        self.handler = RelayHandler(Path(network_dir), mailbox_for)
        options: dict[str, Any] = {
            "authenticator": _Authenticator(users),
            "auth_required": True,
            "server_hostname": "localhost",
            "ident": LABEL,
            # aiosmtpd refuses more than 32 MiB by default; a 50 MB attachment makes a
            # message of about 95 MB once armoured and base64-encoded.
            "data_size_limit": DATA_SIZE_LIMIT,
        }
        if tls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls_cert), str(tls_key) if tls_key else None)
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            options.update(auth_require_tls=False)
        self.tls = bool(tls_cert)
        self.controller = _Controller(self.handler, hostname=host, port=port, **options)
        self.controller.spool_dir = str(spool_dir) if spool_dir else None

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def host(self) -> str:
        return str(self.controller.hostname)

    def start(self) -> SandboxRelay:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
