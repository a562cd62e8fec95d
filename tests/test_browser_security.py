"""Sessions and passwords in a real browser (headless Chromium): an admin resets a password with
"change at next login", the user is held on the password page until they choose their own, and
a copy of the old session cookie no longer works (issue #17, items 8 and 9)."""

from __future__ import annotations

import pytest
from support.browser import screenshot
from web_helpers import PASSWORD, make_people

from medshake_bridge.i18n import LANGUAGE_COOKIE

TEMPORARY = "provisoire du lundi matin"
CHOSEN = "le chat dort sur le radiateur"
COOKIE = "medshake_bridge_session"


@pytest.fixture
def site(app, live_server):
    people = make_people(app)
    return app, live_server(app), people


def _log_in(page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button.primary")


def test_forced_password_change_and_revoked_cookie(site, page, browser):
    app, base, people = site
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    # Bob is logged in somewhere else; his cookie is copied
    other = browser.new_context()
    bob_elsewhere = other.new_page()
    _log_in(bob_elsewhere, base, "bob", PASSWORD)
    assert bob_elsewhere.url == f"{base}/"
    stolen = next(c for c in other.cookies() if c["name"] == COOKIE)

    _log_in(page, base, "admin", PASSWORD)
    page.goto(f"{base}/admin/users/{people.bob}")
    page.fill("#password", TEMPORARY)
    page.fill("#confirm", TEMPORARY)
    assert page.is_checked("input[name=must_change]")  # forced change is the default
    page.click("text=Enregistrer le nouveau mot de passe")
    screenshot(page, "security-01-reset")

    bob_elsewhere.goto(f"{base}/inbox/")
    assert bob_elsewhere.url.startswith(f"{base}/login")  # his sessions ended
    thief = browser.new_context()
    thief.add_cookies([{**stolen}])
    thief_page = thief.new_page()
    thief_page.goto(f"{base}/inbox/")
    assert thief_page.url.startswith(f"{base}/login")
    other.close()
    thief.close()

    page.click("text=Se déconnecter")
    _log_in(page, base, "bob", TEMPORARY)
    page.goto(f"{base}/inbox/")
    assert page.url == f"{base}/account/password"
    assert "Un administrateur a défini votre mot de passe" in page.content()
    screenshot(page, "security-02-forced-change")
    page.fill("#current", TEMPORARY)
    page.fill("#password", "bob12345678")
    page.fill("#confirm", "bob12345678")
    page.click("button.primary")
    assert "ne doit pas contenir l'identifiant" in page.content()
    page.fill("#current", TEMPORARY)
    page.fill("#password", CHOSEN)
    page.fill("#confirm", CHOSEN)
    page.click("button.primary")
    assert page.url == f"{base}/"
    page.goto(f"{base}/inbox/")
    assert page.url == f"{base}/inbox/"
    screenshot(page, "security-03-free")
