"""Submitting one message over SMTP: verified TLS, AUTH, all recipients or none.

The settings are ``apicryptSmtpHost``/``Port``/``Tls`` and ``apicryptTlsCaFile``; the login is
``apicryptUtilisateur`` and the password the mailbox password ``apicryptPopPassword`` (DOMAIN
§1: one password for POP3 and SMTP). TLS is verified like the collectors' (shared
:mod:`medshake_bridge.mailtls`). Every recipient is announced before any data is sent; if the
server refuses one, the transaction is reset and nothing is sent to anyone, so a message is
never half-delivered. Failures become :class:`~medshake_bridge.errors.MailError` subclasses
whose text says what happened and what to do, and never contains the password.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from medshake_bridge.errors import (
    MailAuthenticationError,
    MailError,
    MailProtocolError,
    MailTlsError,
)
from medshake_bridge.mailtls import (
    SOCKET_TIMEOUT,
    TLS_MODES,
    MailEndpoint,
    client_context,
    network_failure,
    setting_port,
)

PREFIX = "apicryptSmtp"


class RecipientRefusedError(MailError):
    """The SMTP server refused one or more recipients; nothing was sent."""

    def __init__(self, message: str, *, fix: str = "",
                 refused: Mapping[str, str] | None = None) -> None:
        super().__init__(message, fix=fix)
        self.refused = dict(refused or {})


def smtp_endpoint(settings: Mapping[str, Any], *, timeout: float = SOCKET_TIMEOUT
                  ) -> MailEndpoint:
    """The user's sending server, checked before anything touches the network."""
    host = str(settings.get(f"{PREFIX}Host") or "").strip()
    login = str(settings.get("apicryptUtilisateur") or "").strip()
    tls = str(settings.get(f"{PREFIX}Tls") or "starttls").strip().lower()
    password = str(settings.get("apicryptPopPassword") or "")
    if not host:
        raise MailError("no SMTP server is set for sending", fix=f"set {PREFIX}Host")
    if not login:
        raise MailAuthenticationError("no Apicrypt user name is set (it is the SMTP login)",
                                      fix="set apicryptUtilisateur")
    if not password:
        raise MailAuthenticationError("no mailbox password is set (it is also the SMTP one)",
                                      fix="set apicryptPopPassword")
    if tls not in TLS_MODES:
        raise MailTlsError(f"unknown TLS mode {tls!r} for SMTP",
                           fix=f"set {PREFIX}Tls to none, starttls or tls")
    port = setting_port(settings, f"{PREFIX}Port")
    if port is None:
        raise MailError(f"the SMTP port of {host} is not a valid port number",
                        fix=f"set {PREFIX}Port (587 for starttls, 465 for tls)")
    if any(char in value for value in (login, password) for char in "\r\n\0"):
        raise MailAuthenticationError("the SMTP login or password contains a line break",
                                      fix="re-enter apicryptUtilisateur and apicryptPopPassword")
    return MailEndpoint("SMTP", PREFIX, host, port, tls, login, password,
                        str(settings.get("apicryptTlsCaFile") or "").strip(), timeout)


def _reply(endpoint: MailEndpoint, code: int, text: bytes | str) -> str:
    return f"{code} {endpoint.scrub(text)}"


def _connect(endpoint: MailEndpoint) -> smtplib.SMTP:
    context = client_context(endpoint.ca_file) if endpoint.tls != "none" else None
    try:
        if endpoint.tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(endpoint.host, endpoint.port,
                                                    timeout=endpoint.timeout, context=context)
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=endpoint.timeout)
    except smtplib.SMTPResponseException as exc:
        raise MailProtocolError(
            f"the SMTP server {endpoint.where} refused the connection "
            f"({_reply(endpoint, exc.smtp_code, exc.smtp_error)})",
            fix="try again later; if it persists, ask the server's administrator") from exc
    except OSError as exc:
        raise network_failure(exc, endpoint, "connecting", handshake=True) from exc
    try:
        client.ehlo()
        if endpoint.tls == "starttls":
            if not client.has_extn("starttls"):
                raise MailTlsError(
                    f"the SMTP server {endpoint.where} does not offer STARTTLS; the password "
                    "was not sent",
                    fix=f"set {PREFIX}Tls to tls (port 465) or check {PREFIX}Port")
            client.starttls(context=context)
            client.ehlo()
    except MailError:
        client.close()
        raise
    except smtplib.SMTPResponseException as exc:
        client.close()
        raise MailProtocolError(
            f"the SMTP server {endpoint.where} refused TLS "
            f"({_reply(endpoint, exc.smtp_code, exc.smtp_error)})",
            fix=f"check {PREFIX}Tls and {PREFIX}Port") from exc
    except OSError as exc:
        client.close()
        raise network_failure(exc, endpoint, "starting TLS", handshake=True) from exc
    return client


