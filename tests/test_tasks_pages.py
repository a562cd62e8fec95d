"""*Tâches planifiées* and *Historique des tâches*: admins only, all-or-nothing saves with the
reason next to the field, audited changes and runs, history paging and filter."""

from __future__ import annotations

import pytest
from scheduler_helpers import medshake_test_jobs, runs
from web_helpers import events, login, make_people, post

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import db
from medshake_bridge.models import ScheduledTask, TaskRun
from medshake_bridge.models.settings import utcnow

FIELDS = {"minute": "*/5", "hour": "8-20", "day": "*", "month": "*", "day_of_week": "1-6"}


@pytest.fixture
def site(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs])
    migrate.upgrade(app)
    people = make_people(app)
    client = app.test_client()
    login(client, "admin")
    return app, client, people


def _row(app, job_id: str) -> ScheduledTask:
    with app.app_context():
        row = db.session.scalars(db.select(ScheduledTask).where(
            ScheduledTask.job_id == job_id)).one()
        db.session.expunge(row)
        db.session.remove()
        return row


def test_page_lists_jobs_with_french_labels_and_next_run(site):
    app, client, _ = site
    html = client.get("/admin/tasks/").get_data(as_text=True)
    assert "Tâches planifiées" in html
    assert "Relève Apicrypt" in html and "Nettoyage des dossiers de travail" in html
    for label in ("minute", "heure", "jour du mois", "mois", "jour de la semaine"):
        assert f">{label}</label>" in html
    assert 'value="*/5"' in html and 'value="8-20"' in html and 'value="1-6"' in html
    assert "Exécuter maintenant" in html
    assert "Prochaine exécution" in html


def test_non_admins_get_404(site):
    app, _, _ = site
    client = app.test_client()
    login(client, "alice")
    assert client.get("/admin/tasks/").status_code == 404
    assert client.get("/admin/tasks/history").status_code == 404
    response = client.post("/admin/tasks/apicrypt-collect/run")
    assert response.status_code in (400, 404)  # no CSRF token, and not allowed anyway
    assert runs(app) == []


def test_an_invalid_field_is_refused_with_its_reason_and_nothing_is_saved(site):
    app, client, _ = site
    client.get("/admin/tasks/")  # makes the rows
    response = post(client, "/admin/tasks/apicrypt-collect",
                    {**FIELDS, "hour": "9-18", "day_of_week": "8"}, page="/admin/tasks/")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="f-apicrypt-collect-day_of_week-error"' in html
    assert "8 est hors de 0-7" in html
    assert 'value="9-18"' in html  # what was typed is kept for correction
    row = _row(app, "apicrypt-collect")
    assert (row.hour, row.day_of_week, row.enabled) == ("8-20", "1-6", True)
    assert events(app, "task.update")[-1].outcome == "failed"


def test_a_valid_change_is_saved_and_audited(site):
    app, client, _ = site
    client.get("/admin/tasks/")
    response = post(client, "/admin/tasks/apicrypt-collect", {**FIELDS, "hour": "9-18"},
                    page="/admin/tasks/")  # no "enabled": switched off
    assert response.status_code == 302
    row = _row(app, "apicrypt-collect")
    assert (row.hour, row.enabled, row.updated_by) == ("9-18", False, "admin")
    event = events(app, "task.update")[-1]
    assert event.outcome == "ok" and event.target == "apicrypt-collect"
    assert "hour: 8-20 → 9-18" in event.detail and "enabled: true → false" in event.detail
    html = client.get("/admin/tasks/").get_data(as_text=True)
    assert "désactivée" in html


def test_run_now_records_the_run_and_shows_its_outcome(site):
    app, client, _ = site
    response = post(client, "/admin/tasks/test-tick/run", page="/admin/tasks/",
                    follow_redirects=True)
    assert "exécutée avec succès" in response.get_data(as_text=True)
    (run,) = runs(app, "test-tick")
    assert (run.trigger, run.outcome) == ("page", "ok")
    response = post(client, "/admin/tasks/test-boom/run", page="/admin/tasks/",
                    follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "RuntimeError: boom on purpose" in html
    assert [e.outcome for e in events(app, "task.run")] == ["ok", "failed"]


def test_unknown_task_is_404(site):
    _, client, _ = site
    assert post(client, "/admin/tasks/nope/run", page="/admin/tasks/").status_code == 404
    assert post(client, "/admin/tasks/nope", FIELDS, page="/admin/tasks/").status_code == 404


def test_history_pages_and_filters_by_job(site):
    app, client, _ = site
    with app.app_context():
        now = utcnow()
        db.session.add_all([TaskRun(job_id="test-tick", trigger="cli", started_at=now,
                                    ended_at=now, outcome="ok", counts_json='{"ticks": 1}',
                                    host="h", pid=n) for n in range(60)])
        db.session.add(TaskRun(job_id="test-boom", trigger="schedule", started_at=now,
                               outcome="failed", error="kaboom", host="h", pid=1))
        db.session.commit()
        db.session.remove()
    html = client.get("/admin/tasks/history").get_data(as_text=True)
    assert "Historique des tâches" in html
    assert "61 exécutions" in html and "page 1 sur 2" in html
    assert "kaboom" in html
    filtered = client.get("/admin/tasks/history?job=test-boom").get_data(as_text=True)
    assert "1 exécutions" in filtered or "1 exécution" in filtered
    assert "kaboom" in filtered
    second = client.get("/admin/tasks/history?job=test-tick&page=2").get_data(as_text=True)
    assert "page 2 sur 2" in second and "kaboom" not in second


def test_menu_has_both_entries_for_admins(site):
    _, client, _ = site
    html = client.get("/admin/tasks/").get_data(as_text=True)
    assert "Tâches planifiées</a>" in html and "Historique des tâches</a>" in html


def test_settings_are_declared(site):
    app, _, _ = site
    with app.app_context():
        settings = bridge_state(app).settings
        assert settings.get("bridgeSchedulerMisfireGrace") == 300
        assert settings.get("bridgeSchedulerHistoryDays") == 30
