"""The tasks table: which declared jobs run, and when.

Jobs are *declared* by plugins (``medshake_scheduled_jobs``); what an admin chose (enabled, the
five crontab fields) is stored in ``bridge_scheduled_tasks``, one row per job, made from the
declaration the first time the job is seen. Every process reads the same rows, so a change made
on the page reaches every scheduler without a restart.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.models.settings import utcnow
from medshake_bridge.models.tasks import ScheduledTask
from medshake_bridge.scheduler.cron import FIELDS, CronFieldError, CronSchedule


class UnknownJobError(BridgeError):
    """No plugin declares a job by that id."""


@dataclass(frozen=True)
class PlannedTask:
    """A declared job with its stored choices: what the pages, the CLI and the service use."""

    spec: JobSpec
    enabled: bool
    schedule: CronSchedule
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def job_id(self) -> str:
        return self.spec.id

    def next_run(self, now: datetime | None = None) -> datetime | None:
        """When it runs next (``None`` when disabled or never)."""
        if not self.enabled:
            return None
        try:
            return self.schedule.next_run(now or datetime.now(UTC).astimezone())
        except CronFieldError:
            return None


def declared_jobs(state: BridgeState) -> dict[str, JobSpec]:
    """Every job the plugins declare, by id (the first declaration of an id wins)."""
    jobs: dict[str, JobSpec] = {}
    for spec in state.call_list_hook("medshake_scheduled_jobs"):
        if isinstance(spec, JobSpec) and spec.id not in jobs:
            jobs[spec.id] = spec
    return jobs


def declared_schedule(spec: JobSpec) -> CronSchedule:
    return CronSchedule.from_mapping(spec.cron)


def _new_row(spec: JobSpec) -> ScheduledTask:
    fields = declared_schedule(spec).as_dict()
    return ScheduledTask(job_id=spec.id, enabled=spec.enabled, updated_at=utcnow(),
                         updated_by="", **fields)


def planned_tasks(state: BridgeState,
                  job_ids: Collection[str] | None = None) -> list[PlannedTask]:
    """Every declared job (or those of ``job_ids``) with its stored choices; rows are made for
    jobs seen the first time (safe when several processes do it at once).

    ``job_ids``: the inbox list shows the collection's next run on every page, and reading
    and scheduling every job for it was a tenth of the page's own work (issue 18)."""
    specs = declared_jobs(state)
    query = select(ScheduledTask)
    if job_ids is not None:
        specs = {job_id: spec for job_id, spec in specs.items() if job_id in job_ids}
        query = query.where(ScheduledTask.job_id.in_(sorted(specs)))
    rows = {row.job_id: row for row in db.session.scalars(query)}
    missing = [spec for job_id, spec in specs.items() if job_id not in rows]
    for spec in missing:
        db.session.add(_new_row(spec))
        try:
            db.session.commit()
        except IntegrityError:  # made meanwhile by another process
            db.session.rollback()
    if missing:
        rows = {row.job_id: row for row in db.session.scalars(query)}
    tasks = []
    for job_id, spec in specs.items():
        row = rows[job_id]
        second = str(spec.cron.get("second", "0"))
        schedule = CronSchedule.from_mapping({**row.fields(), "second": second})
        tasks.append(PlannedTask(spec, bool(row.enabled), schedule, row.updated_at,
                                 row.updated_by))
    return tasks


def planned_task(state: BridgeState, job_id: str) -> PlannedTask:
    for task in planned_tasks(state, (job_id,)):
        if task.job_id == job_id:
            return task
    known = ", ".join(sorted(declared_jobs(state))) or "none"
    raise UnknownJobError(f"no scheduled job {job_id!r}",
                          fix=f"use one of: {known} (`medshake-bridge tasks list`)")


@dataclass(frozen=True)
class TaskChange:
    """What :func:`update_task` did: the refused fields (nothing saved then) or the changes."""

    problems: Mapping[str, CronFieldError]
    changes: Mapping[str, tuple[str, str]]

    @property
    def saved(self) -> bool:
        return not self.problems and bool(self.changes)


def update_task(state: BridgeState, job_id: str, *, enabled: bool,
                fields: Mapping[str, str], actor: str) -> TaskChange:
    """Validate all five fields, then save them and ``enabled`` together, or nothing."""
    task = planned_task(state, job_id)
    values = {name: str(fields.get(name, "")).strip() for name in FIELDS}
    schedule = CronSchedule(**values, second=task.schedule.second)
    problems = {name: problem for name, problem in schedule.problems().items()
                if name in FIELDS}
    if problems:
        return TaskChange(problems, {})
    row = db.session.scalars(select(ScheduledTask).where(ScheduledTask.job_id == job_id)).one()
    changes: dict[str, tuple[str, str]] = {}
    if bool(row.enabled) != enabled:
        changes["enabled"] = (str(bool(row.enabled)).lower(), str(enabled).lower())
        row.enabled = enabled
    for name in FIELDS:
        if getattr(row, name) != values[name]:
            changes[name] = (getattr(row, name), values[name])
            setattr(row, name, values[name])
    if changes:
        row.updated_at = utcnow()
        row.updated_by = actor[:80]
        db.session.commit()
    else:
        db.session.rollback()
    return TaskChange({}, changes)


def tasks_fingerprint() -> tuple:
    """A cheap summary of the tasks table: it changes whenever a row does (the service polls
    it to reload without a restart)."""
    rows = db.session.execute(
        select(ScheduledTask.job_id, ScheduledTask.enabled, ScheduledTask.minute,
               ScheduledTask.hour, ScheduledTask.day, ScheduledTask.month,
               ScheduledTask.day_of_week).order_by(ScheduledTask.job_id))
    return tuple(tuple(row) for row in rows)
