"""The scheduler service in this process: jobs run at their time, page changes apply without a
restart, a failing job is recorded and the others go on, only one leader."""

from __future__ import annotations

import threading
import time

import pytest
from scheduler_helpers import medshake_test_jobs, runs, wait_for
from web_helpers import login, make_people, post

from medshake_bridge import bridge_state, migrate
from medshake_bridge.config import bridge_home
from medshake_bridge.db import db, engine_url
from medshake_bridge.scheduler import SchedulerService
from medshake_bridge.scheduler.leader import LeaderElection
from medshake_bridge.scheduler.runs import as_utc
from medshake_bridge.scheduler.service import start_embedded
from medshake_bridge.scheduler.tasks import update_task


@pytest.fixture
def jobs_app(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs],
                   MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS=0.2)
    migrate.upgrade(app)
    return app


@pytest.fixture
def service(jobs_app):
    started = SchedulerService(jobs_app).start()
    yield started
    started.stop()


def _count(app, job_id: str) -> int:
    return len(runs(app, job_id))


def test_a_job_runs_at_its_time_and_records_the_run(jobs_app, service):
    ticks = wait_for(lambda: [r for r in runs(jobs_app, "test-tick") if r.outcome == "ok"]
                     [:2] if len(runs(jobs_app, "test-tick")) >= 3 else None)
    for run in ticks:
        scheduled = as_utc(run.scheduled_for)
        assert scheduled.microsecond == 0  # a tick of the per-second schedule
        assert as_utc(run.started_at) >= scheduled
        assert as_utc(run.ended_at) >= as_utc(run.started_at)
        assert run.trigger == "schedule"
        assert '"ticks": 1' in run.counts_json
    assert len({r.scheduled_for for r in runs(jobs_app, "test-tick")}) == \
        len(runs(jobs_app, "test-tick"))
    assert service.is_leader


def test_a_job_that_raises_is_recorded_and_the_scheduler_goes_on(jobs_app, service):
    wait_for(lambda: len([r for r in runs(jobs_app, "test-boom") if r.outcome == "failed"])
             >= 2, timeout=10)
    failed = [r for r in runs(jobs_app, "test-boom") if r.outcome == "failed"]
    assert failed[0].error == "RuntimeError: boom on purpose"
    assert failed[0].ended_at is not None
    before = _count(jobs_app, "test-tick")
    wait_for(lambda: _count(jobs_app, "test-tick") >= before + 2)


def test_page_changes_apply_without_restart(jobs_app, service):
    people = make_people(jobs_app)
    assert people.admin
    client = jobs_app.test_client()
    login(client, "admin")
    wait_for(lambda: service.next_run_time("test-tick") is not None)
    fields = {"minute": "*", "hour": "*", "day": "*", "month": "*", "day_of_week": "*"}

    # disable: the job leaves the scheduler and stops running
    response = post(client, "/admin/tasks/test-tick", fields, page="/admin/tasks/")
    assert response.status_code == 302
    wait_for(lambda: service.next_run_time("test-tick") is None, timeout=30)
    # "nothing happens" is proven against the scheduler's own progress, not a sleep: test-boom
    # shares the scheduler and ticks every second, so once it has run twice more, test-tick
    # would have run too (a slow machine only makes this wait longer, never pass wrongly).
    _boom_runs_after(jobs_app, 1)  # a test-tick run already started has finished by now
    stopped_at = _count(jobs_app, "test-tick")
    _boom_runs_after(jobs_app, 2)
    assert _count(jobs_app, "test-tick") == stopped_at

    # enable with another minute: the next run moves there
    minute = (time.localtime().tm_min + 30) % 60
    response = post(client, "/admin/tasks/test-tick",
                    {**fields, "minute": str(minute), "enabled": "on"}, page="/admin/tasks/")
    assert response.status_code == 302
    wait_for(lambda: (service.next_run_time("test-tick") or None) and
             service.next_run_time("test-tick").minute == minute, timeout=30)

    # back to every minute: it runs again
    before = _count(jobs_app, "test-tick")
    post(client, "/admin/tasks/test-tick", {**fields, "enabled": "on"}, page="/admin/tasks/")
    wait_for(lambda: _count(jobs_app, "test-tick") >= before + 2, timeout=30)


