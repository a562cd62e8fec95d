"""*Tâches planifiées* and *Historique des tâches* (admins).

Each declared job with its description, an enabled switch, the five crontab fields, its next
and last run, and "run now". A schedule is saved whole or not at all: a refused field is
explained next to it and nothing changes. Every change and every manual run is audited. The
scheduler of this process (if any) reloads at once; schedulers in other processes at their next
poll.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, current_bridge_user, deny, protect
from medshake_bridge.audit import audit
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _, current_language
from medshake_bridge.models.tasks import RUN_OUTCOMES
from medshake_bridge.scheduler.cron import FIELDS, CronFieldError
from medshake_bridge.scheduler.runs import (
    JobBusy,
    RunResult,
    as_utc,
    counts_of,
    execute_job,
    last_run,
    run_history,
)
from medshake_bridge.scheduler.service import notify_tasks_changed, scheduler_mode
from medshake_bridge.scheduler.tasks import (
    PlannedTask,
    UnknownJobError,
    planned_task,
    planned_tasks,
    update_task,
)
from medshake_bridge.web.numbers import int_arg

task_pages = protect(Blueprint("bridge_tasks", __name__, url_prefix="/admin/tasks"), ADMIN)
PER_PAGE = 50
DEFAULT_RUN_NOW_WAIT = 5.0


def field_labels() -> dict[str, str]:
    return {"minute": _("minute"), "hour": _("hour"), "day": _("day of month"),
            "month": _("month"), "day_of_week": _("day of week")}


def field_help() -> dict[str, str]:
    return {"minute": _("0-59"), "hour": _("0-23"), "day": _("1-31"),
            "month": _("1-12 or jan-dec"),
            "day_of_week": _("0 or 7 = Sunday, 1 = Monday … 6 = Saturday")}


def outcome_label(outcome: str) -> str:
    return {"ok": _("succeeded"), "failed": _("failed"), "running": _("running"),
            "interrupted": _("interrupted")}.get(outcome, outcome)


def local_time(value: datetime | None) -> str:
    """Times are stored in UTC and shown in the server's local time."""
    aware = as_utc(value)
    return aware.astimezone().strftime("%d/%m/%Y %H:%M:%S") if aware else ""


def problem_text(problem: CronFieldError) -> str:
    if problem.kind == "range":
        return _("%(value)s is outside %(low)s-%(high)s: give values between %(low)s and "
                 "%(high)s.", value=problem.value, low=problem.low, high=problem.high)
    if problem.kind == "syntax":
        return _("“%(value)s” is not crontab syntax: use numbers, *, ranges (8-20), steps "
                 "(*/5) and lists (1,15).", value=problem.value)
    return _("“%(value)s” is not a valid value here (for example a range that goes "
             "backwards or a step of 0): use crontab syntax such as */5, 8-20 or 1-6.",
             value=problem.value)


def _view(task: PlannedTask, *, submitted: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, enabled: bool | None = None) -> dict[str, Any]:
    lang = current_language()
    run = last_run(task.job_id)
    values = submitted or task.schedule.as_dict()
    return {
        "id": task.job_id,
        "label": task.spec.label_en if lang == "en" else task.spec.label_fr,
        "description": task.spec.description_en if lang == "en" else task.spec.description_fr,
        "enabled": task.enabled if enabled is None else enabled,
        "fields": [(name, values.get(name, ""), (errors or {}).get(name, "")) for name in FIELDS],
        "next_run": local_time(task.next_run()),
        "last": run,
        "last_counts": counts_of(run) if run else {},
        "updated_at": local_time(task.updated_at),
        "updated_by": task.updated_by,
    }


def _render(tasks: list[dict[str, Any]], status: int = 200) -> tuple[str, int]:
    return render_template("bridge/tasks.html", tasks=tasks, labels=field_labels(),
                           helps=field_help(), outcome_label=outcome_label,
                           local_time=local_time, mode=scheduler_mode(current_app)), status


@task_pages.route("/")
def index() -> tuple[str, int]:
    return _render([_view(task) for task in planned_tasks(bridge_state())])


