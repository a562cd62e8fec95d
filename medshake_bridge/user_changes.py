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
from medshake_bridge.users import UserError, check_new_password, hash_password

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
    db.session.commit()
    return changed


def reset_password(user: User, password: str) -> None:
    """Give ``user`` a new password (length checked); commits."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    db.session.commit()


def active_admin_count() -> int:
    query = select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True))
    return int(db.session.scalar(query) or 0)
