"""Bridge users for the host application's identities (embedding with single sign-on).

A host's ``medshake_current_user`` may answer with a :class:`HostIdentity` instead of a bridge
user. The identity's ``key`` is looked up in ``bridge_users.host_identity``; only that link
makes a host user a bridge user (a host account that happens to share a bridge login gains
nothing). When ``MEDSHAKE_BRIDGE_AUTO_PROVISION`` is on, an unknown key creates the user once,
with a role chosen by ``medshake_host_user_role``; such users have no password.
"""

from __future__ import annotations

import logging
import re

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.interfaces import HostIdentity
from medshake_bridge.models import User
from medshake_bridge.models.users import ROLES
from medshake_bridge.users import find_user

log = logging.getLogger(__name__)
DEFAULT_ROLE = "practitioner"
_LOGIN_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def user_for_host_identity(identity: HostIdentity) -> User | None:
    """The active bridge user linked to ``identity``, provisioned if allowed; else ``None``."""
    user = _linked(identity.key)
    if user is None and current_app.config.get("MEDSHAKE_BRIDGE_AUTO_PROVISION"):
        user = _provision(identity)
    return user if user is not None and user.active else None


def link_host_identity(user: User, key: str) -> None:
    """Link an existing bridge user to a host identity (an admin's choice); commits."""
    user.host_identity = key
    db.session.commit()
    audit("user.linked", target=user.login, detail=f"host identity {key}")


def linked_user(key: str) -> User | None:
    """The bridge user linked to the host identity ``key`` (active or not), or ``None``."""
    return _linked(key)


def host_identity_of(user_id: int) -> str | None:
    """The host identity key a bridge user is linked to (``None`` when unlinked)."""
    user = db.session.get(User, user_id)
    return user.host_identity if user is not None else None


def create_linked_user(login: str, key: str, *, role: str = DEFAULT_ROLE,
                       display_name: str = "", module: str = "base") -> User:
    """Create a bridge user without a password, linked to a host identity (an import of the
    host's accounts); it signs in through the host, or once an admin sets a password. Commits."""
    from medshake_bridge.users import LOGIN_PATTERN, UserError

    if not LOGIN_PATTERN.match(login):
        raise UserError(f"login {login!r} is not allowed",
                        fix="use letters, digits, dots, dashes or underscores (max 80)")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}", fix=f"use one of {', '.join(ROLES)}")
    if find_user(login) is not None:
        raise UserError(f"a user named {login!r} already exists", fix="link it instead")
    user = User(login=login, display_name=display_name or login, role=role, password_hash="",
                host_identity=key, active=True, module=module or "base")
    db.session.add(user)
    db.session.commit()
    audit("user.imported", target=login, detail=f"host identity {key}, role {role}")
    return user


def _linked(key: str) -> User | None:
    return db.session.scalars(select(User).where(User.host_identity == key)).first()


def _provision(identity: HostIdentity) -> User | None:
    from medshake_bridge.extension import bridge_state

    role = (bridge_state().hooks.call_first("medshake_host_user_role", identity=identity)
            or identity.role or DEFAULT_ROLE)
    if role not in ROLES:
        log.warning("host identity %s not provisioned: role %r is not one of %s",
                    identity.key, role, ", ".join(ROLES))
        return None
    user = User(login=_free_login(identity.login or identity.key), role=role,
                display_name=identity.display_name or identity.login, password_hash="",
                host_identity=identity.key, active=True)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # another request provisioned the same identity (or login) first
        db.session.rollback()
        return _linked(identity.key)
    audit("user.provisioned", target=user.login, actor=None, actor_login="host",
          detail=f"host identity {identity.key}, role {role}")
    return user


def _free_login(wanted: str) -> str:
    base = _LOGIN_CHARACTERS.sub("-", wanted).strip("-.")[:70] or "user"
    login, number = base, 1
    while find_user(login) is not None:
        number += 1
        login = f"{base}-{number}"
    return login
