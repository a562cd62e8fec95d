"""Can the mail servers be reached? TCP connect + TLS handshake, without logging in.

The system information page and ``doctor`` run these for every configured mailbox (POP3 or
IMAP) and SMTP server. They prove what an admin can fix without a password: the host resolves,
the port answers, the server speaks the expected protocol, and its certificate is trusted for
that host name (verification is never relaxed: an untrusted certificate is reported exactly as
the collector would meet it). A login is only tried when an admin asks for it
(:func:`try_smtp_login`, and the collectors' own ``open()`` for POP3/IMAP), because every
login attempt may count against the mailbox's lockout.

Timeouts are short (a few seconds): a check must not make the page hang; the checks of several
servers run concurrently (see :mod:`medshake_bridge.sysinfo.report`).
"""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from medshake_bridge.errors import MailError, MailTlsError
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.mailtls import client_context

CATEGORY = "mail"
PROBE_TIMEOUT = 4.0
CERT_WARNING_DAYS = 14
PROTOCOLS = ("POP3", "IMAP", "SMTP")


@dataclass(frozen=True)
class ServerTarget:
    """One server to probe: ``protocol`` POP3/IMAP/SMTP, TLS mode ``none``/``starttls``/``tls``.

    ``setting_prefix`` (``apicryptPop``, ``apicryptImap``, ``apicryptSmtp``) names the settings
    to correct in the fix; ``used_by`` says whose settings point here (shown in the name).
    """

    protocol: str
    host: str
    port: int
    tls: str
    ca_file: str = ""
    setting_prefix: str = ""
    used_by: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def check_name(self) -> str:
        suffix = f" ({self.used_by})" if self.used_by else ""
        return f"{self.protocol} server {self.where}{suffix}"


def _client(target: ServerTarget, context: ssl.SSLContext | None, timeout: float):
    """Open the stdlib client for ``target`` (TLS done, no login); returns it."""
    host, port, tls = target.host, target.port, target.tls
    if target.protocol == "POP3":
        if tls == "tls":
            return poplib.POP3_SSL(host, port, context=context, timeout=timeout)
        client = poplib.POP3(host, port, timeout=timeout)
        if tls == "starttls":
            try:
                client.stls(context=context)
            except poplib.error_proto as exc:
                client.close()
                raise _no_starttls(target) from exc
        return client
    if target.protocol == "IMAP":
        if tls == "tls":
            return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
        client = imaplib.IMAP4(host, port, timeout=timeout)
        if tls == "starttls":
            try:
                client.starttls(ssl_context=context)
            except imaplib.IMAP4.error as exc:
                client.shutdown()
                raise _no_starttls(target) from exc
        return client
    if tls == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    client.ehlo()
    if tls == "starttls":
        if not client.has_extn("starttls"):
            client.close()
            raise _no_starttls(target)
        client.starttls(context=context)
        client.ehlo()
    return client


def _no_starttls(target: ServerTarget) -> MailTlsError:
    implicit = {"POP3": 995, "IMAP": 993, "SMTP": 465}[target.protocol]
    return MailTlsError(
        f"the {target.protocol} server {target.where} does not offer STARTTLS",
        fix=f"set {target.setting_prefix}Tls to tls (usually port {implicit}), or to none only "
            "on a trusted network",
    )


def _close(client: object) -> None:
    """Say goodbye politely when possible (QUIT/LOGOUT), else drop the connection."""
    with contextlib.suppress(Exception):
        if isinstance(client, poplib.POP3):
            client.quit()
        elif isinstance(client, imaplib.IMAP4):
            client.logout()
        elif isinstance(client, smtplib.SMTP):
            client.quit()


def _peer_certificate(client: object) -> dict | None:
    sock = getattr(client, "sock", None)
    if isinstance(sock, ssl.SSLSocket):
        with contextlib.suppress(ValueError, OSError):
            return sock.getpeercert()
    return None


def _tls_version(client: object) -> str:
    sock = getattr(client, "sock", None)
    return sock.version() or "TLS" if isinstance(sock, ssl.SSLSocket) else ""


def _expiry(cert: dict | None) -> datetime | None:
    if not cert or "notAfter" not in cert:
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    return None


