"""*Tâches planifiées* in a real browser: switch a task off, change a field, see a refused
field explained, run a task now, then the history. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from scheduler_helpers import medshake_test_jobs, runs
from support.browser import screenshot
from web_helpers import PASSWORD, make_people

from medshake_bridge import migrate
from medshake_bridge.db import db
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.models import ScheduledTask


@pytest.fixture
def site(make_app, live_server):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs])
    migrate.upgrade(app)
    make_people(app)
    return app, live_server(app)


def _row(app, job_id: str) -> ScheduledTask:
    with app.app_context():
        row = db.session.scalars(db.select(ScheduledTask).where(
            ScheduledTask.job_id == job_id)).one()
        db.session.expunge(row)
        db.session.remove()
        return row


def test_admin_plans_tasks_in_the_browser(site, page):
    app, base = site
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page.goto(f"{base}/login")
    page.fill("#login", "admin")
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.click("nav.menu >> text=Tâches planifiées")
    assert page.url == f"{base}/admin/tasks/"
    assert page.inner_text("h1") == "Tâches planifiées"
    collect = page.locator("#task-apicrypt-collect")
    assert "jour de la semaine" in collect.inner_text()
    assert collect.locator(".next-run").inner_text().strip() != ""
    screenshot(page, "tasks-01-planned-tasks")

    # switch the collection off and move it to 9-18
    collect.locator("#enabled-apicrypt-collect").uncheck()
    collect.locator("#f-apicrypt-collect-hour").fill("9-18")
    collect.locator("button.primary").click()
    assert "s'applique sans redémarrage" in page.inner_text(".flashes")
    row = _row(app, "apicrypt-collect")
    assert (row.enabled, row.hour) == (False, "9-18")
    assert "aucune (désactivée)" in page.locator("#task-apicrypt-collect .next-run").inner_text()

    # a refused field: explained next to it, nothing saved
    page.locator("#f-apicrypt-collect-minute").fill("75")
    page.locator("#f-apicrypt-collect-hour").fill("10-12")
    page.locator("#task-apicrypt-collect button.primary").click()
    error = page.locator("#f-apicrypt-collect-minute-error")
    assert "75 est hors de 0-59" in error.inner_text()
    assert page.locator("#f-apicrypt-collect-minute").get_attribute("aria-invalid") == "true"
    assert "Rien n'a été enregistré" in page.inner_text(".flashes")
    assert _row(app, "apicrypt-collect").hour == "9-18"
    screenshot(page, "tasks-02-refused-field")

    # run now
    page.goto(f"{base}/admin/tasks/")
    page.locator("#task-test-tick form.inline button").click()
    assert "exécutée avec succès" in page.inner_text(".flashes")
    last = page.locator("#task-test-tick .last-run").inner_text()
    assert "réussie" in last and "ticks" in last
    assert [run.trigger for run in runs(app, "test-tick")] == ["page"]
    screenshot(page, "tasks-03-run-now")

    page.click("nav.menu >> text=Historique des tâches")
    assert page.inner_text("h1") == "Historique des tâches"
    assert "Tic de test" in page.inner_text("#runs")
    screenshot(page, "tasks-04-history")
    assert problems == []
