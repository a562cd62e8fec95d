"""Shapes that plugins hand to the host through the hooks.

They are small frozen dataclasses (what a plugin declares) and Protocols (what a plugin's
objects must do), so a third-party plugin needs nothing but this module and ``hookimpl``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class CheckResult:
    """One line of the system information page and of ``doctor``.

    ``ok`` is True (fine), False (broken) or None (a warning that does not stop the product).
    ``fix`` tells the admin what to do when it is not fine.
    """

    name: str
    ok: bool | None
    detail: str = ""
    fix: str = ""
    category: str = "general"


@dataclass(frozen=True)
class Renewal:
    """Something of a user's Apicrypt set-up that must be replaced before a date (a v2
    certificate, a plugin's own yearly credential), shown beside the yearly keys.

    The keys page and the daily expiry job list these with the keys, so an admin learns of
    every yearly deadline from one page. ``ok`` is True (fine), None (due soon) or False
    (expired, unknown to the service, cannot be checked); ``logins`` are the bridge users who
    depend on it; ``fix`` says what to do when it is not fine.
    """

    what: str
    logins: tuple[str, ...]
    expires: date | None
    ok: bool | None
    detail: str = ""
    fix: str = ""


@dataclass(frozen=True)
class Advice:
    """A titled block of lines an admin must paste elsewhere (sudoers, a systemd override),
    with why it applies; shown by system information and ``doctor``."""

    title: str
    why: str
    lines: tuple[str, ...]


@runtime_checkable
class CryptoBackend(Protocol):
    """Encrypts outgoing and decrypts incoming Apicrypt content for one user."""

    def encrypt_body(self, text: str, recipients: Sequence[str]) -> Any: ...

    def encrypt_attachment(self, path: Path, recipients: Sequence[str], dest_dir: Path) -> Path: ...

    def decrypt_body(self, armour: bytes) -> Any: ...

    def decrypt_attachment(self, path: Path, dest_dir: Path) -> list[Path]: ...

    def checks(self) -> list[CheckResult]: ...


@dataclass(frozen=True)
class BackendSpec:
    """A crypto back-end offered by a plugin.

    ``key`` is the value of ``apicryptVersion`` that selects it; ``factory`` builds a back-end
    from a user's effective settings (a mapping of setting name to typed value) and the host's
    program runner.
    """

    key: str
    label: str
    factory: Callable[[Mapping[str, Any], Any], CryptoBackend]
    #: Filled in by the host: the plugin that offered it (named in errors).
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_spec(self, "BackendSpec", "factory(settings, runner) -> CryptoBackend",
                    ("factory",))


@dataclass(frozen=True)
class MailboxIdentity:
    """What makes two users' mailboxes the same mailbox (collected once)."""

    collector: str
    host: str
    port: int
    login: str
    folder: str = ""

    @property
    def key(self) -> str:
        base = f"{self.collector}://{self.login}@{self.host}:{self.port}"
        return f"{base}/{self.folder}" if self.folder else base


@dataclass(frozen=True)
class ServerMessage:
    """One message as listed by the server: its stable id (UIDL, UIDVALIDITY:UID, Maildir
    unique name) and its size in bytes."""

    server_id: str
    size: int


@runtime_checkable
class MailCollector(Protocol):
    """A session with one mailbox. Deletions take effect at :meth:`close` (POP3 QUIT, IMAP
    EXPUNGE); a session dropped without ``close`` deletes nothing.

    Optional: ``prefetch(server_ids)``. When a collector has it, the pipeline calls it after
    :meth:`list_messages` with the ids it is about to fetch, in the order it will call
    :meth:`fetch_to`, so the collector can ask for several at once (IMAP batches, POP3
    PIPELINING). ``fetch_to`` must still work for any id, in any order.
    """

    def open(self) -> None: ...

    def list_messages(self) -> list[ServerMessage]: ...

    def fetch_to(self, server_id: str, dest: BinaryIO) -> int: ...

    def delete(self, server_ids: Sequence[str]) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class CollectorSpec:
    """A way to reach a mailbox; ``key`` is a value of ``apicryptCollector``.

    ``identity(settings)`` says which mailbox a user's settings point at (without connecting),
    or ``None`` when they are incomplete; ``factory(settings)`` opens nothing yet and returns a
    :class:`MailCollector`.
    """

    key: str
    label: str
    factory: Callable[[Mapping[str, Any]], MailCollector]
    identity: Callable[[Mapping[str, Any]], MailboxIdentity | None] | None = None
    #: The settings ``identity`` needs: named in the error when some are empty.
    required: tuple[str, ...] = ()
    #: Filled in by the host: the plugin that offered it (named in errors).
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_spec(self, "CollectorSpec", "factory(settings) -> MailCollector and "
                    "identity(settings) -> MailboxIdentity | None", ("factory", "identity"))
        object.__setattr__(self, "required", tuple(self.required))


def _check_spec(spec: Any, kind: str, expected: str, callables: tuple[str, ...]) -> None:
    """Refuse a badly built spec when it is built, with what to write instead."""
    if not isinstance(spec.key, str) or not spec.key.strip():
        raise ValueError(f"{kind}: key must be a non-empty text, not {spec.key!r} "
                         f"(write {kind}(key=..., label=..., ...))")
    for name in callables:
        if not callable(getattr(spec, name)):
            raise ValueError(f"{kind} {spec.key!r}: {name} must be a function, not "
                             f"{getattr(spec, name)!r} (expected {expected})")


@runtime_checkable
class KeyManager(Protocol):
    """One key folder: list its files, import, delete (this year's key only when confirmed
    twice), open a ``.aes`` key with the long code. Failures raise ``BridgeError``s."""

    def list_keys(self) -> list[Any]: ...

    def import_key(self, name: str, stream: BinaryIO) -> Any: ...

    def delete_key(self, name: str, *, confirm_current_year: bool = False) -> None: ...

    def decrypt_aes(self, name: str, code: str) -> Any: ...


@dataclass(frozen=True)
class KeyManagerSpec:
    """A key manager (e.g. the ``Clefs/`` folder); ``factory(settings, runner)`` returns a
    :class:`KeyManager` for the folder those effective settings name."""

    key: str
    label: str
    factory: Callable[[Mapping[str, Any], Any], Any]


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job. Cron fields use crontab syntax and crontab's day-of-week numbering."""

    id: str
    func: Callable[..., Any]
    label_fr: str
    label_en: str
    description_fr: str = ""
    description_en: str = ""
    cron: Mapping[str, str] = field(
        default_factory=lambda: {
            "minute": "0",
            "hour": "*",
            "day": "*",
            "month": "*",
            "day_of_week": "*",
        }
    )
    enabled: bool = True


@dataclass(frozen=True)
class MenuItem:
    """A navigation entry: ``endpoint`` is a Flask endpoint name."""

    label_fr: str
    label_en: str
    endpoint: str
    admin_only: bool = False
    order: int = 100


@dataclass(frozen=True)
class HostIdentity:
    """Who the host application says is signed in, for ``medshake_current_user``.

    ``key`` is stable and unique in the host (e.g. ``"portal:17"``); a bridge user linked to it
    is the same person on every visit, whatever its login becomes. With
    ``MEDSHAKE_BRIDGE_AUTO_PROVISION`` on, an unknown key creates a bridge user (login from
    ``login``, role from ``medshake_host_user_role``, else ``role``, else ``practitioner``)
    that cannot log in with a password: only through the host.
    """

    key: str
    login: str
    display_name: str = ""
    role: str = ""
