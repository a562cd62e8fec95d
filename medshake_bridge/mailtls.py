"""What the POP3 and IMAP collectors share: the server address, verified TLS, and errors.

A mailbox holds medical mail, so TLS is verified by default (CA store plus the site's own
``apicryptTlsCaFile``, host name checked) and plaintext (``none``) is an explicit choice. Every
socket has a timeout: a server that stops answering must not hang the scheduler. Network and TLS
failures are turned into :class:`~medshake_bridge.errors.MailError` subclasses whose messages
tell an admin what happened and what to do, and never contain the password.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medshake_bridge.errors import (
    MailAuthenticationError,
    MailConnectionError,
    MailError,
    MailTlsError,
)

TLS_MODES = ("none", "starttls", "tls")
SOCKET_TIMEOUT = 30.0  # seconds, for connect and for every read and write


@dataclass(frozen=True)
class MailEndpoint:
    """One mailbox on one server, as the user's settings describe it.

    ``setting_prefix`` names the settings (``apicryptPop``/``apicryptImap``) so that error
    messages point at the setting to fix. The password is kept out of ``repr``.
    """

    protocol: str  # "POP3" or "IMAP", for messages
    setting_prefix: str
    host: str
    port: int
    tls: str
    login: str
    password: str = field(repr=False)
    ca_file: str = ""
    timeout: float = SOCKET_TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def scrub(self, text: object) -> str:
        """Server text for a message, with the password masked should a server echo it."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        cleaned = str(text).strip()
        if self.password:
            cleaned = cleaned.replace(self.password, "********")
        return cleaned[:300]


def setting_port(settings: Mapping[str, Any], name: str) -> int | None:
    """The port stored in setting ``name``, or ``None`` when it is not a TCP port."""
    try:
        port = int(settings.get(name) or 0)
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def endpoint_from_settings(settings: Mapping[str, Any], *, protocol: str, prefix: str,
                           timeout: float = SOCKET_TIMEOUT) -> MailEndpoint:
    """Read ``<prefix>Host/Port/Tls`` plus the shared login, password and CA file.

    Raises a :class:`MailError` at once for settings that cannot work (no host, no login,
    unknown TLS mode), before anything touches the network.
    """
    host = str(settings.get(f"{prefix}Host") or "").strip()
    login = str(settings.get("apicryptPopUser") or "").strip()
    tls = str(settings.get(f"{prefix}Tls") or "").strip().lower()
    if not host:
        raise MailConnectionError(f"no {protocol} server is set for this mailbox",
                                  fix=f"set {prefix}Host")
    if not login:
        raise MailAuthenticationError(f"no login is set for the {protocol} mailbox on {host}",
                                      fix="set apicryptPopUser")
    if tls not in TLS_MODES:
        raise MailTlsError(f"unknown TLS mode {tls!r} for {protocol}",
                           fix=f"set {prefix}Tls to none, starttls or tls")
    port = setting_port(settings, f"{prefix}Port")
    if port is None:
        raise MailConnectionError(f"the {protocol} port of {host} is not a valid port number",
                                  fix=f"set {prefix}Port (e.g. 995/993 for tls, 110/143 "
                                      "for starttls)")
    password = str(settings.get("apicryptPopPassword") or "")
    # a line break would end the command early and let the rest be read as another command
    if any(char in password for char in "\r\n\0"):
        raise MailAuthenticationError("the mailbox password contains a line break",
                                      fix="re-enter apicryptPopPassword")
    if any(char in login for char in "\r\n\0"):
        raise MailAuthenticationError("the mailbox login contains a line break",
                                      fix="correct apicryptPopUser")
    return MailEndpoint(protocol, prefix, host, port, tls, login, password,
                        str(settings.get("apicryptTlsCaFile") or "").strip(), timeout)


def client_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context: the system CA store plus ``ca_file`` (the site's own CA).

    The CA file is *added* to the system store (the setting is an "extra CA bundle"), host
    names are checked, TLS 1.2 at least.
    """
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailTlsError(
                f"the CA file {ca_file} cannot be used ({exc.strerror or exc})",
                fix="set apicryptTlsCaFile to a readable PEM file of CA certificates, or "
                    "empty it to trust the system store only",
            ) from exc
    return context


def tls_failure(exc: ssl.SSLError, endpoint: MailEndpoint) -> MailTlsError:
    """Explain a failed TLS handshake."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "verification failed"
        return MailTlsError(
            f"the server {endpoint.where} presented a certificate that is not trusted "
            f"({reason})",
            fix="set apicryptTlsCaFile to the CA bundle that signed the server's certificate, "
                f"or check the host name in {endpoint.setting_prefix}Host (it must be the "
                "name on the certificate)",
        )
    return MailTlsError(
        f"TLS with {endpoint.where} failed ({exc.reason or exc})",
        fix=f"check {endpoint.setting_prefix}Tls and {endpoint.setting_prefix}Port: implicit "
            f"tls is usually port {995 if endpoint.protocol == 'POP3' else 993}, starttls "
            f"port {110 if endpoint.protocol == 'POP3' else 143}",
    )


def network_failure(exc: OSError, endpoint: MailEndpoint, during: str, *,
                    handshake: bool = False) -> MailError:
    """Turn a socket or TLS error raised while ``during`` (e.g. "logging in") into a
    :class:`MailError`. ``handshake`` is true while TLS is being set up: an SSL error then
    means TLS failed, later it means the connection broke."""
    if isinstance(exc, ssl.SSLCertVerificationError) or (
        handshake and isinstance(exc, ssl.SSLError)
    ):
        return tls_failure(exc, endpoint)
    if isinstance(exc, socket.gaierror):
        return MailConnectionError(
            f"the host name {endpoint.host} could not be resolved",
            fix=f"check {endpoint.setting_prefix}Host and the server's DNS",
        )
    if isinstance(exc, ConnectionRefusedError):
        return MailConnectionError(
            f"{endpoint.where} refused the connection",
            fix=f"check {endpoint.setting_prefix}Host and {endpoint.setting_prefix}Port, and "
                "that the mail server is running",
        )
    if isinstance(exc, TimeoutError):
        hint = (f"check {endpoint.setting_prefix}Port and {endpoint.setting_prefix}Tls (a TLS "
                "port stays silent for a plaintext client), the network and the firewall"
                if during == "connecting" else
                "check the network and firewall; the next collection tries again")
        return MailConnectionError(
            f"{endpoint.protocol} server {endpoint.where} did not answer within "
            f"{endpoint.timeout:g} s while {during}",
            fix=hint,
        )
    return MailConnectionError(
        f"the connection to {endpoint.where} was lost while {during} ({exc.strerror or exc})",
        fix="check the network; the next collection tries again",
    )
