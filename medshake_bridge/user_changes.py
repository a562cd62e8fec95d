"""Changing existing users (role, name, module, active flag, password).

Kept apart from creation (``users.py``) because these changes carry the rules that keep a site
administrable: the last active administrator cannot be demoted or deactivated, and nobody
deactivates their own account (they would lock themselves out mid-session).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.users import ROLES
from medshake_bridge.sessions import revoke_sessions
from medshake_bridge.users import UserError, check_new_password, hash_password, verify_password

MODULE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_DISPLAY_NAME = 200


@dataclass(frozen=True)
class UserUpdate:
    display_name: str
    role: str
    module: str
    active: bool


def check_update(user: User, change: UserUpdate, *, acting: User | None) -> None:
    """Raise :class:`UserError` (with a fix) when ``change`` must not be applied."""
    if change.role not in ROLES:
        raise UserError(f"unknown role {change.role!r}", fix=f"use one of {', '.join(ROLES)}")
    if not MODULE_PATTERN.match(change.module):
        raise UserError(f"module name {change.module!r} is not allowed",
                        fix="use letters, digits, dots, dashes or underscores")
    if len(change.display_name) > MAX_DISPLAY_NAME:
        raise UserError("the display name is too long",
                        fix=f"keep it under {MAX_DISPLAY_NAME} characters")
    if acting is not None and acting.id == user.id and not change.active:
        raise UserError("you cannot deactivate your own account",
                        fix="ask another administrator to do it")
    loses_admin = user.role == "admin" and user.active and (
        change.role != "admin" or not change.active)
    if loses_admin and active_admin_count() <= 1:
        raise UserError(f"{user.login} is the last active administrator",
                        fix="make another user an administrator first")


def update_user(user: User, change: UserUpdate, *, acting: User | None) -> list[str]:
    """Apply ``change`` (after :func:`check_update`); commits; returns the fields changed."""
    check_update(user, change, acting=acting)
    changed = []
    for field in ("display_name", "role", "module", "active"):
        new = getattr(change, field)
        if field == "display_name":
            new = new.strip() or user.login
        if getattr(user, field) != new:
            setattr(user, field, new)
            changed.append(field)
    if {"role", "active", "module"} & set(changed):
        revoke_sessions(user)  # new rights apply now, not at the user's next login
    db.session.commit()
    return changed


def reset_password(user: User, password: str, *, must_change: bool = False) -> None:
    """Give ``user`` a new password (policy checked) and end all their sessions; commits.

    ``must_change``: the user must choose their own password at their next login (an admin
    typed this one, so someone else knows it)."""
    check_new_password(password, login=user.login)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    revoke_sessions(user)
    db.session.commit()


def change_own_password(user: User, old: str, new: str) -> None:
    """The user's own change: the old password proves it is them; the new one follows the
    policy and differs from the old. Ends the user's other sessions; commits (the caller
    stamps the current session again)."""
    if not verify_password(user, old):
        raise UserError("the current password is wrong", fix="type your current password")
    if old == new:
        raise UserError("the new password is the current one", fix="choose a new password")
    check_new_password(new, login=user.login)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    revoke_sessions(user)
    db.session.commit()


def active_admin_count() -> int:
    query = select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True))
    return int(db.session.scalar(query) or 0)
