"""The configuration pages in a real browser (Debian's headless Chromium through Playwright).

One screenshot per page goes to ``test-artifacts/screenshots/``. The pages must keep working
under their Content-Security-Policy (any violation fails the test) and without JavaScript.
"""

from __future__ import annotations

import pytest
from support.browser import screenshot
from web_helpers import PASSWORD, make_people

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.models import SettingValue

SECRET = "Br0wser-Secret-Value"


@pytest.fixture
def site(app, live_server):
    people = make_people(app)
    return app, live_server(app), people


def _watch_csp(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and ("Content Security Policy" in msg.text
                                        or "Refused to" in msg.text) else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def _log_in(page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button.primary")


def _stored(app, name: str, level: str = "default", **scope):
    with app.app_context():
        value = bridge_state(app).settings.stored(name, level, **scope)
        db.session.remove()
        return value


def test_admin_configures_settings_overrides_and_secrets(site, page):
    app, base, people = site
    # the user's pick (the language switch's cookie) beats the browser's English
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    problems = _watch_csp(page)
    page.goto(f"{base}/admin/settings/")
    assert page.url.startswith(f"{base}/login?next=")
    screenshot(page, "01-login")
    page.fill("#login", "admin")
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    assert page.url == f"{base}/admin/settings/"
    background = page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(15, 61, 102)"  # the stylesheet loaded under the CSP
    screenshot(page, "02-global-settings")

    # a valid change
    page.fill("#f-apicryptSmtpHost", "smtp.example.org")
    page.click("fieldset.category >> nth=0 >> button.primary")
    assert "1 paramètre enregistré" in page.inner_text(".flashes")
    assert _stored(app, "apicryptSmtpHost") == "smtp.example.org"

    # a refused value: explained next to the field, nothing saved
    page.fill("#f-apicryptPopHost", "pop intermedic.org")
    page.fill("#f-apicryptSmtpPort", "2525")
    page.click("fieldset.category >> nth=0 >> button.primary")
    error = page.inner_text("#setting-apicryptPopHost .field-error")
    assert "n'est pas un nom de serveur" in error
    assert page.input_value("#f-apicryptPopHost") == "pop intermedic.org"
    assert _stored(app, "apicryptPopHost") is None and _stored(app, "apicryptSmtpPort") is None
    screenshot(page, "03-global-settings-validation-error")

    # a secret: stored, never shown back
    page.goto(f"{base}/admin/settings/")
    page.fill("#f-apicrypt2CompanionToken", SECRET)
    page.click("fieldset.category >> nth=0 >> button.primary")
    assert _stored(app, "apicrypt2CompanionToken") == SECRET
    with app.app_context():
        row = db.session.scalar(db.select(SettingValue).where(
            SettingValue.name == "apicrypt2CompanionToken"))
        assert row.encrypted and SECRET not in row.value
        db.session.remove()
    assert page.input_value("#f-apicrypt2CompanionToken") == ""
    assert "défini" in page.inner_text("#setting-apicrypt2CompanionToken .secret-state")
    assert SECRET not in page.content()
    screenshot(page, "04-global-settings-secret-set")

    # a per-user override, added then removed
    page.click("nav.menu >> text=Paramètres par utilisateur")
    screenshot(page, "05-overrides-index")
    page.click(f"a[href='/admin/users/{people.alice}/settings']")
    page.select_option("#add-setting", "apicryptAdresse")
    page.click("text=Choisir")
    page.fill("#f-apicryptAdresse", "alice.MARTIN@medical69.apicrypt.org")
    page.click("text=Enregistrer la surcharge")
    assert "apicryptAdresse enregistré pour alice" in page.inner_text(".flashes")
    row = page.inner_text("#override-apicryptAdresse")
    assert "alice.MARTIN@medical69.apicrypt.org" in row
    assert "cet utilisateur" in page.inner_text("#effective-apicryptAdresse")
    assert _stored(app, "apicryptAdresse", "user", user_id=people.alice) == (
        "alice.MARTIN@medical69.apicrypt.org")
    screenshot(page, "06-user-overrides")
    page.once("dialog", lambda dialog: dialog.accept())  # bridge.js asks for confirmation
    page.click("#override-apicryptAdresse >> text=Supprimer")
    assert "La surcharge de apicryptAdresse est supprimée" in page.inner_text(".flashes")
    assert page.locator("#override-apicryptAdresse").count() == 0
    assert _stored(app, "apicryptAdresse", "user", user_id=people.alice) is None

    for path, name in [("/", "07-home"), ("/admin/users/", "08-users"),
                       (f"/admin/users/{people.sophie}", "09-user-edit"),
                       ("/admin/plugins/", "10-plugins"), ("/admin/audit/", "11-audit"),
                       ("/admin/modules/cardio/settings", "12-module-overrides")]:
        page.goto(base + path)
        assert page.locator("main h1").count() == 1, path
        screenshot(page, name)
    audit_text = page.goto(f"{base}/admin/audit/?action=setting.set") and page.inner_text(
        "#audit")
    assert "apicrypt2CompanionToken@default" in audit_text and SECRET not in audit_text
    page.click("button[value=en]")
    assert "Audit log" in page.inner_text("h1")
    screenshot(page, "13-audit-english")
    assert problems == []


def test_practitioner_is_refused_admin_pages(site, browser):
    app, base, people = site
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    try:
        problems = _watch_csp(page)
        _log_in(page, base, "alice")
        assert "Bienvenue, Dr Alice." in page.inner_text(".flashes")
        assert page.locator("nav.menu >> text=Paramètres globaux").count() == 0
        response = page.goto(f"{base}/admin/settings/")
        assert response.status == 404
        assert "Page introuvable" in page.inner_text("h1")
        screenshot(page, "14-practitioner-refused")
        assert problems == []
    finally:
        context.close()
    with app.app_context():
        from medshake_bridge.models import AuditEvent
        denied = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "access.denied")).all()
        assert [(e.actor_login, e.target) for e in denied] == [("alice", "/admin/settings/")]
        db.session.remove()


def test_pages_work_without_javascript(site, browser):
    app, base, people = site
    context = browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = context.new_page()
    try:
        _log_in(page, base, "admin")
        page.goto(f"{base}/admin/users/{people.bob}/settings?edit=apicryptPopPort")
        page.fill("#f-apicryptPopPort", "995")
        page.click("text=Enregistrer la surcharge")
        assert "995" in page.inner_text("#override-apicryptPopPort")
        page.click("#override-apicryptPopPort >> text=Supprimer")  # no confirm without JS
        assert page.locator("#override-apicryptPopPort").count() == 0
        page.click("button[value=en]")
        assert "Per-user settings" in page.inner_text("nav.menu")
        screenshot(page, "15-no-javascript-english")
    finally:
        context.close()
