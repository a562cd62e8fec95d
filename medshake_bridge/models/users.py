"""Bridge users: who collects, reads and sends mail.

Login pages and the users admin build on this model; the settings store needs it now because a
user's effective settings pass through the user's module.
"""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

ROLES = ("admin", "practitioner", "secretary")


class User(UserMixin, db.Model):
    __tablename__ = "bridge_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    role: Mapped[str] = mapped_column(String(20), nullable=False, default="practitioner")
    module: Mapped[str] = mapped_column(String(100), nullable=False, default="base")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The host application's identity this user was provisioned from (embedding), if any.
    host_identity: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Raised to end every session of the user (logout, password reset, role change): a session
    # carries the epoch it was opened under and is refused once the user's has moved on.
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")
    # An admin reset the password: the user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                       server_default=false())
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )

    @property
    def is_active(self) -> bool:  # flask-login asks this
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.login} {self.role}>"
