"""Collecting one folder of an IMAP mailbox with ``imaplib``.

A server id is ``"<UIDVALIDITY>:<UID>"``: a UID alone is only meaningful with the folder's
UIDVALIDITY, and if the server ever resets it, old ids simply stop matching instead of naming
other messages (which would be fetched as duplicates, or deleted unread). ``fetch_to`` reads the
message in partial fetches (``BODY.PEEK[]<offset.size>``, which also leaves ``\\Seen`` alone),
so at most one chunk is in memory whatever the message size. When the pipeline announces the
messages it is about to fetch (:meth:`ImapCollector.prefetch`), they are asked for with one
``UID FETCH`` per batch (one round trip for up to ``FETCH_BATCH`` messages, which matters on a
distant server) and each answer is streamed to its file as it arrives, so a crash still leaves
at most the message being written to fetch again. Deletions are only sent by
:meth:`ImapCollector.close` (flag ``\\Deleted`` then expunge, or move to a folder): an aborted
session leaves the mailbox untouched.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
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

FETCH_CHUNK = 1024 * 1024  # bytes per partial fetch: the most a fetch holds in memory
UID_BATCH = 500  # UIDs per STORE / EXPUNGE / MOVE command, to keep command lines short
FETCH_BATCH = 100  # messages asked for by one batched UID FETCH (one round trip)
DEFAULT_FOLDER = "INBOX"

_UID_RE = re.compile(rb"\bUID (\d+)")
_SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_BODY_RE = re.compile(rb"\bBODY\[\]<(\d+)>")
_WHOLE_BODY_RE = re.compile(rb"\bBODY\[\] \{(\d+)\}\r?\n\Z")
_LITERAL_RE = re.compile(rb"\{(\d+)\}\r?\n\Z")


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3), e.g. ``Reçus`` ->
    ``Re&AOc-us``: servers that did not enable UTF-8 only understand this form."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quoted(text: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uid_set(uids: Sequence[int]) -> str:
    """Compact IMAP sequence set: ``[1, 2, 3, 7]`` -> ``"1:3,7"``."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = previous = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


def _text(data: Sequence[Any]) -> bytes:
    """The text of a tagged answer, for messages."""
    for item in reversed(list(data or [])):
        if isinstance(item, bytes):
            return item
    return b""


