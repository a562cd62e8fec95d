"""The system information page in a real browser: a failing and a passing check, then the
companion's restart brings it back. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import screenshot
from sysinfo_helpers import (
    TOKEN,
    certify,
    logged,
    restarting_service,
    store_settings,
    v2_settings,
)
from web_helpers import PASSWORD, events, make_people

from medshake_bridge import migrate
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.sandbox import create_network
from medshake_bridge.sandbox.companion import SandboxCompanion

ALICE, BOB = "alice.MARTIN", "bob.DURAND"
#: Keep the tests off the internet: nothing listens on port 1 of the loopback.
LOCAL_SMTP = {"apicryptSmtpHost": "localhost", "apicryptSmtpPort": "1"}


@pytest.fixture
def broken_site(make_app, live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A v2 site whose companion is down and whose user Alice lost her Maildir folder."""
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    app = make_app()
    migrate.upgrade(app)
    people = make_people(app)
    net = create_network(tmp_path / "sandbox", [ALICE, BOB])
    certify(net, ALICE, BOB)
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    companion = SandboxCompanion(spool, net.network_dir, token=TOKEN).start()
    script = restarting_service(tmp_path / "bin", companion)
    store_settings(app, {**v2_settings(BOB, companion, spool),
                         "apicrypt2RestartCommand": f"{script} compagnonApicrypt restart"})
    maildir = tmp_path / "maildirs" / "alice"
    maildir.mkdir(parents=True)
    store_settings(app, {"apicryptAdresse": f"{ALICE}@medical69.apicrypt.org",
                         "apicryptCollector": "maildir", "apicryptMaildir": str(maildir),
                         **LOCAL_SMTP},
                   user_id=people.alice)
    maildir.rmdir()  # the folder went away after it was configured
    companion.set_mode("down")
    yield app, live_server(app), companion, script
    companion.stop()


def _row(page, name: str):
    return page.locator("tr.check", has=page.locator("td.check-name", has_text=name))


def test_system_page_shows_failing_and_passing_checks_and_restart_fixes_it(broken_site, page):
    app, base, companion, script = broken_site
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page.goto(f"{base}/login")
    page.fill("#login", "admin")
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.click("nav.menu >> text=Informations système")
    assert page.url == f"{base}/admin/system/"

    companion_row = _row(page, "Compagnon Apicrypt v2")
    assert "check-broken" in companion_row.first.get_attribute("class")
    assert "ne répond pas" in companion_row.first.inner_text()
    assert "bouton de redémarrage" in companion_row.first.inner_text()
    maildir_row = _row(page, "Dossier Maildir (alice)")
    assert "check-broken" in maildir_row.get_attribute("class")
    assert "n'existe pas" in maildir_row.inner_text()
    instance_row = _row(page, "Droits du dossier d'instance")
    assert "check-ok" in instance_row.get_attribute("class")
    assert "EN PANNE" in page.inner_text("#summary") or "en panne" in page.inner_text("#summary")
    screenshot(page, "sysinfo-01-companion-down-missing-folder")

    page.click("#group-apicrypt_v2 >> text=Redémarrer le compagnon…")
    assert page.inner_text("#restart-command") == f"{script} compagnonApicrypt restart"
    screenshot(page, "sysinfo-02-restart-confirm")
    assert logged(script) == []
    page.click("button.primary >> text=Redémarrer maintenant")
    assert "restarted (fake): mode normal" in page.inner_text("#restart-stdout")
    assert "Le compagnon répond." in page.inner_text("#companion-after")
    screenshot(page, "sysinfo-03-restart-done")
    assert logged(script) == [[str(script), "compagnonApicrypt", "restart"]]
    assert events(app, "apicrypt2.restart")[-1].outcome == "ok"

    page.click("text=← Informations système")
    assert "check-ok" in _row(page, "Compagnon Apicrypt v2").first.get_attribute("class")
    page.goto(f"{base}/admin/apicrypt2/")
    assert ALICE in page.inner_text("#mailboxes") and BOB in page.inner_text("#mailboxes")
    screenshot(page, "sysinfo-04-apicrypt2-mailboxes")
