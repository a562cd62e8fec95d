"""Collecting a POP3 mailbox (the Apicrypt default) with ``poplib``.

Server ids are UIDL strings, stable across sessions. The listing costs one UIDL and one LIST
(never a TOP per message). ``fetch_to`` streams the RETR response to the destination line by
line, undoing dot-stuffing, because ``poplib.retr`` would hold a 50 MB message (and a list of
its lines) in memory. When the server advertises PIPELINING (RFC 2449) and the pipeline
announces the messages it is about to fetch (:meth:`Pop3Collector.prefetch`), up to
``PIPELINE_DEPTH`` RETR commands are kept on the wire, so a distant server is not waited for
once per message; the DELE commands at close are pipelined the same way. DELE is only sent
by :meth:`Pop3Collector.close`, right before QUIT, and POP3 applies deletions at QUIT only: a
session that ends any other way deletes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import poplib
import ssl
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from medshake_bridge.api import (
    SOCKET_TIMEOUT,
    MailAuthenticationError,
    MailboxIdentity,
    MailConnectionError,
    MailEndpoint,
    MailError,
    MailProtocolError,
    MailTlsError,
    ServerMessage,
    client_context,
    endpoint_from_settings,
    network_failure,
)

log = logging.getLogger(__name__)

READ_LINE_LIMIT = 64 * 1024  # longer lines are read in pieces, never refused
WRITE_BATCH = 256 * 1024  # bytes gathered before one write to the destination
PIPELINE_DEPTH = 16  # RETR commands on the wire at once (with PIPELINING)
DELE_BATCH = 200  # DELE commands sent together before their answers are read
# RFC 3206 response codes that mean "try again later", not "wrong password".
TRANSIENT_LOGIN_CODES = (b"[IN-USE]", b"[LOGIN-DELAY]", b"[SYS/TEMP]")


class _StreamBroken(Exception):
    """The server's stream ended or failed in the middle of a multi-line response."""

    def __init__(self, cause: OSError | None) -> None:
        super().__init__(str(cause) if cause else "end of stream")
        self.cause = cause


def copy_multiline(file: BinaryIO, dest: BinaryIO) -> int:
    """Copy the body of a POP3 multi-line response from ``file`` to ``dest``.

    Lines are written as received (CRLF kept) minus the dot-stuffing and the final ``.`` line.
    Memory stays bounded by ``WRITE_BATCH`` plus one read buffer whatever the message size.
    Raises :class:`_StreamBroken` when the stream ends early; errors from ``dest`` propagate
    unchanged (a full disk is not a network problem).

    Why blocks: a message is mostly lines that need nothing done (no leading dot), and reading
    them one ``readline`` at a time was the largest cost of a collection after the database.
    So the complete lines already buffered (``peek``) are taken in one piece up to the first
    that starts with a dot; a line that does (dot-stuffing, the final ``.``) and a line not
    yet complete in the buffer go through the line reader. (Until issue 18's seventh pass a
    buffer holding any dotted line, and so the end of every message, went line by line:
    about 40 reads per small message.) Nothing past the final ``.`` line is
    consumed: with PIPELINING the next answer follows in the same buffer.
    """
    peek = getattr(file, "peek", None)
    written = 0
    batch: list[bytes] = []
    batched = 0
    at_line_start = True
    while True:
        try:
            buffered = peek(WRITE_BATCH) if peek is not None else b""
        except OSError as exc:
            raise _StreamBroken(exc) from exc
        complete = buffered.rfind(b"\n") + 1
        if complete and not (at_line_start and buffered[:1] == b"."):
            dotted = buffered.find(b"\n.", 0, complete)
            if dotted >= 0:  # the lines before the next one that starts with a dot
                complete = dotted + 1
            block = file.read(complete)  # already buffered: no wait, exactly these bytes
            at_line_start = True
        else:
            block = _read_line(file)
            if at_line_start and block[:1] == b".":
                if block in (b".\r\n", b".\n"):
                    break
                block = block[1:]
            at_line_start = block[-1:] == b"\n"
        batch.append(block)
        batched += len(block)
        if batched >= WRITE_BATCH:
            dest.write(b"".join(batch))
            written += batched
            batch, batched = [], 0
    if batch:
        dest.write(b"".join(batch))
        written += batched
    return written


def _read_line(file: BinaryIO) -> bytes:
    try:
        line = file.readline(READ_LINE_LIMIT)
    except OSError as exc:
        raise _StreamBroken(exc) from exc
    if not line:
        raise _StreamBroken(None)
    return line


class _Discard:
    """A destination that keeps nothing (answers read only to stay in step)."""

    def write(self, data: bytes) -> int:
        return len(data)


