"""Planned tasks and their runs.

``bridge_scheduled_tasks`` holds what an admin chose for each declared job (enabled, five
crontab fields); the scheduler rebuilds its in-memory job list from it, never from pickled jobs.
``bridge_task_runs`` records every run (scheduled, from the page, from the CLI). The unique
constraint on (job, scheduled time) is the last guard against two schedulers running one tick:
the second insert fails and that process skips the tick.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medshake_bridge.db import db
from medshake_bridge.models.settings import utcnow

RUNNING = "running"
OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"
RUN_OUTCOMES = (RUNNING, OK, FAILED, INTERRUPTED)
TRIGGERS = ("schedule", "page", "cli")


class ScheduledTask(db.Model):
    __tablename__ = "bridge_scheduled_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    minute: Mapped[str] = mapped_column(String(100), nullable=False, default="0")
    hour: Mapped[str] = mapped_column(String(100), nullable=False, default="*")
    day: Mapped[str] = mapped_column(String(100), nullable=False, default="*")
    month: Mapped[str] = mapped_column(String(100), nullable=False, default="*")
    day_of_week: Mapped[str] = mapped_column(String(100), nullable=False, default="*")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    updated_by: Mapped[str] = mapped_column(String(80), nullable=False, default="")

    def fields(self) -> dict[str, str]:
        return {"minute": self.minute, "hour": self.hour, "day": self.day,
                "month": self.month, "day_of_week": self.day_of_week}


class TaskRun(db.Model):
    __tablename__ = "bridge_task_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_for"),
        Index("ix_bridge_task_runs_job_started", "job_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100), nullable=False)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, default="schedule")
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, default=RUNNING)
    counts_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    host: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    pid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def __repr__(self) -> str:
        return f"<TaskRun {self.id} {self.job_id} {self.outcome}>"