def failure_text(exc: BaseException, target: ServerTarget, timeout: float) -> tuple[str, str]:
    """What happened and what to do, for an exception raised while probing ``target``."""
    prefix = target.setting_prefix or "the server"
    if isinstance(exc, MailError):
        return exc.message, exc.fix
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "verification failed"
        return (f"the certificate of {target.where} is not trusted ({reason})",
                f"set apicryptTlsCaFile to the CA bundle that signed the server's certificate, "
                f"or check {prefix}Host (it must be the name on the certificate)")
    if isinstance(exc, ssl.SSLError):
        return (f"TLS with {target.where} failed ({exc.reason or exc})",
                f"check {prefix}Tls and {prefix}Port (implicit tls and starttls use different "
                "ports)")
    if isinstance(exc, socket.gaierror):
        return (f"the host name {target.host} could not be resolved",
                f"check {prefix}Host and the server's DNS")
    if isinstance(exc, ConnectionRefusedError):
        return (f"{target.where} refused the connection",
                f"check {prefix}Host and {prefix}Port, and that the mail server is running")
    if isinstance(exc, TimeoutError):
        return (f"{target.where} did not answer within {timeout:g} s",
                f"check {prefix}Port and {prefix}Tls (a TLS port stays silent for a plaintext "
                "client), the network and the firewall")
    if isinstance(exc, poplib.error_proto | imaplib.IMAP4.error | smtplib.SMTPException):
        return (f"{target.where} did not answer like a {target.protocol} server ({exc})",
                f"check {prefix}Port: it may belong to another service")
    if isinstance(exc, OSError):
        return (f"the connection to {target.where} failed ({exc.strerror or exc})",
                "check the network and the firewall")
    return (f"probing {target.where} failed ({type(exc).__name__}: {exc})",
            "check the server settings")


def probe_server(target: ServerTarget, *, timeout: float = PROBE_TIMEOUT,
                 now: datetime | None = None) -> CheckResult:
    """Connect to ``target``, do its TLS handshake (verified) and leave without logging in.

    Broken when the server cannot be reached or its certificate is not trusted; a warning when
    TLS is off (``none``) or the certificate expires within :data:`CERT_WARNING_DAYS` days.
    """
    name = target.check_name
    try:
        context = client_context(target.ca_file) if target.tls != "none" else None
        client = _client(target, context, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a line on the page
        detail, fix = failure_text(exc, target, timeout)
        return CheckResult(name, False, detail, fix, CATEGORY)
    try:
        if target.tls == "none":
            return CheckResult(
                name, None, f"reachable, WITHOUT TLS ({target.protocol} in clear text)",
                f"set {target.setting_prefix}Tls to starttls or tls: without TLS the password "
                "and the mail cross the network readable by anyone on the way", CATEGORY)
        cert = _peer_certificate(client)
        expires = _expiry(cert)
        version = _tls_version(client)
        mode = "STARTTLS" if target.tls == "starttls" else "implicit TLS"
        detail = f"reachable, {mode} ({version}), certificate trusted"
        if expires is not None:
            detail += f", valid until {expires.date().isoformat()}"
            left = (expires - (now or datetime.now(UTC))).days
            if left <= CERT_WARNING_DAYS:
                return CheckResult(name, None, detail + f" ({left} days left)",
                                   "tell the mail server's admin that its certificate expires "
                                   "soon", CATEGORY)
        return CheckResult(name, True, detail, "", CATEGORY)
    finally:
        _close(client)


def try_smtp_login(target: ServerTarget, login: str, password: str, *,
                    timeout: float = PROBE_TIMEOUT) -> CheckResult:
    """Connect, secure and log in to an SMTP server, then QUIT (sends nothing).

    Only on an admin's request. The password never appears in the result.
    """
    name = f"SMTP login {login!r} on {target.where}"
    client = None
    try:
        context = client_context(target.ca_file) if target.tls != "none" else None
        client = _client(target, context, timeout)
        client.login(login, password)
    except smtplib.SMTPAuthenticationError as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return CheckResult(name, False,
                           f"the server refused the login ({exc.smtp_code} "
                           f"{text.replace(password, '********')[:200]})",
                           "check apicryptUtilisateur and apicryptPopPassword", CATEGORY)
    except smtplib.SMTPNotSupportedError:
        return CheckResult(name, False, "the server offers no login (AUTH) here",
                           f"set {target.setting_prefix}Tls to starttls or tls: servers offer "
                           "AUTH only over TLS", CATEGORY)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a line on the page
        detail, fix = failure_text(exc, target, timeout)
        return CheckResult(name, False, detail.replace(password, "********") if password
                           else detail, fix, CATEGORY)
    finally:
        if client is not None:
            _close(client)
    return CheckResult(name, True, "login accepted (nothing was sent)", "", CATEGORY)
