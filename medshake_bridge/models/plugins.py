"""What plugins did wrong while running: recorded failures and suspended plugins.

A hook implementation that raises is contained by :mod:`medshake_bridge.hook_guard`; the
failure is written here so every process (web, ``fetch``, the scheduler) shows the same list on
the Extensions page, in system information and in ``doctor``. A plugin that keeps failing is
suspended (its hooks are skipped) until an admin re-enables it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow


class PluginFailure(db.Model):
    """One exception raised by one plugin's hook implementation."""

    __tablename__ = "bridge_plugin_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    hook: Mapped[str] = mapped_column(String(100), nullable=False)
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )


class PluginSuspension(db.Model):
    """A plugin whose hooks are skipped after repeated failures, until an admin re-enables it."""

    __tablename__ = "bridge_plugin_suspensions"

    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    suspended_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
