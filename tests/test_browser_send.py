"""Sending in a real browser: Alice adds Bob to her address book, composes about a patient,
double-clicks "send" (sent once), sees the history; Bob collects and reads it.

Screenshots go to ``test-artifacts/screenshots/send-*.png``.
"""

from __future__ import annotations

from mailworld import BOB, PDF_1
from sendworld import DOMAIN
from support.browser import screenshot

from medshake_bridge.i18n import LANGUAGE_COOKIE

PASSWORD = "password for tests"
BOB_ADDRESS = f"{BOB}@{DOMAIN}"


def _log_in(page, base: str, login: str) -> None:
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button.primary")


def test_alice_sends_bob_collects_and_reads(send_world, live_server, page, browser, tmp_path):
    sw = send_world
    base = live_server(sw.app)
    _log_in(page, base, "alice")

    page.goto(f"{base}/send/correspondents")
    page.fill("#name", "Dr Bob Durand")
    page.fill("#address", "bob.durand@gmail.com")
    page.click("form.grid-form button.primary")
    assert "pas une adresse Apicrypt" in page.inner_text("#address-error")
    page.fill("#address", BOB_ADDRESS)
    page.click("form.grid-form button.primary")
    assert BOB_ADDRESS in page.inner_text("table.correspondents")
    screenshot(page, "send-01-address-book")

    page.click("nav.menu >> text=Nouveau message")
    page.fill("#q", "helene etienne")  # any words, no accents needed
    page.click("#patient-search button")
    page.check(f'input[name="patient"][value="bridge:{sw.patient_id}"]')
    page.click("#patient-results button")
    assert "DUPONT-ÉTIENNE" in page.inner_text("#patient-identity")
    assert page.input_value("#subject") == "Document concernant votre patient"
    page.check(f'input[name="correspondent"][value="{BOB_ADDRESS}"]')
    page.fill("#subject", "Avis pour Mme Dupont-Étienne")
    page.fill("#body", "Cher confrère,\nvoici l'échographie de contrôle.\nBien à vous.")
    page.click("#send-button")
    assert "circule en clair" in page.inner_text("#subject-error")
    assert page.input_value("#body").startswith("Cher confrère")
    screenshot(page, "send-02-subject-refused")
    assert sw.delivered() == []

    page.fill("#subject", "Avis cardiologique")
    attachment = tmp_path / "échographie.pdf"
    attachment.write_bytes(PDF_1)
    page.set_input_files("#upload", str(attachment))
    screenshot(page, "send-03-compose")
    page.dblclick("#send-button")
    page.wait_for_url(f"{base}/send/sent")
    # bridge.js holds the second submit of the double click: one request, one message.
    flashes = page.inner_text(".flashes")
    assert "Message envoyé à" in flashes and "déjà été envoyé" not in flashes
    row = page.inner_text("table.sent tbody tr")
    assert BOB_ADDRESS in row and "échographie.pdf" in row and "envoyé" in row
    screenshot(page, "send-04-sent-history")
    assert len(sw.delivered()) == 1  # the double click sent once
    assert sw.work_files() == []

    bob = browser.new_context().new_page()
    _log_in(bob, base, "bob")
    bob.goto(f"{base}/inbox/")
    bob.click("text=Relever ma boîte maintenant")
    assert "1 nouveau" in bob.inner_text(".flashes")  # French by default
    bob.click("table.inbox a")
    assert "Cher confrère" in bob.inner_text("pre.document-body")
    assert "échographie.pdf" in bob.inner_text("ul.attachments")
    assert "DUPONT-ÉTIENNE" in bob.inner_text("h1")
    screenshot(bob, "send-05-bob-reads-the-message")
    bob.context.close()
