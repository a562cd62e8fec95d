"""Safe filing and patients in Chromium: "create the patient" beside a strong match asks a
second confirmation naming it; the filed document names and links its patient; search by first
name; the compose page's "new patient" form. Screenshots: ``patients-*.png`` (desktop, phone).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from support.browser import screenshot

from medshake_bridge.db import db
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import Patient

PASSWORD = "password for tests"


def _log_in(page, base: str, login: str) -> None:
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def test_strong_match_confirmation_filing_and_new_patient(world, live_server, page, browser):
    world.deliver(world.mail())
    world.collect()
    with world.app.app_context():
        document_id = db.session.scalars(select(InboxDocument.id)).one()
        existing = Patient(last_name="DUPONT", first_name="Jeanne", sex="F",
                           birth_date=dt.date(1961, 3, 12))
        db.session.add_all([existing, Patient(last_name="MOREAU", first_name="Jeanne")])
        db.session.commit()
        existing_id = existing.id
    base = live_server(world.app)
    _log_in(page, base, "bob")
    page.goto(f"{base}/inbox/{document_id}")
    page.click("#create-patient button")
    page.wait_for_selector("#confirm-create")
    warning = page.inner_text("#confirm-create")
    assert "Un patient existant correspond fortement" in warning
    assert "DUPONT Jeanne (12/03/1961)" in warning and "même date de naissance" in warning
    screenshot(page, "patients-01-confirm-duplicate")
    page.click("#confirm-create >> text=Annuler")
    assert page.locator("#confirm-create").count() == 0
    with world.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 2

    page.fill("#q", "jeanne")  # a first name finds both Jeannes
    page.click("#patient-search button")
    assert page.locator("[data-found]").count() == 2
    page.check(f'input[data-found="bridge:{existing_id}"]')
    page.click("#search-results button")
    page.wait_for_url(f"{base}/inbox/?state=new")
    page.goto(f"{base}/inbox/{document_id}")
    filed = page.locator(f"[data-filed-into='bridge:{existing_id}']")
    assert " ".join(filed.inner_text().split()) == \
        "Classé dans le dossier de DUPONT Jeanne (née le 12/03/1961)"
    screenshot(page, "patients-02-filed")
    filed.locator("a").click()
    page.wait_for_url(f"{base}/patients/bridge:{existing_id}")
    assert page.locator(f"[data-document='{document_id}']").count() == 1
    screenshot(page, "patients-03-patient-page")

    page.click("text=Écrire au sujet de ce patient")
    assert "DUPONT Jeanne" in page.inner_text("#patient-identity")
    page.goto(f"{base}/send/compose")
    page.click("#new-patient summary")
    page.fill("#np-last_name", "Lefèvre")
    page.fill("#np-first_name", "Anaïs")
    page.fill("#np-birth_date", "02/05/1990")
    page.select_option("#np-sex", "F")
    screenshot(page, "patients-04-compose-new-patient")
    page.click("#new-patient-form button[type=submit]")
    assert "LEFÈVRE Anaïs" in page.inner_text("#patient-identity")

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        mobile = phone.new_page()
        _log_in(mobile, base, "bob")
        mobile.goto(f"{base}/patients/?q=jeanne")
        assert mobile.locator("[data-found]").count() == 2
        screenshot(mobile, "patients-05-search-phone")
    finally:
        phone.close()
