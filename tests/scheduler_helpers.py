"""Helpers for the scheduler tests: the test-jobs plugin, waiting, reading the run table."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.models import TaskRun

JOBS_PLUGIN_DIR = Path(__file__).parent / "plugins" / "scheduler_jobs"
if str(JOBS_PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(JOBS_PLUGIN_DIR))

import medshake_test_jobs  # noqa: E402


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.1,
             what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``timeout`` passes (AssertionError
    naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(step)


def runs(app: Flask, job_id: str | None = None) -> list[TaskRun]:
    with app.app_context():
        query = select(TaskRun).order_by(TaskRun.id)
        if job_id:
            query = query.where(TaskRun.job_id == job_id)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        db.session.remove()
        return found


__all__ = ["JOBS_PLUGIN_DIR", "medshake_test_jobs", "runs", "wait_for"]