def _task_or_404(job_id: str) -> PlannedTask:
    try:
        return planned_task(bridge_state(), job_id)
    except UnknownJobError:
        deny(f"task {job_id}")


@task_pages.post("/<job_id>")
def save(job_id: str) -> Response | tuple[str, int]:
    _task_or_404(job_id)
    user = current_bridge_user()
    enabled = request.form.get("enabled") == "on"
    submitted = {name: request.form.get(name, "").strip() for name in FIELDS}
    change = update_task(bridge_state(), job_id, enabled=enabled, fields=submitted,
                         actor=user.login if user else "")
    if change.problems:
        errors = {name: problem_text(problem) for name, problem in change.problems.items()}
        audit("task.update", target=job_id, outcome="failed",
              detail="; ".join(f"{name}: {problem}" for name, problem in
                               change.problems.items()))
        flash(_("Nothing was saved: correct the schedule of “%(job)s” below.", job=job_id),
              "error")
        views = [_view(task, submitted=submitted, errors=errors, enabled=enabled)
                 if task.job_id == job_id else _view(task)
                 for task in planned_tasks(bridge_state())]
        return _render(views, 400)
    if change.changes:
        audit("task.update", target=job_id,
              detail="; ".join(f"{name}: {old} → {new}"
                               for name, (old, new) in change.changes.items()))
        notify_tasks_changed(current_app._get_current_object())  # type: ignore[attr-defined]
        flash(_("The schedule of “%(job)s” is saved; it applies without a restart.",
                job=job_id), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for(".index") + f"#task-{job_id}")


@task_pages.post("/<job_id>/run")
def run_now(job_id: str) -> Response:
    task = _task_or_404(job_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = execute_job(app, task.spec, trigger="page")
        except JobBusy as exc:
            outcome["busy"] = exc
        except Exception as exc:  # noqa: BLE001 - shown to the admin, the page goes on
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"run-now-{job_id}", daemon=True)
    thread.start()
    thread.join(float(app.config.get("MEDSHAKE_BRIDGE_RUN_NOW_WAIT_SECONDS",
                                     DEFAULT_RUN_NOW_WAIT)))
    result: RunResult | None = outcome.get("result")
    if "busy" in outcome:
        audit("task.run", target=job_id, outcome="failed", detail="already running")
        flash(_("“%(job)s” is running right now: wait for the end of this run (see the "
                "history).", job=job_id), "error")
    elif "error" in outcome:
        audit("task.run", target=job_id, outcome="failed", detail=str(outcome["error"]))
        flash(_("“%(job)s” could not be started: %(reason)s", job=job_id,
                reason=str(outcome["error"])), "error")
    elif result is None:
        audit("task.run", target=job_id, detail="started")
        flash(_("“%(job)s” started and is still running: its result will appear in the "
                "history.", job=job_id), "info")
    elif result.outcome == "ok":
        audit("task.run", target=job_id, detail=f"run {result.run_id}: ok")
        flash(_("“%(job)s” ran successfully.", job=job_id), "success")
    else:
        audit("task.run", target=job_id, outcome="failed",
              detail=f"run {result.run_id}: {result.error}")
        flash(_("“%(job)s” failed: %(error)s", job=job_id, error=result.error), "error")
    return redirect(url_for(".index") + f"#task-{job_id}")


@task_pages.route("/history")
def history() -> str:
    jobs = {task.job_id: task for task in planned_tasks(bridge_state())}
    job_id = request.args.get("job", "").strip()
    if job_id and job_id not in jobs:
        job_id = ""
    page = int_arg("page", 1)
    runs, total = run_history(job_id=job_id, page=page, per_page=PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    lang = current_language()
    names = {key: (task.spec.label_en if lang == "en" else task.spec.label_fr)
             for key, task in jobs.items()}
    return render_template("bridge/task_runs.html", runs=runs, total=total, page=page,
                           pages=pages, job=job_id, names=names, counts_of=counts_of,
                           outcome_label=outcome_label, local_time=local_time,
                           outcomes=RUN_OUTCOMES)