class ImapCollector:
    """A :class:`~medshake_bridge.interfaces.MailCollector` over one IMAP folder."""

    def __init__(self, endpoint: MailEndpoint, folder: str = DEFAULT_FOLDER, *,
                 move_to: str = "", chunk_size: int = FETCH_CHUNK) -> None:
        self.endpoint = endpoint
        self.folder = folder or DEFAULT_FOLDER
        self.move_to = move_to
        self.chunk_size = chunk_size
        self.uidvalidity: int | None = None
        self._imap: imaplib.IMAP4 | None = None
        self._capabilities: set[str] = set()
        self._pending: dict[str, None] = {}
        self._broken = False
        self._hinted: list[int] = []  # UIDs the pipeline will fetch, in that order
        self._next_hint = 0  # index in _hinted of the first UID not yet asked for
        self._inflight: deque[int] = deque()  # UIDs of the batch on the wire, in order
        self._batch_tag = b""
        self._tags = 0

    # --- session ----------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, secure (tls/starttls), log in and select the folder."""
        if self._imap is not None:
            raise RuntimeError("this IMAP session is already open")
        ep = self.endpoint
        context = client_context(ep.ca_file) if ep.tls != "none" else None
        with self._errors("connecting", handshake=True):
            if ep.tls == "tls":
                self._imap = imaplib.IMAP4_SSL(ep.host, ep.port, ssl_context=context,
                                               timeout=ep.timeout)
            else:
                self._imap = imaplib.IMAP4(ep.host, ep.port, timeout=ep.timeout)
        self._pending, self._broken, self.uidvalidity = {}, False, None
        self._hinted, self._next_hint, self._inflight, self._batch_tag = [], 0, deque(), b""
        try:
            if ep.tls == "starttls":
                self._starttls(context)
            self._login()
            self._select()
        except BaseException:
            self._drop()
            raise

    def _starttls(self, context: ssl.SSLContext | None) -> None:
        imap = self._session()
        if "STARTTLS" not in imap.capabilities:
            raise MailTlsError(
                f"the IMAP server {self.endpoint.where} does not offer STARTTLS",
                fix="set apicryptImapTls to tls (usually port 993), or to none only on a "
                    "trusted network",
            )
        with self._errors("starting TLS (STARTTLS)", handshake=True):
            imap.starttls(ssl_context=context)

    def _login(self) -> None:
        imap = self._session()
        ep = self.endpoint
        if "LOGINDISABLED" in imap.capabilities:
            raise MailAuthenticationError(
                f"the IMAP server {ep.where} refuses passwords on an unencrypted connection",
                fix="set apicryptImapTls to starttls or tls",
            )
        with self._errors("logging in"):
            try:
                if (ep.login + ep.password).isascii():
                    imap.login(quoted(ep.login), ep.password)
                else:  # LOGIN is ASCII-only in imaplib; SASL PLAIN carries UTF-8
                    credentials = f"\0{ep.login}\0{ep.password}".encode()
                    imap.authenticate("PLAIN", lambda _challenge: credentials)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                answer = ep.scrub(exc.args[0] if exc.args else "")
                if "[UNAVAILABLE]" in answer:
                    raise MailConnectionError(
                        f"the IMAP server {ep.where} cannot log in now ({answer})",
                        fix="the next collection tries again",
                    ) from None
                raise MailAuthenticationError(
                    f"the IMAP server {ep.where} refused the login {ep.login!r} ({answer})",
                    fix="check apicryptPopUser and apicryptPopPassword",
                ) from None
            typ, data = imap.capability()  # they may change once logged in (e.g. UIDPLUS)
        self._capabilities = set(_text(data).decode("ascii", "replace").upper().split())

    def _select(self) -> None:
        imap = self._session()
        with self._errors(f"opening the folder {self.folder}"):
            try:
                typ, data = imap.select(quoted(imap_utf7(self.folder)))
            except imaplib.IMAP4.readonly:
                raise MailProtocolError(
                    f"the folder {self.folder!r} is read-only for {self.endpoint.login!r} on "
                    f"{self.endpoint.where}: collected mail could never be deleted",
                    fix="give the mailbox user write access, or set apicryptImapFolder to a "
                        "writable folder",
                ) from None
            if typ != "OK":
                raise MailProtocolError(
                    f"the folder {self.folder!r} cannot be opened on {self.endpoint.where} "
                    f"({self.endpoint.scrub(_text(data))})",
                    fix="check apicryptImapFolder (INBOX, or a folder that exists)",
                )
            _name, values = imap.response("UIDVALIDITY")
        try:
            self.uidvalidity = int(_text(values))
        except ValueError:
            raise MailProtocolError(
                f"the IMAP server {self.endpoint.where} sent no UIDVALIDITY for {self.folder!r}",
                fix="this server cannot be collected over IMAP; use POP3",
            ) from None

    # --- listing and fetching ---------------------------------------------------------------

    def list_messages(self) -> list[ServerMessage]:
        """All messages of the folder: one ``UID SEARCH ALL`` and one ``UID FETCH 1:*
        (RFC822.SIZE)``."""
        self._finish_batch()
        imap = self._session()
        with self._errors("listing the messages"):
            typ, data = imap.uid("SEARCH", "ALL")
            self._expect_ok(typ, data, "listing the messages")
            uids = [int(value) for item in data if item for value in item.split()]
            if not uids:
                return []
            typ, data = imap.uid("FETCH", "1:*", "(RFC822.SIZE)")
            self._expect_ok(typ, data, "listing the message sizes")
        sizes: dict[int, int] = {}
        for item in data:
            header = item[0] if isinstance(item, tuple) else item
            if not isinstance(header, bytes):
                continue
            uid, size = _UID_RE.search(header), _SIZE_RE.search(header)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return [ServerMessage(f"{self.uidvalidity}:{uid}", sizes[uid])
                for uid in sorted(set(uids)) if uid in sizes]  # absent: expunged meanwhile

    def prefetch(self, server_ids: Sequence[str]) -> None:
        """Announce the messages about to be fetched, in the order :meth:`fetch_to` will ask
        for them: they are then requested ``FETCH_BATCH`` at a time (one round trip each)."""
        self._finish_batch()
        uids = [self._uid(server_id) for server_id in server_ids]
        self._hinted = [uid for uid in uids if uid is not None]
        self._next_hint = 0

    def fetch_to(self, server_id: str, dest: BinaryIO) -> int:
        """Stream message ``server_id`` to ``dest`` in ``chunk_size`` pieces; returns the
        number of bytes written."""
        uid = self._uid(server_id)
        if uid is None:
            raise MailProtocolError(
                f"message {server_id} belongs to an older state of the folder {self.folder!r} "
                f"(its UIDVALIDITY is now {self.uidvalidity})",
                fix="the server renumbered the folder; the messages are listed again with new "
                    "ids",
            )
        if self._inflight and self._inflight[0] != uid:
            self._finish_batch()  # asked out of the announced order: back to single fetches
        if not self._inflight:
            self._start_batch(uid)
        if self._inflight:
            return self._batched_fetch(server_id, uid, dest)
        return self._partial_fetch(server_id, uid, dest)

    def _partial_fetch(self, server_id: str, uid: int, dest: BinaryIO) -> int:
        imap = self._session()
        during = f"fetching message {server_id}"
        written = 0
        while True:
            with self._errors(during):
                typ, data = imap.uid("FETCH", str(uid),
                                     f"(BODY.PEEK[]<{written}.{self.chunk_size}>)")
                self._expect_ok(typ, data, during)
            piece = self._body_piece(data, uid, written)
            if piece is None:
                raise MailProtocolError(
                    f"message {server_id} is no longer in {self.folder!r} on "
                    f"{self.endpoint.where}",
                    fix="another program moved or deleted it; nothing to do",
                )
            dest.write(piece)
            written += len(piece)
            if len(piece) < self.chunk_size:
                return written

    # --- batched fetching --------------------------------------------------------------------

    def _start_batch(self, uid: int) -> None:
        """Ask for ``uid`` and the announced UIDs after it in one ``UID FETCH`` (no waiting)."""
        hinted = self._hinted
        try:
            start = hinted.index(uid, self._next_hint)
        except ValueError:
            return
        batch = hinted[start:start + FETCH_BATCH]
        self._next_hint = start + len(batch)
        imap = self._session()
        self._tags += 1
        tag = b"MSB%d" % self._tags
        command = b"%s UID FETCH %s (UID BODY.PEEK[])\r\n" % (tag, uid_set(batch).encode())
        with self._errors("asking for a batch of messages"):
            imap.send(command)
        self._batch_tag = tag
        self._inflight = deque(sorted(batch))

    def _batched_fetch(self, server_id: str, uid: int, dest: BinaryIO) -> int:
        """Read the next answer of the batch on the wire, which must be ``uid``'s, into
        ``dest``; the literal is copied in ``chunk_size`` pieces."""
        imap = self._session()
        during = f"fetching message {server_id}"
        while True:
            with self._errors(during):
                line = imap.readline()
                if not line:
                    raise EOFError
            if line.startswith(self._batch_tag + b" "):
                self._end_batch(line, during)
                raise MailProtocolError(
                    f"message {server_id} is no longer in {self.folder!r} on "
                    f"{self.endpoint.where}",
                    fix="another program moved or deleted it; nothing to do",
                )
            literal = _LITERAL_RE.search(line)
            if literal is None:
                continue  # an unsolicited answer (EXISTS, EXPUNGE, a flag change...)
            size = int(literal.group(1))
            found = _UID_RE.search(line)
            if not (line.startswith(b"* ") and b" FETCH " in line and _WHOLE_BODY_RE.search(line)
                    and (found is None or int(found.group(1)) == uid)):
                self._skip_literal(size, during)
                if found is not None and int(found.group(1)) in self._inflight:
                    # The server skipped ours (expunged meanwhile) and answers for a later one.
                    self._finish_batch()
                    raise MailProtocolError(
                        f"message {server_id} is no longer in {self.folder!r} on "
                        f"{self.endpoint.where}",
                        fix="another program moved or deleted it; nothing to do",
                    )
                continue
            written = self._copy_literal(size, dest, during)
            with self._errors(during):
                rest = imap.readline()
            found = found or _UID_RE.search(rest)
            if found is None or int(found.group(1)) != uid:
                self._broken = True  # written to the wrong file: the caller discards it
                raise MailProtocolError(
                    f"the IMAP server {self.endpoint.where} answered for another message than "
                    f"{server_id}",
                    fix="the next collection tries again; if it persists, use POP3",
                )
            self._inflight.popleft()
            if not self._inflight:
                self._finish_batch()
            return written

    def _copy_literal(self, size: int, dest: BinaryIO | None, during: str) -> int:
        imap = self._session()
        left = size
        while left:
            with self._errors(during):
                piece = imap.read(min(self.chunk_size, left))
                if not piece:
                    raise EOFError
            if dest is not None:
                try:
                    dest.write(piece)
                except BaseException:
                    self._broken = True  # the rest of the answer is still on the wire
                    raise
            left -= len(piece)
        return size

    def _skip_literal(self, size: int, during: str) -> None:
        self._copy_literal(size, None, during)

    def _finish_batch(self) -> None:
        """Read (and drop) what is left of the batch on the wire, up to its tagged end."""
        if not self._batch_tag:
            return
        imap = self._session()
        during = "finishing a batch of messages"
        while True:
            with self._errors(during):
                line = imap.readline()
                if not line:
                    raise EOFError
            if line.startswith(self._batch_tag + b" "):
                self._end_batch(line, during)
                return
            literal = _LITERAL_RE.search(line)
            if literal is not None:
                self._skip_literal(int(literal.group(1)), during)

    def _end_batch(self, line: bytes, during: str) -> None:
        self._batch_tag, self._inflight = b"", deque()
        status = line.split(b" ", 2)[1:2]
        if status != [b"OK"]:
            raise MailProtocolError(
                f"the IMAP server {self.endpoint.where} answered "
                f"{self.endpoint.scrub(line.strip())} while {during}",
                fix="the next collection tries again; if it persists, check the server",
            )

    @staticmethod
    def _body_piece(data: Sequence[Any], uid: int, offset: int) -> bytes | None:
        """The ``BODY[]<offset>`` bytes of message ``uid`` in a FETCH answer (which may also
        hold unrelated FETCH responses, e.g. flag changes made by another client)."""
        for item in data:
            header, literal = item if isinstance(item, tuple) else (item, b"")
            if not isinstance(header, bytes):
                continue
            body = _BODY_RE.search(header)
            found_uid = _UID_RE.search(header)
            if body is None or int(body.group(1)) != offset:
                continue
            if found_uid is not None and int(found_uid.group(1)) != uid:
                continue
            return literal if isinstance(item, tuple) else b""
        return None

    def _uid(self, server_id: str) -> int | None:
        """The UID in ``server_id`` if it belongs to the folder's current UIDVALIDITY."""
        validity, _, uid = server_id.partition(":")
        if not (validity.isdigit() and uid.isdigit()):
            raise MailProtocolError(f"{server_id!r} is not an IMAP message id",
                                    fix="report this bug")
        return int(uid) if int(validity) == self.uidvalidity else None

    # --- ending -----------------------------------------------------------------------------

    def delete(self, server_ids: Sequence[str]) -> None:
        """Remember ids to delete; they are deleted (or moved) at :meth:`close`."""
        for server_id in server_ids:
            self._pending[server_id] = None

    def close(self) -> None:
        """Delete (or move) the pending messages, then log out.

        Ids from another UIDVALIDITY are skipped: their UIDs may now name other messages.
        Raises if deleting fails; the connection is then dropped.
        """
        if self._imap is None:
            return
        try:
            if not self._broken:
                self._finish_batch()
            if self._broken:
                raise MailConnectionError(
                    f"the session with {self.endpoint.where} was interrupted; no message "
                    "was deleted",
                    fix="the next collection tries again",
                )
            uids = [uid for uid in map(self._uid, self._pending) if uid is not None]
            for start in range(0, len(uids), UID_BATCH):
                batch = uid_set(uids[start:start + UID_BATCH])
                if self.move_to:
                    self._move(batch)
                else:
                    self._flag_deleted(batch)
            if uids and not self.move_to and "UIDPLUS" not in self._capabilities:
                self._command("removing the deleted messages (EXPUNGE)", "EXPUNGE")
        except BaseException:
            self._drop()
            raise
        imap, self._imap = self._imap, None
        self._pending = {}
        try:
            imap.logout()  # the deletions are done: a failure here changes nothing
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            log.debug("IMAP logout from %s failed: %s", self.endpoint.where, exc)
            with contextlib.suppress(OSError):
                imap.shutdown()

    def _flag_deleted(self, batch: str) -> None:
        self._command("flagging messages as deleted", "UID", "STORE", batch,
                      "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self._capabilities:  # expunge only ours, not other clients' \Deleted
            self._command("removing the deleted messages (UID EXPUNGE)", "UID", "EXPUNGE",
                          batch)

    def _move(self, batch: str) -> None:
        target = quoted(imap_utf7(self.move_to))
        if "MOVE" in self._capabilities:
            self._command(f"moving messages to {self.move_to}", "UID", "MOVE", batch, target)
            return
        self._command(f"copying messages to {self.move_to}", "UID", "COPY", batch, target)
        self._flag_deleted(batch)
        if "UIDPLUS" not in self._capabilities:
            self._command("removing the moved messages (EXPUNGE)", "EXPUNGE")

    def _command(self, during: str, name: str, *args: str) -> None:
        """Run ``UID <args>`` or ``EXPUNGE`` and insist on OK."""
        imap = self._session()
        with self._errors(during):
            typ, data = imap.uid(*args) if name == "UID" else imap.expunge()
            self._expect_ok(typ, data, during)

    def abort(self) -> None:
        """Drop the connection: no EXPUNGE, no CLOSE, no LOGOUT; nothing is deleted."""
        self._drop()

    def _drop(self) -> None:
        imap, self._imap = self._imap, None
        self._pending = {}
        self._inflight, self._batch_tag, self._hinted = deque(), b"", []
        if imap is not None:
            with contextlib.suppress(OSError, AttributeError):
                imap.shutdown()

    # --- helpers ----------------------------------------------------------------------------

    def _session(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise RuntimeError("the IMAP session is not open")
        if self._broken:
            raise MailConnectionError(
                f"the session with {self.endpoint.where} was interrupted",
                fix="start a new collection",
            )
        return self._imap

    def _expect_ok(self, typ: str, data: Sequence[Any], during: str) -> None:
        if typ != "OK":
            raise MailProtocolError(
                f"the IMAP server {self.endpoint.where} answered {typ} while {during} "
                f"({self.endpoint.scrub(_text(data))})",
                fix="the next collection tries again; if it persists, check the server",
            )

    @contextlib.contextmanager
    def _errors(self, during: str, *, handshake: bool = False) -> Iterator[None]:
        """Translate imaplib and socket errors raised while ``during`` into MailErrors."""
        try:
            yield
        except MailError:
            raise
        except (OSError, EOFError, imaplib.IMAP4.abort) as exc:
            self._broken = self._imap is not None
            if isinstance(exc, OSError):
                raise network_failure(exc, self.endpoint, during, handshake=handshake) from exc
            raise MailConnectionError(
                f"the connection to {self.endpoint.where} broke while {during} "
                f"({self.endpoint.scrub(exc)})",
                fix="check the network; the next collection tries again",
            ) from exc
        except imaplib.IMAP4.error as exc:
            raise MailProtocolError(
                f"the IMAP server {self.endpoint.where} refused a command while {during} "
                f"({self.endpoint.scrub(exc)})",
                fix="the next collection tries again; if it persists, check the server",
            ) from exc


def imap_endpoint(settings: Mapping[str, Any], timeout: float = SOCKET_TIMEOUT) -> MailEndpoint:
    return endpoint_from_settings(settings, protocol="IMAP", prefix="apicryptImap",
                                  timeout=timeout)


def imap_identity(settings: Mapping[str, Any]) -> MailboxIdentity | None:
    """The IMAP mailbox a user's settings point at; None when host or login is missing."""
    host = str(settings.get("apicryptImapHost") or "").strip().lower()
    login = str(settings.get("apicryptPopUser") or "").strip()
    if not host or not login:
        return None
    try:
        port = int(settings.get("apicryptImapPort") or 993)
    except (TypeError, ValueError):
        port = 993
    folder = str(settings.get("apicryptImapFolder") or "INBOX").strip()
    return MailboxIdentity("imap", host, port, login, "" if folder == "INBOX" else folder)


def imap_collector(settings: Mapping[str, Any]) -> ImapCollector:
    """A collector for the user's IMAP folder; connects only at ``open()``."""
    return ImapCollector(imap_endpoint(settings),
                         str(settings.get("apicryptImapFolder") or DEFAULT_FOLDER).strip(),
                         move_to=str(settings.get("apicryptImapMoveTo") or "").strip())
