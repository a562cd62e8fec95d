"""In Chromium: Dr Durand files Jeanne Dupont's three lab reports into her record, then reads
her potassium over time on the patient page (an SVG chart with critical values marked, the
table under it), on the desktop, on a phone, and printed without navigation.

Screenshots: ``test-artifacts/screenshots/workflow-12-*.png`` … ``workflow-14-*.png``.
"""

from __future__ import annotations

from officeworld import add_jeanne
from sqlalchemy import select
from support.browser import screenshot
from test_browser_workflow import DESKTOP, PHONE, _session, office  # noqa: F401  (fixture)

from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument


def test_patient_page_shows_results_over_time(office, live_server, browser):  # noqa: F811
    assert office.world.collect().ok
    ref = add_jeanne(office.app)
    with office.app.app_context():
        documents = list(db.session.scalars(select(InboxDocument.id).where(
            InboxDocument.owner_user_id == office.world.bob)))
    assert len(documents) == 3
    base = live_server(office.app)
    bob = _session(browser, base, "bob")
    for document in documents:  # file each report with the proposed patient
        bob.goto(f"{base}/inbox/{document}")
        bob.check(f'#candidates input[data-candidate="{ref}"]')
        bob.click("#candidates button.primary")
        bob.wait_for_selector(".flashes")
    bob.goto(f"{base}/inbox/{documents[0]}")
    bob.click(f"[data-filed-into='{ref}'] a")
    bob.wait_for_url(f"{base}/patients/{ref}")
    assert bob.title() == "DUPONT Jeanne · medshake-bridge"
    listing = bob.locator("#patient-document-list tbody tr")
    assert listing.count() == 3
    assert listing.first.inner_text().split()[0] == "30/11/2026"  # exam date, newest first
    assert "résultats anormaux" in listing.first.inner_text()
    section = bob.locator("#patient-results")
    assert "Résultats de 3 documents classés dans ce dossier." in section.inner_text()
    chart = section.locator('[data-analyte-history="code:K"] svg')
    assert chart.is_visible()
    circles = chart.locator("circle")
    assert circles.count() == 3
    # the critical 6,8 (HH) is the biggest, red dot; the normal 4,1 is green
    assert circles.nth(2).get_attribute("r") == "6" and circles.nth(2).get_attribute(
        "fill") == "#b3261e"
    assert circles.nth(0).get_attribute("fill") == "#1f7a3a"
    table = section.locator('[data-analyte-history="code:K"] table')
    assert table.locator("tbody tr").first.inner_text().split()[:2] == ["30/11/2026", "6,8"]
    assert section.locator('[data-analyte-history="code:TROP"] svg circle').count() == 2
    # the strict CSP holds: no script was refused by the page, and the page draws nothing with it
    assert bob.evaluate("document.querySelectorAll('main script').length") == 0
    screenshot(bob, "workflow-12-patient-results-over-time")

    bob.emulate_media(media="print")
    for hidden in ("header.topbar", "footer.footer", ".actions"):
        assert not bob.locator(hidden).first.is_visible(), hidden
    assert chart.is_visible() and bob.locator("#patient-name").is_visible()
    screenshot(bob, "workflow-13-patient-results-print")

    phone = _session(browser, base, "bob", viewport=PHONE)
    phone.goto(f"{base}/patients/{ref}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = phone.locator('[data-analyte-history="code:K"] svg').bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    screenshot(phone, "workflow-14-phone-patient-results")