def _login(client: smtplib.SMTP, endpoint: MailEndpoint) -> None:
    try:
        client.login(endpoint.login, endpoint.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailAuthenticationError(
            f"the SMTP server {endpoint.where} refused the login {endpoint.login} "
            f"({_reply(endpoint, exc.smtp_code, exc.smtp_error)})",
            fix="check apicryptUtilisateur and the mailbox password apicryptPopPassword "
                "(the same as for receiving)") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailAuthenticationError(
            f"the SMTP server {endpoint.where} offers no authentication"
            + (" before TLS" if endpoint.tls == "none" else ""),
            fix=f"set {PREFIX}Tls to starttls or tls") from exc
    except smtplib.SMTPException as exc:
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise network_failure(exc, endpoint, "logging in") from exc
        raise MailAuthenticationError(
            f"logging in to the SMTP server {endpoint.where} failed ({endpoint.scrub(exc)})",
            fix="check apicryptUtilisateur and apicryptPopPassword") from exc


_CHUNK = 1 << 20  # bytes of the message read and sent at a time


def stuffed_chunks(handle: BinaryIO, chunk_size: int = _CHUNK) -> Iterator[bytes]:
    """The message in ``handle`` (CRLF line ends) as SMTP DATA sends it, in chunks of whole
    lines: a line starting with ``.`` gets a second one (RFC 5321 §4.5.2), and a last line
    without its line end gets one. Memory stays about one chunk whatever the size."""
    carry = b""
    while True:
        chunk = handle.read(chunk_size)
        data = carry + chunk
        if not chunk:
            if data:
                yield (b"." if data.startswith(b".") else b"") + data.replace(
                    b"\n.", b"\n..") + (b"" if data.endswith(b"\r\n") else b"\r\n")
            return
        cut = data.rfind(b"\n") + 1  # every yielded piece starts at the start of a line
        carry = data[cut:]
        if cut:
            lines = data[:cut]
            yield (b"." if lines.startswith(b".") else b"") + lines.replace(b"\n.", b"\n..")


def _data(client: smtplib.SMTP, message: BinaryIO) -> tuple[int, bytes]:
    """``DATA`` with the message streamed from its file (``smtplib.SMTP.data`` wants the
    whole message in memory, and copies it twice more while escaping it)."""
    code, text = client.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, text)
    for chunk in stuffed_chunks(message):
        client.send(chunk)
    client.send(b".\r\n")
    return client.getreply()


def submit(endpoint: MailEndpoint, message: Path, *, sender: str,
           recipients: Sequence[str]) -> str:
    """Send the message in file ``message`` (written by
    :func:`medshake_bridge.send.mime.write_message`) to every recipient or to none; returns
    the server's final reply. The file is streamed: memory does not grow with its size."""
    size = message.stat().st_size
    client = _connect(endpoint)
    try:
        _login(client, endpoint)
        options = [f"SIZE={size}"] if client.has_extn("size") else []
        code, text = client.mail(sender, options)
        if code == 552:
            client.rset()
            raise MailProtocolError(
                f"the SMTP server {endpoint.where} refuses a message this large "
                f"({_reply(endpoint, code, text)}; the message is {size / 2**20:.1f} MiB); "
                "nothing was sent",
                fix="send fewer or smaller attachments (encrypted and encoded, an attachment "
                    "takes about twice its size in the message)")
        if code != 250:
            client.rset()
            raise MailProtocolError(
                f"the SMTP server refused the sender {sender} ({_reply(endpoint, code, text)})",
                fix="check apicryptAdresse: it must be your own Apicrypt address")
        refused: dict[str, str] = {}
        for recipient in recipients:
            code, text = client.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = _reply(endpoint, code, text)
        if refused:
            client.rset()
            details = "; ".join(f"{address}: {reply}" for address, reply in refused.items())
            raise RecipientRefusedError(
                f"the SMTP server refused {len(refused)} recipient(s), nothing was sent "
                f"({details})",
                fix="check those addresses with the correspondent, or remove them and send "
                    "again", refused=refused)
        with message.open("rb") as handle:
            code, text = _data(client, handle)
        if code != 250:
            raise MailProtocolError(
                f"the SMTP server did not accept the message ({_reply(endpoint, code, text)})",
                fix="nothing was sent; try again later")
        reply = _reply(endpoint, code, text)
    except smtplib.SMTPResponseException as exc:
        raise MailProtocolError(
            f"the SMTP server {endpoint.where} answered {exc.smtp_code} "
            f"({endpoint.scrub(exc.smtp_error)}); nothing was sent",
            fix="try again later; if it persists, ask the server's administrator") from exc
    except ssl.SSLError as exc:
        raise network_failure(exc, endpoint, "sending") from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise network_failure(exc, endpoint, "sending") from exc
    except MailError:
        raise
    except OSError as exc:
        raise network_failure(exc, endpoint, "sending") from exc
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return reply
