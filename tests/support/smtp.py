"""A real SMTP server (aiosmtpd) for the tests: STARTTLS, AUTH, recorded envelopes.

Pytest plugin. Fixtures:

* ``smtp_server`` (function): a ``SmtpServer`` on a free loopback port, STARTTLS with the
  throwaway ``localhost`` certificate (trust ``smtp_server.ca_file``), AUTH PLAIN/LOGIN against
  ``smtp_server.users`` (one user made for you: ``smtp_server.login`` /
  ``smtp_server.password``), AUTH only after STARTTLS. Everything received is in
  ``smtp_server.messages``; ``reject_recipient()`` and ``fail_data()`` script refusals.
* ``smtp_server_factory`` (function): ``smtp_server_factory(**options) -> SmtpServer`` for more
  servers or other options (``require_starttls``, ``auth_required``, ``implicit_tls``, ``users``).
* ``smtp_controller_factory`` (function): ``smtp_controller_factory(handler, **kwargs)`` starts
  an aiosmtpd ``Controller`` on a free port for any handler (the pattern the product's sandbox
  relay reuses); returns the started controller (``.hostname``, ``.port``).

Connect by the name ``localhost`` when using TLS (the certificate names ``localhost``).
All servers are stopped at the end of the test.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import secrets
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from support.net import LOOPBACK
from support.tls import ThrowawayPKI

pytest_plugins = ["support.tls"]


class EphemeralPortController(Controller):
    """An aiosmtpd ``Controller`` that binds port 0 and then knows its real port.

    (aiosmtpd 1.4 connects to ``self.port`` once started; with a port picked in advance
    another process could take it in between.)
    """

    def __init__(
        self,
        handler: Any,
        hostname: str = LOOPBACK,
        *,
        smtp_class: type[SMTP] = SMTP,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, hostname=hostname, port=0, **kwargs)
        self.smtp_class = smtp_class

    def factory(self) -> SMTP:
        return self.smtp_class(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[Any]:
        async def create() -> Any:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


class ImplicitTLSSMTP(SMTP):
    """``SMTP`` for an implicit-TLS listener (SMTPS, port 465 style).

    aiosmtpd 1.4 only counts STARTTLS as TLS for ``auth_require_tls``, so it would never offer
    AUTH on such a port; here every connection is encrypted from its first byte.
    """

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if transport.get_extra_info("ssl_object") is not None:
            self._auth_require_tls = False


def start_smtp_controller(handler: Any, **kwargs: Any) -> EphemeralPortController:
    """Start an aiosmtpd ``Controller`` for ``handler`` on 127.0.0.1, free port; return it.

    ``kwargs`` go to ``Controller`` (SMTP options such as ``tls_context``, ``authenticator``,
    ``auth_require_tls``, ``require_starttls``; ``ssl_context`` for implicit TLS, with
    ``smtp_class=ImplicitTLSSMTP`` to offer AUTH there). Stop it with ``controller.stop()``.
    """
    controller = EphemeralPortController(handler, **kwargs)
    controller.start()
    return controller


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message, as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # the DATA as received (dot-unstuffed, CRLF line ends)
    auth_login: str | None  # who authenticated, None without AUTH
    tls: bool  # True when the session was encrypted (STARTTLS or implicit TLS)
    peer: Any = None

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


def _encrypted(server: SMTP, session: Session) -> bool:
    if session.ssl is not None:  # after STARTTLS
        return True
    transport = server.transport  # implicit TLS: an SSL transport from the start
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class RecordingHandler:
    """aiosmtpd handler: records accepted messages, refuses what it is told to refuse."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    rejected_recipients: dict[str, str] = field(default_factory=dict)  # lower-case -> reply
    data_reply: str | None = None  # when set, DATA is answered with this (e.g. "451 ...")
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rejected_recipients.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        auth = session.auth_data
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else auth
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        record = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            auth_login=login,
            tls=_encrypted(server, session),
            peer=session.peer,
        )
        with self.received:
            self.messages.append(record)
            self.received.notify_all()
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """A running recording SMTP server. Use ``host`` (``localhost``) with TLS."""

    host = "localhost"
    ip = LOOPBACK

    def __init__(
        self,
        pki: ThrowawayPKI,
        *,
        users: dict[str, str] | None = None,
        require_starttls: bool = True,
        auth_required: bool = True,
        implicit_tls: bool = False,
    ) -> None:
        self.ca_file = pki.ca_file
        if users is None:
            users = {f"relay-{secrets.token_hex(3)}": secrets.token_urlsafe(12)}
        self.users = dict(users)
        self.handler = RecordingHandler()
        self.auth_attempts: list[tuple[str, bool]] = []  # (login, succeeded)
        server_context = pki.server.server_context()
        options: dict[str, Any] = {
            "server_hostname": "localhost",
            "authenticator": self._authenticate,
            "auth_require_tls": True,
            "auth_required": auth_required,
        }
        if implicit_tls:
            options["ssl_context"] = server_context
            options["smtp_class"] = ImplicitTLSSMTP
        else:
            options["tls_context"] = server_context
            options["require_starttls"] = require_starttls
        self.implicit_tls = implicit_tls
        self.controller = start_smtp_controller(self.handler, **options)
        self.port: int = self.controller.port

    # --- credentials ------------------------------------------------------------------------

    @property
    def login(self) -> str:
        """The first user's login."""
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.login]

    @property
    def credentials(self) -> tuple[str, str]:
        return self.login, self.password

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        expected = self.users.get(login)
        ok = expected is not None and secrets.compare_digest(expected, password)
        self.auth_attempts.append((login, ok))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    # --- scripted refusals ------------------------------------------------------------------

    def reject_recipient(
        self,
        address: str,
        reason: str = "Recipient address rejected: User unknown in local recipient table",
        *,
        code: int = 550,
        enhanced: str = "5.1.1",
    ) -> str:
        """Answer ``RCPT TO:<address>`` with ``code`` and a clear reason; returns the reply."""
        reply = f"{code} {enhanced} <{address}>: {reason}"
        self.handler.rejected_recipients[address.lower()] = reply
        return reply

    def fail_data(self, reply: str | None = "451 4.3.0 Temporary failure, try again later") -> None:
        """Answer every DATA with ``reply`` (``None`` to accept again)."""
        self.handler.data_reply = reply

    # --- what arrived -----------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        return list(self.handler.messages)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.handler.received:
            while len(self.handler.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.handler.messages)} message(s) received, {count} expected"
                    )
                self.handler.received.wait(left)
            return list(self.handler.messages)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None  # type: ignore[assignment]


@pytest.fixture
def smtp_controller_factory() -> Iterator[Callable[..., EphemeralPortController]]:
    """Factory: ``smtp_controller_factory(handler, **controller_kwargs) -> controller``."""
    controllers: list[EphemeralPortController] = []

    def make(handler: Any, **kwargs: Any) -> EphemeralPortController:
        controller = start_smtp_controller(handler, **kwargs)
        controllers.append(controller)
        return controller

    yield make
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server_factory(throwaway_pki: ThrowawayPKI) -> Iterator[Callable[..., SmtpServer]]:
    """Factory: ``smtp_server_factory(users=..., require_starttls=..., auth_required=...,
    implicit_tls=...) -> SmtpServer``."""
    servers: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        server = SmtpServer(throwaway_pki, **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A recording SMTP server: STARTTLS required, AUTH required (after STARTTLS)."""
    return smtp_server_factory()
