"""The objects the host hands to plugins, and the accessors plugins read the bridge with.

Hooks never receive ORM rows: a row is tied to a session (reading it after the session closed
fails, changing it changes the database) and its columns are the host's to rename. These frozen
dataclasses are copies made for the plugin, with everything it needs in one place (a stored
message carries its owners, a document its parsed HPRIM header and lab results).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app


@dataclass(frozen=True)
class BridgeUser:
    """A bridge user as plugins see it (no password hash, no session)."""

    id: int
    login: str
    display_name: str = ""
    role: str = "practitioner"
    module: str = "base"
    active: bool = True

    @property
    def is_admin(self) -> bool:
        return self.active and self.role == "admin"

    @classmethod
    def from_row(cls, row: Any) -> BridgeUser:
        return cls(id=row.id, login=row.login, display_name=row.display_name or row.login,
                   role=row.role, module=row.module or "base", active=bool(row.active))


@dataclass(frozen=True)
class LabResult:
    """One lab result (``RES``) line of an HPRIM document, fields as written; ``abnormal`` is
    the host's reading of the flag and the normal range; ``extra`` holds the second value."""

    label: str = ""
    code: str = ""
    kind: str = ""
    value: str = ""
    unit: str = ""
    normal_low: str = ""
    normal_high: str = ""
    flag: str = ""
    status: str = ""
    abnormal: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    _TEXT = ("label", "code", "kind", "value", "unit", "normal_low", "normal_high", "flag",
             "status")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabResult:
        known = {name: str(data.get(name) or "") for name in cls._TEXT}
        return cls(**known, abnormal=bool(data.get("abnormal")),
                   extra={key: value for key, value in data.items()
                          if key not in known and key != "abnormal"})


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment of a received message as the bridge keeps it: its display ``name``, its
    decrypted copy at ``path`` (private to the bridge: read it, never move or change it)."""

    name: str
    path: Path
    size: int = 0
    content_type: str = ""
    signature: str = ""
    signer: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredAttachment:
        return cls(name=str(data.get("name") or ""), path=Path(str(data.get("file") or "")),
                   size=int(data.get("size") or 0),
                   content_type=str(data.get("content_type") or ""),
                   signature=str(data.get("signature") or ""),
                   signer=str(data.get("signer") or ""))


@dataclass(frozen=True)
class StoredDocument:
    """One inbox document of one owner: the parsed HPRIM header (``header``: patient name,
    birth date, NIR, file number, sender...) and its lab ``results``."""

    id: int
    message_id: int
    owner: BridgeUser
    position: int
    state: str
    has_header: bool
    patient_last_name: str
    patient_first_name: str
    patient_birth_date: dt.date | None
    sender_name: str
    abnormal: bool
    body: str
    header: Mapping[str, Any] = field(default_factory=dict)
    results: tuple[LabResult, ...] = ()

    # The names of the database row, for plugins written before these objects existed.
    @property
    def owner_user_id(self) -> int:
        return self.owner.id

    @property
    def header_json(self) -> str:
        return json.dumps(dict(self.header), ensure_ascii=False, default=str)

    @property
    def results_json(self) -> str:
        return json.dumps([{**{name: getattr(result, name) for name in LabResult._TEXT},
                            "abnormal": result.abnormal, **result.extra}
                           for result in self.results], ensure_ascii=False)

    @classmethod
    def from_row(cls, row: Any, owner: BridgeUser) -> StoredDocument:
        return cls(
            id=row.id, message_id=row.message_id, owner=owner, position=row.position,
            state=row.state, has_header=bool(row.has_header),
            patient_last_name=row.patient_last_name, patient_first_name=row.patient_first_name,
            patient_birth_date=row.patient_birth_date, sender_name=row.sender_name,
            abnormal=bool(row.abnormal), body=row.body,
            header=json.loads(row.header_json or "{}"),
            results=tuple(LabResult.from_json(item)
                          for item in json.loads(row.results_json or "[]")))


@dataclass(frozen=True)
class StoredMessage:
    """A received message once committed, with the users it was delivered to (a shared
    mailbox has several ``owners``). ``unencrypted`` (not encrypted with Apicrypt) and
    ``external_sender`` (sender outside the configured Apicrypt domains) are the provenance
    flags the inbox and the API show: a plugin that files or forwards mail checks them first."""

    id: int
    mailbox: str
    server_id: str
    message_id: str
    subject: str
    from_address: str
    to_address: str
    date: str
    signature_status: str
    signer: str
    signature_invalid: bool
    attachment_names: tuple[str, ...]
    owners: tuple[BridgeUser, ...]
    attachments: tuple[StoredAttachment, ...] = ()
    unencrypted: bool = False
    external_sender: bool = False

    @property
    def attachments_json(self) -> str:
        """The attachments as the database row keeps them (for older plugins)."""
        return json.dumps([{"name": item.name, "file": str(item.path), "size": item.size,
                            "content_type": item.content_type, "signature": item.signature,
                            "signer": item.signer} for item in self.attachments],
                          ensure_ascii=False)

    @property
    def owner(self) -> BridgeUser | None:
        """The first owner (the only one unless the mailbox is shared)."""
        return self.owners[0] if self.owners else None

    @classmethod
    def from_row(cls, row: Any, owners: tuple[BridgeUser, ...]) -> StoredMessage:
        items = [item for item in json.loads(row.attachments_json or "[]")
                 if isinstance(item, dict)]
        names = tuple(str(item.get("name") or "") for item in items)
        return cls(
            id=row.id, mailbox=row.mailbox.key if row.mailbox is not None else "",
            server_id=row.server_id, message_id=row.message_id_header, subject=row.subject,
            from_address=row.from_address, to_address=row.to_address, date=row.date_header,
            signature_status=row.signature_status, signer=row.signer,
            signature_invalid=bool(row.signature_invalid), attachment_names=names,
            owners=owners, attachments=tuple(StoredAttachment.from_json(item) for item in items),
            unencrypted=bool(row.unencrypted), external_sender=bool(row.external_sender))


@dataclass(frozen=True)
class SentRecord:
    """A message accepted by the SMTP server, as ``medshake_message_sent`` sees it."""

    id: int
    user: BridgeUser
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    patient_id: str
    sent_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Any, user: BridgeUser) -> SentRecord:
        recipients = tuple(part.strip() for part in str(row.recipients or "").split(",")
                           if part.strip())
        return cls(id=row.id, user=user, recipients=recipients,
                   subject=getattr(row, "subject", "") or "",
                   message_id=row.message_id_header or "", patient_id=row.patient_id or "",
                   sent_at=row.sent_at)


def stored_message(row: Any, documents: list[Any]) -> tuple[StoredMessage, list[StoredDocument]]:
    """The public copies of a committed message row and its document rows."""
    from medshake_bridge.db import db
    from medshake_bridge.models import User
    from medshake_bridge.settings.store import once_per_run

    owner_ids = sorted({document.owner_user_id for document in documents})
    # a collection run reads its owners once, not once per message
    users = once_per_run(("stored_message.owners", tuple(owner_ids)), lambda: {
        user.id: BridgeUser.from_row(user) for user in
        db.session.scalars(db.select(User).where(User.id.in_(owner_ids)))} if owner_ids else {})
    public_documents = [StoredDocument.from_row(document, users[document.owner_user_id])
                        for document in documents if document.owner_user_id in users]
    message = StoredMessage.from_row(row, tuple(users[uid] for uid in owner_ids if uid in users))
    return message, public_documents


class Settings:
    """Reading the bridge's settings: the accessor plugins use.

    A setting has up to three stored levels; the effective value for a user is the first
    found of **user** (``--user ID``), **module** (the user's module, e.g. ``cardio``: a value
    shared by a group of users), **default** (the site's value), then the declared default of
    the :class:`~medshake_bridge.api.SettingSpec`. Secrets come back decrypted: never log them.
    """

    def __init__(self, app: Flask) -> None:
        from medshake_bridge.extension import bridge_state

        self._store = bridge_state(app).settings

    def get(self, name: str, *, user_id: int | None = None, module: str | None = None) -> Any:
        """The effective typed value of ``name``: for a user (user → their module → default
        → declared), for a module (module → default → declared), or for the site."""
        return self._store.get(name, user_id=user_id, module=module)

    def source(self, name: str, *, user_id: int | None = None,
               module: str | None = None) -> str:
        """Where that value comes from: ``user``, ``module``, ``default`` or ``declared``."""
        return self._store.effective(name, user_id=user_id, module=module).level

    def for_user(self, user_id: int | None, *, skip_damaged: bool = False) -> dict[str, Any]:
        """Every setting's effective value for a user (``None``: the site's), as collectors
        and back-end factories receive them. A stored value that cannot be read raises,
        unless ``skip_damaged`` (then it is ignored, as if absent)."""
        return self._store.values_for_user(user_id, skip_damaged=skip_damaged)

    def users_with(self, name: str) -> list[int]:
        """Ids of the users that store their own value of ``name``."""
        return self._store.users_with_value(name)

    def set(self, name: str, value: Any, *, user_id: int | None = None,
            module: str | None = None) -> Any:
        """Validate and store ``value`` at the user, module or default level (the plugin
        audits its own changes); returns the typed value."""
        return self._store.set(name, value, level=_level(user_id, module), user_id=user_id,
                               module=module)

    def stored(self, name: str, *, user_id: int | None = None,
               module: str | None = None) -> Any:
        """The value stored at exactly the user, module or default level (no fallback to the
        other levels), or ``None`` when nothing is stored there."""
        return self._store.stored(name, _level(user_id, module), user_id=user_id,
                                  module=module)

    def declaration(self, name: str) -> Any:
        """The :class:`~medshake_bridge.api.SettingSpec` declaring ``name`` (``None`` when
        no plugin declares it)."""
        registry = self._store.registry
        return registry.get(name) if name in registry else None

    def validate(self, name: str, value: Any, *, level: str = "default") -> Any:
        """The typed value ``set`` would store at ``level`` (nothing is stored); raises a
        :class:`~medshake_bridge.api.BridgeError` naming the setting, the level and the fix."""
        return self._store.validate(self._store.registry.get(name), value, level=level)


def _level(user_id: int | None, module: str | None) -> str:
    return "user" if user_id is not None else "module" if module else "default"


def settings(app: Flask | None = None) -> Settings:
    """The settings accessor of ``app`` (default: the current app)."""
    return Settings(app or current_app._get_current_object())  # type: ignore[attr-defined]


def users(*, active_only: bool = True) -> list[BridgeUser]:
    """The bridge's users, by id (the current app's database)."""
    from medshake_bridge.db import db
    from medshake_bridge.models import User

    query = db.select(User).order_by(User.id)
    if active_only:
        query = query.where(User.active.is_(True))
    return [BridgeUser.from_row(row) for row in db.session.scalars(query)]


def get_user(user_id: int) -> BridgeUser | None:
    """One bridge user by id (active or not), or ``None``."""
    from medshake_bridge.db import db
    from medshake_bridge.models import User

    row = db.session.get(User, int(user_id))
    return BridgeUser.from_row(row) if row is not None else None


def current_user() -> BridgeUser | None:
    """The bridge user of the current request (logged in, or mapped from the host)."""
    from medshake_bridge.access import current_bridge_user

    row = current_bridge_user()
    return BridgeUser.from_row(row) if row is not None else None


def is_admin(user: Any) -> bool:
    """True for an active admin (a :class:`BridgeUser` or the host's user row)."""
    return user is not None and bool(getattr(user, "active", False)) and user.role == "admin"


def program_runner(settings_values: Mapping[str, Any], app: Flask | None = None) -> Any:
    """The host's program runner for these effective settings (prefix such as ``sudo -n``,
    timeout, minimal environment, secrets redacted from its output)."""
    from medshake_bridge.backends import make_runner
    from medshake_bridge.extension import bridge_state

    return make_runner(bridge_state(app), settings_values)


def data_folder(name: str) -> Any:
    """A setting default: ``<bridge data folder>/<name>``, computed for the app that asks
    (give it as ``SettingSpec(default=data_folder("my-plugin"))``)."""

    def default(app: Any) -> str:
        return str(Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / name)

    default.__doc__ = f"<instance data>/{name}"
    return default


def audit(action: str, *, target: str = "", outcome: str = "ok", detail: str = "",
          user: Any = None, actor_login: str = "") -> None:
    """Write one audit event (who is taken from the request unless ``user``/``actor_login``
    says otherwise: a job passes ``actor_login="scheduler"``). Never put a secret in it."""
    from medshake_bridge.audit import audit as host_audit
    from medshake_bridge.db import db
    from medshake_bridge.models import User

    kwargs: dict[str, Any] = {"target": target, "outcome": outcome, "detail": detail}
    if user is not None:
        kwargs["actor"] = db.session.get(User, user.id)
    elif actor_login:
        kwargs["actor"], kwargs["actor_login"] = None, actor_login
    host_audit(action, **kwargs)


def service_account(settings_values: Mapping[str, Any] | None = None) -> str:
    """The system account sudoers lines name (``apicryptSudoAccount``, else the account
    running this process)."""
    from medshake_bridge.sysinfo.advice import default_account

    return default_account(settings_values)


def plugin_folder(name: str, app: Flask | None = None) -> Path:
    """A private folder for a plugin's files (``<data>/plugins/<name>``, mode 0700)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    folder = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "plugins" / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def received_document(document_id: int) -> tuple[StoredMessage, StoredDocument] | None:
    """One received document and its message, as ``medshake_message_stored`` handed them
    (``None`` when there is no such document): what a plugin retrying its own work on a
    document it was given earlier reads."""
    from medshake_bridge.db import db
    from medshake_bridge.models import InboxDocument, ReceivedMessage

    document = db.session.get(InboxDocument, int(document_id))
    if document is None:
        return None
    row = db.session.get(ReceivedMessage, document.message_id)
    if row is None:
        return None
    message, documents = stored_message(row, [document])
    return (message, documents[0]) if documents else None
