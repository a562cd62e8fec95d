"""MedShakeEHR accounts and bridge users: ``link-user`` and ``import-users``.

A MedShakeEHR account is a ``people`` row with a non-empty ``name`` and ``pass`` (its own
rule), not deleted or destroyed. A bridge user is linked to it through its host identity
``medshakeehr:<people.id>``: filing writes ``fromID`` from that link, and single sign-on only
recognises linked accounts. Roles: ``rank='admin'`` → admin, ``type='pro'`` → practitioner,
anything else → secretary. Imported users have no bridge password (they sign in through
MedShakeEHR, or once an admin sets one).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import (
    BridgeError,
    PatientError,
    UserError,
    create_linked_user,
    find_user,
    link_host_identity,
    linked_user,
)
from medshake_medshakeehr.config import ConnectorConfig
from medshake_medshakeehr.database import IDENTITY_TYPES, engine_for, type_ids, unreachable
from medshake_medshakeehr.identity import SOURCE, identities
from medshake_medshakeehr.report import CONFLICTING, IMPORTED, SKIPPED, ImportLine


@dataclass(frozen=True)
class EhrAccount:
    people_id: int
    login: str
    rank: str
    kind: str
    display_name: str
    module: str = "base"

    @property
    def key(self) -> str:
        return f"{SOURCE}:{self.people_id}"

    @property
    def role(self) -> str:
        if self.rank == "admin":
            return "admin"
        return "practitioner" if self.kind == "pro" else "secretary"

    def __str__(self) -> str:
        return f"{self.login}, {self.display_name}" if self.display_name else self.login


def ehr_accounts(config: ConnectorConfig, people_id: int | None = None) -> list[EhrAccount]:
    sql = ("SELECT id, name, `rank`, type, module FROM people WHERE LENGTH(TRIM(name))>0 AND "
           "LENGTH(TRIM(pass))>0 AND type NOT IN ('deleted','destroyed')")
    params = {}
    if people_id is not None:
        sql += " AND id=:id"
        params["id"] = people_id
    try:
        with engine_for(config).connect() as connection:
            rows = connection.execute(text(sql + " ORDER BY id"), params).all()
            names = identities(connection, [r[0] for r in rows],
                               type_ids(connection, IDENTITY_TYPES))
    except SQLAlchemyError as exc:
        raise unreachable(exc, config) from None
    accounts = []
    for ident, login, rank, kind, module in rows:
        values = names.get(int(ident), {})
        last = values.get("lastname") or values.get("birthname") or ""
        display = " ".join(p for p in (values.get("firstname", ""), last) if p)
        accounts.append(EhrAccount(int(ident), str(login).strip(), str(rank or ""), str(kind),
                                   display, str(module or "base")))
    return accounts


def link_user(config: ConnectorConfig, login: str, people_id: int) -> EhrAccount:
    user = find_user(login)
    if user is None:
        raise UserError(f"there is no bridge user {login!r}",
                        fix="create it first (medshake-bridge create-user) or import-users")
    found = ehr_accounts(config, people_id)
    if not found:
        raise PatientError(f"MedShakeEHR people {people_id} is not an account",
                           fix="give the people.id of a MedShakeEHR user (name and password "
                           "set, not deleted)")
    account = found[0]
    other = linked_user(account.key)
    if other is not None and other.id != user.id:
        raise UserError(f"MedShakeEHR account {people_id} is already linked to {other.login}",
                        fix="one MedShakeEHR account links to one bridge user")
    link_host_identity(user, account.key)
    return account


def import_users(config: ConnectorConfig, *, dry_run: bool = False) -> list[ImportLine]:
    lines = []
    for account in ehr_accounts(config):
        linked = linked_user(account.key)
        if linked is not None:
            lines.append(ImportLine(SKIPPED, account.login,
                                    f"already linked to bridge user {linked.login}"))
            continue
        same_login = find_user(account.login)
        if same_login is not None:
            lines.append(ImportLine(CONFLICTING, account.login,
                                    "a bridge user has this login; if it is the same person run "
                                    f"medshakeehr link-user {account.login} {account.people_id}"))
            continue
        if dry_run:
            lines.append(ImportLine(IMPORTED, account.login,
                                    f"would create ({account.role}, {account.key})"))
            continue
        try:
            create_linked_user(account.login, account.key, role=account.role,
                               display_name=account.display_name, module=account.module)
        except BridgeError as exc:
            lines.append(ImportLine(SKIPPED, account.login, str(exc)))
            continue
        lines.append(ImportLine(IMPORTED, account.login, f"{account.role}, {account.key}"))
    return lines
