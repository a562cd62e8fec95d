"""A day of mail in Chromium, desktop (1280×800) and phone (390×844): Sophie collects and
reads Dr Durand's results without changing his read state, finds a patient by first name,
results come first with critical values and previous values, a removal is confirmed and
undone, she sends in Dr Martin's name after an unknown-recipient error that kept the
attachment; the phone layout fits the screen and printing shows no navigation.

Screenshots: ``test-artifacts/screenshots/workflow-*.png``.
"""

from __future__ import annotations

import pytest
from mailworld import BOB, PDF_1
from officeworld import PASSWORD, make_office
from playwright.sync_api import expect
from sendworld import DOMAIN
from support.browser import screenshot
from test_inbox_results import K_MID, K_NEW, K_OLD, lab

from medshake_bridge.i18n import LANGUAGE_COOKIE

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def office(send_world):
    sw = make_office(send_world)
    for exam, results in (("02/11/2026", K_OLD), ("20/11/2026", K_MID),
                          ("30/11/2026", K_NEW)):
        sw.world.deliver(sw.world.mail(text=lab(exam, results), subject="Résultats"))
    return sw


def _session(browser, base: str, login: str, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(30_000)
    context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def test_secretary_collects_reads_results_and_the_owner_keeps_his_state(office, live_server,
                                                                         browser):
    base = live_server(office.app)
    sophie = _session(browser, base, "sophie")
    sophie.goto(f"{base}/inbox/")
    sophie.click("#collect-button")
    sophie.wait_for_selector(".flashes")
    assert "Boîte de Dr Durand" in sophie.inner_text(".flashes")
    assert "3 nouveau" in sophie.inner_text(".flashes")
    assert sophie.inner_text("#collection-status").count("Dernière relève") >= 1
    screenshot(sophie, "workflow-01-secretary-collected")
    # a second click while a collection runs says so (and sends nothing)
    sophie.evaluate("document.getElementById('collect-form').dataset.collecting = '1'")
    sophie.click("#collect-button")
    assert "déjà en cours" in sophie.inner_text("#collect-progress")
    assert sophie.locator("[data-for-owner]").count() == 3
    assert "Pour : Dr Durand" in sophie.inner_text("table.inbox")
    # the current tab is visible
    current = sophie.locator('nav.tabs a[aria-current="page"]')
    assert current.count() == 1 and "À traiter" in current.inner_text()

    sophie.fill('input[name="q"]', "Jeanne")
    sophie.click("#inbox-filters .search-row button")
    assert "q=Jeanne" in sophie.url
    assert sophie.locator("table.inbox tbody tr").count() == 3
    # the newest exam (critical values); not "the first line": the processing pool stores
    # the three messages in any order, and the list is by arrival
    sophie.click("table.inbox tbody tr:has-text('30/11/2026') a")
    results = sophie.locator("#results")
    assert results.is_visible()
    box = results.bounding_box()
    assert box is not None and box["y"] < 400  # results come first
    assert "Valeurs critiques" in results.inner_text()
    potassium = sophie.locator('tr[data-analyte="K"]')
    assert "6,8" in potassium.inner_text() and "↑" in potassium.inner_text()
    assert "5,6" in potassium.inner_text() and "20/11/2026" in potassium.inner_text()
    colour = potassium.locator(".result-value").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(179, 38, 30)"
    screenshot(sophie, "workflow-02-results-first-critical-previous")
    sophie.click("#history-link")
    chart = sophie.locator('[data-analyte-history="code:K"] svg')
    assert chart.is_visible() and chart.locator("circle").count() == 3
    screenshot(sophie, "workflow-02b-results-over-time-chart")
    sophie.go_back()

    bob = _session(browser, base, "bob")
    bob.goto(f"{base}/inbox/")
    assert bob.inner_text("[data-unread]") == "3"  # Sophie's reading left his state alone
    assert "vu par Sophie le" in bob.inner_text("table.inbox")
    assert bob.locator("tr.unread").count() == 3
    screenshot(bob, "workflow-03-owner-still-unread-seen-by-sophie")


def test_removal_is_confirmed_and_undone(office, live_server, browser):
    office.world.collect()
    base = live_server(office.app)
    bob = _session(browser, base, "bob")
    bob.goto(f"{base}/inbox/")
    bob.click("table.inbox tbody tr:first-child a")
    bob.click("#remove-button")
    bob.wait_for_selector("#confirm-remove")
    screenshot(bob, "workflow-04-remove-asks-to-confirm")
    bob.click("#confirm-remove button.danger")
    bob.wait_for_selector(".flashes")
    assert "Retirés" in bob.inner_text(".flashes")
    assert bob.locator("table.inbox tbody tr").count() == 2
    bob.click('nav.tabs a[data-tab="removed"]')
    bob.click("[data-restore]")
    bob.wait_for_selector(".flashes")
    assert "remis" in bob.inner_text(".flashes")
    screenshot(bob, "workflow-05-removal-undone")
    bob.click('nav.tabs a[data-tab="new"]')
    assert bob.locator("table.inbox tbody tr").count() == 3
    # keyboard triage: j/j/Enter opens the second line, j goes to the next document, u back
    second = bob.locator("table.inbox tbody tr").nth(1).get_attribute("data-document")
    third = bob.locator("table.inbox tbody tr").nth(2).get_attribute("data-document")
    bob.keyboard.press("j")
    bob.keyboard.press("j")
    bob.keyboard.press("Enter")
    bob.wait_for_url(f"{base}/inbox/{second}")
    bob.keyboard.press("j")
    bob.wait_for_url(f"{base}/inbox/{third}")
    bob.keyboard.press("u")
    bob.wait_for_url(lambda url: url.startswith(f"{base}/inbox/?"))


def test_secretary_sends_on_behalf_and_an_error_keeps_the_attachment(office, live_server,
                                                                     browser, tmp_path):
    base = live_server(office.app)
    sophie = _session(browser, base, "sophie")
    sophie.goto(f"{base}/send/compose?patient={office.patient_id}")
    sophie.select_option("#send_as", str(office.alice))
    sophie.fill("#recipients", f"inconnu.PERSONNE@{DOMAIN}")
    sophie.fill("#subject", "Avis cardiologique")
    sophie.fill("#body", "Chère consœur,\nvoici l'ECG de contrôle.\n")
    attachment = tmp_path / "ecg.pdf"
    attachment.write_bytes(PDF_1)
    sophie.set_input_files("#upload", str(attachment))
    sophie.click("#send-button")
    sophie.wait_for_selector("#form-error")
    assert "ne connaît pas ces destinataires" in sophie.inner_text("#form-error")
    assert sophie.is_checked('#kept-attachments input[name="kept"][value="ecg.pdf"]')
    assert sophie.input_value("#subject") == "Avis cardiologique"
    assert sophie.input_value("#send_as") == str(office.alice)
    screenshot(sophie, "workflow-06-send-error-keeps-attachment")
    sophie.fill("#recipients", f"{BOB}@{DOMAIN}")
    sophie.click("#send-button")
    sophie.wait_for_url(f"{base}/send/sent")
    row = sophie.inner_text("table.sent tbody tr")
    assert "Sophie au nom de Dr Martin" in row and "ecg.pdf" in row
    screenshot(sophie, "workflow-07-sent-on-behalf")
    assert len(office.delivered()) == 3 + 1  # three lab reports were waiting in his Maildir


_WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
                 && !e.closest('main'))
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
              + (e.className && typeof e.className === 'string' ? '.' + e.className : '')
              + ' ' + Math.round(e.getBoundingClientRect().right))
    .slice(0, 10)"""


def _open_first_document(page) -> None:
    """Open the inbox's first document and wait until its page and style sheets have loaded
    (a click only starts the navigation: checks made before would read the inbox page)."""
    page.click("table.inbox tbody tr:first-child a")
    page.wait_for_url(lambda url: "/inbox/" in url and not url.rstrip("/").endswith("/inbox"))
    page.wait_for_load_state("load")


def _assert_fits_the_phone(page) -> None:
    """The page itself never scrolls sideways on a phone (what is wider scrolls inside main).

    Measured once the page and its style sheets have loaded; on failure the message names the
    elements outside main that stick out, so a regression says where it is."""
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (width, page.url, page.evaluate(_WIDER_THAN_THE_SCREEN))


def test_phone_layout_fits_and_print_has_no_navigation(office, live_server, browser):
    office.world.collect()
    base = live_server(office.app)
    phone = _session(browser, base, "bob", viewport=PHONE)
    phone.goto(f"{base}/inbox/")
    _assert_fits_the_phone(phone)
    assert not phone.locator("nav.menu").is_visible()
    header = phone.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] < 160
    screenshot(phone, "workflow-08-phone-inbox", full_page=False)
    phone.click("label.menu-toggle")
    assert phone.locator("nav.menu").is_visible()
    screenshot(phone, "workflow-09-phone-menu-open", full_page=False)
    phone.click("label.menu-toggle")
    _open_first_document(phone)
    _assert_fits_the_phone(phone)
    screenshot(phone, "workflow-10-phone-results")

    desk = _session(browser, base, "bob")
    desk.goto(f"{base}/inbox/")
    _open_first_document(desk)
    desk.emulate_media(media="print")
    for hidden in ("header.topbar", "footer.footer", "#reply-actions", "#remove-button"):
        expect(desk.locator(hidden).first).to_be_hidden()
    for shown in ("#results", "h1", "pre.document-body"):
        expect(desk.locator(shown).first).to_be_visible()
    screenshot(desk, "workflow-11-print-layout")