def _server_text(exc: poplib.error_proto) -> bytes | None:
    """The server's ``-ERR`` line, or None when poplib itself complained (EOF, long line)."""
    answer = exc.args[0] if exc.args else None
    return answer if isinstance(answer, bytes) else None


class Pop3Collector:
    """A :class:`~medshake_bridge.interfaces.MailCollector` over one POP3 mailbox."""

    def __init__(self, endpoint: MailEndpoint) -> None:
        self.endpoint = endpoint
        self._pop: poplib.POP3 | None = None
        self._numbers: dict[str, int] | None = None  # UIDL -> message number, this session
        self._pending: dict[str, None] = {}  # ids to DELE at close, in order
        self._broken = False  # the stream failed (e.g. mid-message): the session cannot go on
        self._pipelining: bool | None = None  # PIPELINING in CAPA (asked once per session)
        self._hinted: list[str] = []  # ids the pipeline will fetch, in that order
        self._next_hint = 0  # index in _hinted of the first id whose RETR is not sent yet
        self._inflight: deque[str] = deque()  # ids whose RETR is sent and not yet read

    # --- session ----------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, secure (tls/starttls) and log in."""
        if self._pop is not None:
            raise RuntimeError("this POP3 session is already open")
        ep = self.endpoint
        context = client_context(ep.ca_file) if ep.tls != "none" else None
        with self._errors("connecting", handshake=True):
            if ep.tls == "tls":
                self._pop = poplib.POP3_SSL(ep.host, ep.port, context=context,
                                            timeout=ep.timeout)
            else:
                self._pop = poplib.POP3(ep.host, ep.port, timeout=ep.timeout)
        self._numbers, self._pending, self._broken = None, {}, False
        self._pipelining, self._hinted, self._next_hint = None, [], 0
        self._inflight = deque()
        try:
            if ep.tls == "starttls":
                self._starttls(context)
            self._login()
        except BaseException:
            self._drop()
            raise

    def _starttls(self, context: ssl.SSLContext | None) -> None:
        pop = self._session()
        with self._errors("starting TLS (STLS)", handshake=True):
            try:
                pop.stls(context=context)
            except poplib.error_proto as exc:
                if _server_text(exc) is None and "STLS" not in str(exc):
                    raise
                raise MailTlsError(
                    f"the POP3 server {self.endpoint.where} does not offer STARTTLS (STLS)",
                    fix="set apicryptPopTls to tls (usually port 995), or to none only on a "
                        "trusted network",
                ) from exc

    def _login(self) -> None:
        pop = self._session()
        with self._errors("logging in"):
            try:
                pop.user(self.endpoint.login)
                pop.pass_(self.endpoint.password)
            except poplib.error_proto as exc:
                answer = _server_text(exc)
                if answer is None:
                    raise
                if any(code in answer for code in TRANSIENT_LOGIN_CODES):
                    raise MailConnectionError(
                        f"the POP3 server {self.endpoint.where} refused the session for now "
                        f"({self.endpoint.scrub(answer)})",
                        fix="another program may be reading this mailbox; the next "
                            "collection tries again",
                    ) from None
                raise MailAuthenticationError(
                    f"the POP3 server {self.endpoint.where} refused the login "
                    f"{self.endpoint.login!r} ({self.endpoint.scrub(answer)})",
                    fix="check apicryptPopUser and apicryptPopPassword",
                ) from None

    # --- listing and fetching ---------------------------------------------------------------

    def list_messages(self) -> list[ServerMessage]:
        """All messages with their UIDL and size: one UIDL and one LIST command."""
        self._drain()
        pop = self._session()
        with self._errors("listing the messages"):
            uidl = pop.uidl()[1]
            sizes_listing = pop.list()[1]
        numbers: dict[str, int] = {}
        for line in uidl:
            number, _, uid = line.partition(b" ")
            server_id = uid.strip().decode("ascii", "replace")
            if not number.isdigit() or not server_id:
                raise MailProtocolError(
                    f"the POP3 server {self.endpoint.where} sent a malformed UIDL line",
                    fix="report it to the mail server's admin",
                )
            numbers.setdefault(server_id, int(number))
        sizes: dict[int, int] = {}
        for line in sizes_listing:
            fields = line.split()
            if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
                sizes[int(fields[0])] = int(fields[1])
        self._numbers = numbers
        return [ServerMessage(server_id, sizes.get(number, 0))
                for server_id, number in sorted(numbers.items(), key=lambda item: item[1])]

    def prefetch(self, server_ids: Sequence[str]) -> None:
        """Announce the messages about to be fetched, in the order :meth:`fetch_to` will ask
        for them; with PIPELINING their RETR commands are sent ahead."""
        self._drain()
        if self._pipelining is None:
            self._pipelining = self._has_pipelining()
        self._hinted = [sid for sid in server_ids if self._number(sid) is not None]
        self._next_hint = 0

    def _has_pipelining(self) -> bool:
        pop = self._session()
        with self._errors("asking for the server's capabilities (CAPA)"):
            try:
                return "PIPELINING" in pop.capa()
            except poplib.error_proto as exc:
                if _server_text(exc) is None:
                    raise
                return False  # no CAPA (RFC 1939 only): no pipelining

    def _send_ahead(self, first: str | None = None) -> None:
        """Keep up to ``PIPELINE_DEPTH`` announced RETR commands on the wire."""
        if not self._pipelining:
            return
        if first is not None and not self._inflight:
            try:
                self._next_hint = self._hinted.index(first, self._next_hint)
            except ValueError:
                return
        elif first is not None:
            return
        commands = []
        while len(self._inflight) < PIPELINE_DEPTH and self._next_hint < len(self._hinted):
            server_id = self._hinted[self._next_hint]
            self._next_hint += 1
            self._inflight.append(server_id)
            commands.append(b"RETR %d\r\n" % self._number(server_id))
        if commands:
            pop = self._session()
            with self._errors("asking for the next messages"):
                pop.sock.sendall(b"".join(commands))

    def _drain(self) -> None:
        """Read (and drop) the answers to RETR commands sent ahead and not used."""
        while self._inflight:
            server_id = self._inflight[0]
            self._read_retr(server_id, None)
        self._hinted, self._next_hint = [], 0

    def fetch_to(self, server_id: str, dest: BinaryIO) -> int:
        """Stream message ``server_id`` to ``dest``; returns the number of bytes written."""
        number = self._number(server_id)
        if number is None:
            raise MailProtocolError(
                f"message {server_id} is no longer on the POP3 server {self.endpoint.where}",
                fix="another program deleted it; nothing to do",
            )
        if self._inflight and self._inflight[0] != server_id:
            self._drain()  # asked out of the announced order: back to one RETR at a time
        self._send_ahead(server_id)
        if not self._inflight:
            pop = self._session()
            with self._errors(f"fetching message {server_id}"):
                pop.sock.sendall(b"RETR %d\r\n" % number)
            self._inflight.append(server_id)
        written = self._read_retr(server_id, dest)
        self._send_ahead()
        return written

    def _read_retr(self, server_id: str, dest: BinaryIO | None) -> int:
        """Read the answer to the oldest RETR on the wire (``server_id``'s) into ``dest``
        (``None``: read and drop it)."""
        pop = self._session()
        during = f"fetching message {server_id}"
        self._inflight.popleft()
        with self._errors(during):
            status = pop.file.readline(READ_LINE_LIMIT)
            if not status:
                raise EOFError
        if not status.startswith(b"+OK"):
            if self._inflight:
                self._drain()
            raise MailProtocolError(
                f"the POP3 server {self.endpoint.where} refused to send message {server_id} "
                f"({self.endpoint.scrub(status)})",
                fix="it may have been deleted by another program; the next collection "
                    "lists the mailbox again",
            )
        try:
            return copy_multiline(pop.file, dest if dest is not None else _Discard())
        except _StreamBroken as exc:
            self._broken = True
            raise self._failure(exc.cause or EOFError(), during) from exc
        except BaseException:
            self._broken = True  # the rest of the message is still on the wire
            raise

    def _number(self, server_id: str) -> int | None:
        if self._numbers is None:
            self.list_messages()
        assert self._numbers is not None
        return self._numbers.get(server_id)

    # --- ending -----------------------------------------------------------------------------

    def delete(self, server_ids: Sequence[str]) -> None:
        """Remember ids to delete; they are deleted at :meth:`close` (DELE, then QUIT)."""
        for server_id in server_ids:
            self._pending[server_id] = None

    def close(self) -> None:
        """DELE the pending ids and QUIT, which applies the deletions.

        Raises if any step fails; the connection is then dropped without QUIT, so nothing was
        deleted (except if QUIT itself reached the server and only its answer was lost).
        """
        if self._pop is None:
            return
        try:
            if self._broken:
                raise MailConnectionError(
                    f"the session with {self.endpoint.where} was interrupted; no message "
                    "was deleted",
                    fix="the next collection tries again",
                )
            self._drain()
            if self._pending:
                self._dele_pending()
            pop = self._session()
            with self._errors("closing the session (QUIT, which applies the deletions)"):
                try:
                    pop.quit()
                except poplib.error_proto as exc:
                    answer = _server_text(exc)
                    if answer is None:
                        raise
                    raise MailProtocolError(
                        f"the POP3 server {self.endpoint.where} could not apply the "
                        f"deletions ({self.endpoint.scrub(answer)})",
                        fix="the next collection tries again",
                    ) from None
        except BaseException:
            self._drop()
            raise
        self._pop = None
        self._pending = {}

    def _dele_pending(self) -> None:
        if self._pipelining is None:
            self._pipelining = self._has_pipelining()
        if self._pipelining:
            self._dele_pipelined()
            return
        pop = self._session()
        for server_id in self._pending:
            number = self._number(server_id)
            if number is None:
                continue  # not (or no longer) on the server: the goal is reached
            with self._errors(f"deleting message {server_id}"):
                try:
                    pop.dele(number)
                except poplib.error_proto as exc:
                    answer = _server_text(exc)
                    if answer is None:
                        raise
                    raise MailProtocolError(
                        f"the POP3 server {self.endpoint.where} refused to delete message "
                        f"{server_id} ({self.endpoint.scrub(answer)})",
                        fix="nothing was deleted; the next collection tries again",
                    ) from None

    def _dele_pipelined(self) -> None:
        """DELE ``DELE_BATCH`` messages per write, then read their answers in order."""
        pop = self._session()
        numbered = [(sid, n) for sid in self._pending if (n := self._number(sid)) is not None]
        for start in range(0, len(numbered), DELE_BATCH):
            batch = numbered[start:start + DELE_BATCH]
            with self._errors("deleting messages"):
                pop.sock.sendall(b"".join(b"DELE %d\r\n" % number for _, number in batch))
                answers = [pop.file.readline(READ_LINE_LIMIT) for _ in batch]
            for (server_id, _), answer in zip(batch, answers, strict=True):
                if not answer:
                    self._broken = True
                    raise self._failure(EOFError(), f"deleting message {server_id}")
                if not answer.startswith(b"+OK"):
                    self._broken = True  # answers may be out of step: never QUIT now
                    raise MailProtocolError(
                        f"the POP3 server {self.endpoint.where} refused to delete message "
                        f"{server_id} ({self.endpoint.scrub(answer.strip())})",
                        fix="nothing was deleted; the next collection tries again",
                    )

    def abort(self) -> None:
        """Drop the connection without QUIT: the server deletes nothing."""
        self._drop()

    def _drop(self) -> None:
        pop, self._pop = self._pop, None
        self._pending = {}
        self._inflight, self._hinted = deque(), []
        if pop is not None:
            with contextlib.suppress(OSError):
                pop.close()

    # --- helpers ----------------------------------------------------------------------------

    def _session(self) -> poplib.POP3:
        if self._pop is None:
            raise RuntimeError("the POP3 session is not open")
        if self._broken:
            raise MailConnectionError(
                f"the session with {self.endpoint.where} was interrupted",
                fix="start a new collection",
            )
        return self._pop

    def _failure(self, exc: BaseException, during: str, *, handshake: bool = False
                 ) -> MailError:
        if isinstance(exc, OSError):
            return network_failure(exc, self.endpoint, during, handshake=handshake)
        if isinstance(exc, poplib.error_proto) and _server_text(exc) is not None:
            return MailProtocolError(
                f"the POP3 server {self.endpoint.where} answered an error while {during} "
                f"({self.endpoint.scrub(_server_text(exc))})",
                fix="the next collection tries again; if it persists, check the server",
            )
        detail = "the server closed the connection" if (
            isinstance(exc, EOFError) or "EOF" in str(exc)) else str(exc)
        return MailConnectionError(
            f"the connection to {self.endpoint.where} broke while {during} ({detail})",
            fix="check the network; the next collection tries again",
        )

    @contextlib.contextmanager
    def _errors(self, during: str, *, handshake: bool = False) -> Iterator[None]:
        """Translate poplib and socket errors raised while ``during`` into MailErrors."""
        try:
            yield
        except MailError:
            raise
        except (OSError, EOFError, poplib.error_proto) as exc:
            if not isinstance(exc, poplib.error_proto) or _server_text(exc) is None:
                self._broken = self._broken or self._pop is not None
            raise self._failure(exc, during, handshake=handshake) from exc


def pop3_endpoint(settings: Mapping[str, Any], timeout: float = SOCKET_TIMEOUT) -> MailEndpoint:
    return endpoint_from_settings(settings, protocol="POP3", prefix="apicryptPop",
                                  timeout=timeout)


def pop3_identity(settings: Mapping[str, Any]) -> MailboxIdentity | None:
    """The POP3 mailbox a user's settings point at; None when host or login is missing."""
    host = str(settings.get("apicryptPopHost") or "").strip().lower()
    login = str(settings.get("apicryptPopUser") or "").strip()
    if not host or not login:
        return None
    try:
        port = int(settings.get("apicryptPopPort") or 110)
    except (TypeError, ValueError):
        port = 110
    return MailboxIdentity("pop3", host, port, login)


def pop3_collector(settings: Mapping[str, Any]) -> Pop3Collector:
    """A collector for the user's POP3 mailbox; connects only at ``open()``."""
    return Pop3Collector(pop3_endpoint(settings))