def test_a_change_made_by_another_process_is_picked_up_at_the_poll(jobs_app, service, make_app):
    other = make_app(INSTANCE_PATH=jobs_app.instance_path,
                     MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs])
    wait_for(lambda: service.next_run_time("test-boom") is not None)
    with other.app_context():  # not this process's scheduler: no notification
        change = update_task(bridge_state(other), "test-boom", enabled=False,
                             fields={"minute": "*", "hour": "*", "day": "*", "month": "*",
                                     "day_of_week": "*"}, actor="elsewhere")
        assert change.saved
        db.session.remove()
    wait_for(lambda: service.next_run_time("test-boom") is None, timeout=30)


def test_two_services_on_one_instance_have_one_leader(jobs_app, make_app):
    other_app = make_app(INSTANCE_PATH=jobs_app.instance_path,
                         MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs],
                         MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS=0.2)
    first = SchedulerService(jobs_app).start()
    wait_for(lambda: first.is_leader)
    second = SchedulerService(other_app)
    attempts = _count_calls(second.election, "try_lead")
    second.start()
    try:
        wait_for(lambda: len(attempts) >= 3, timeout=30)  # three real tries, not a sleep
        assert attempts == [False] * len(attempts) and not second.is_leader
        first.stop()
        wait_for(lambda: second.is_leader, timeout=30)
        assert attempts[-1] is True
    finally:
        first.stop()
        second.stop()


def test_two_hosts_on_one_database_have_one_leader(db_app, make_app, tmp_path):
    """Two instance folders (two hosts: no shared lock file) on one database: the database
    lock alone elects one leader (SQLite has no second host: the same folder there)."""
    url = engine_url(db_app)
    sqlite = url.startswith("sqlite")
    apps = [make_app(INSTANCE_PATH=db_app.instance_path if sqlite else str(tmp_path / f"host{i}"),
                     MEDSHAKE_BRIDGE_DATABASE_URL="" if sqlite else url,
                     MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs],
                     MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS=0.2) for i in range(2)]
    first = SchedulerService(apps[0]).start()
    second = SchedulerService(apps[1])
    attempts = _count_calls(second.election, "try_lead")
    try:
        wait_for(lambda: first.is_leader, timeout=30)
        second.start()
        wait_for(lambda: len(attempts) >= 3, timeout=30)
        assert not any(attempts) and not second.is_leader
        first.stop()
        wait_for(lambda: second.is_leader, timeout=30)
    finally:
        first.stop()
        second.stop()


def test_embedded_mode_only_starts_once_and_never_in_the_reloader_parent(make_app,
                                                                         monkeypatch):
    app = make_app(MEDSHAKE_BRIDGE_SCHEDULER="embedded")
    migrate.upgrade(app)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert start_embedded(app, use_reloader=True) is None  # the reloader's watching parent
    service = start_embedded(app)
    try:
        assert service is not None
        assert start_embedded(app) is service
    finally:
        service.stop()
    for mode in ("external", "off"):
        assert start_embedded(make_app(MEDSHAKE_BRIDGE_SCHEDULER=mode)) is None


def test_create_app_starts_no_scheduler(jobs_app):
    assert "scheduler" not in bridge_state(jobs_app).extras
    assert not [t for t in threading.enumerate() if t.name == "medshake-scheduler-control"]
    # nobody leads this instance: a fresh election wins at once (a started scheduler would
    # hold the lock from its first poll)
    election = LeaderElection(bridge_home(jobs_app), engine_url(jobs_app))
    try:
        assert election.try_lead()
    finally:
        election.release()
    assert runs(jobs_app) == []


def _count_calls(obj, name: str) -> list:
    """Record each result of ``obj.name()`` (the real method still runs: a spy, not a mock)."""
    real = getattr(obj, name)
    results: list = []

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        results.append(result)
        return result

    setattr(obj, name, spy)
    return results


def _boom_runs_after(app, more: int) -> None:
    """Wait until test-boom has finished ``more`` runs begun after now (the scheduler's clock)."""
    last = max((r.id for r in runs(app)), default=0)
    wait_for(lambda: len([r for r in runs(app, "test-boom") if r.id > last and r.ended_at])
             >= more, timeout=60)
