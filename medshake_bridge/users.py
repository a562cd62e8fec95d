"""Creating and checking bridge users (the service layer behind the CLI and the users page)."""

from __future__ import annotations

import re

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.models import User
from medshake_bridge.models.users import ROLES
from medshake_bridge.passwords import password_problem, problem_text

LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
MIN_PASSWORD_LENGTH = 10
PASSWORD_METHOD = "scrypt"  # noqa: S105 - a KDF name, not a password


class UserError(BridgeError):
    """A user could not be created or changed."""


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def verify_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def check_new_password(password: str, *, login: str = "") -> None:
    """Raise :class:`UserError` when ``password`` breaks the policy (``passwords.py``)."""
    problem = password_problem(password, login=login)
    if problem:
        text = problem_text(problem)
        reason, _sep, fix = text.partition("; ")
        raise UserError(reason, fix=fix or "choose another password")


def create_user(login: str, password: str, *, role: str = "practitioner",
                display_name: str = "", module: str = "base") -> User:
    """Validate and create a user; commits."""
    if not LOGIN_PATTERN.match(login):
        raise UserError(f"login {login!r} is not allowed",
                        fix="use letters, digits, dots, dashes or underscores (max 80)")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}", fix=f"use one of {', '.join(ROLES)}")
    check_new_password(password, login=login)
    if find_user(login) is not None:
        raise UserError(f"a user named {login!r} already exists", fix="choose another login")
    user = User(login=login, display_name=display_name or login, role=role, module=module,
                password_hash=hash_password(password), active=True)
    db.session.add(user)
    db.session.commit()
    return user


def find_user(login: str) -> User | None:
    """The bridge user with this login, or ``None`` (connectors linking an EHR's accounts)."""
    return db.session.scalars(select(User).where(User.login == login)).first()


def list_users() -> list[User]:
    """Every bridge user, oldest first (connectors comparing with an EHR's accounts)."""
    return list(db.session.scalars(select(User).order_by(User.id)))
