"""Stored setting values: one row per (name, level, scope)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge import clock
from medshake_bridge.db import db


def utcnow() -> datetime:
    """Now, in UTC, from :mod:`medshake_bridge.clock` (which tests can fix)."""
    return clock.utcnow()


class SettingValue(db.Model):
    """A value stored at one level of the hierarchy.

    ``scope`` is ``""`` at the default level, the module name at the module level and the user id
    (as text) at the user level: one non-null column keeps the unique constraint meaningful on
    every database (NULLs never collide in a unique index). ``value`` is JSON text, or a Fernet
    token when ``encrypted`` is true; the flag is stored so key rotation finds every secret even
    when the plugin that declared it is gone.
    """

    __tablename__ = "bridge_settings"
    __table_args__ = (UniqueConstraint("name", "level", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    scope: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    value: Mapped[str] = mapped_column(Text, nullable=False)
    encrypted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )
