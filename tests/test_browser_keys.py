"""Issue 7 "done when", in a real browser: an admin installs this year's keys and next year's
``.aes`` key, opens it with the long code, the expiry warnings disappear, and Apicrypt v1 mail
goes round through the sandbox relay with the uploaded keys (this year's and next year's).

Screenshots of the keys page go to ``test-artifacts/screenshots/keys-*.png``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.browser import screenshot
from test_browser_admin import _log_in, _watch_csp
from web_helpers import make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.backends import backend_for, make_runner
from medshake_bridge.db import db
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, create_network, make_aes_key, reencrypt

ALICE, BOB = "alice.MARTIN", "bob.DURAND"
LETTER = "Cher confrère,\nrésultats de Mme Test ci-joints.\n****FIN****\n****FINFICHIER****\n"

pytestmark = pytest.mark.real_component("chromium")


def _round_trip(app, net, bob_id: int, year: int) -> str:
    """Alice encrypts with her own key, the relay re-encrypts, Bob's bridge settings decrypt."""
    with app.app_context():
        state = bridge_state(app)
        alice = dict(state.settings.values_for_user(None))
        alice.update(apicryptUtilisateur=ALICE,
                     apicryptCheminVersClefs=str(net.keys_dir(ALICE)))
        armour = backend_for(state, alice).encrypt_body(LETTER, [BOB]).armour
        assert f"\nKey-Year: {year - 1900}\n".encode() in armour
        for_bob = reencrypt(net.network_dir, armour)[BOB]
        bob = state.settings.values_for_user(bob_id)
        clear = backend_for(state, bob).decrypt_body(for_bob)
        assert make_runner(state, bob).passthrough_env  # sandbox switches reach the programs
        db.session.remove()
    return clear.decode("latin-1")


def test_admin_renews_keys_in_the_browser_and_mail_still_works(
        make_app, live_server, page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    net = create_network(tmp_path / "sandbox", [ALICE, BOB], year=2026)
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_TODAY="2026-12-05")
    migrate.upgrade(app)
    people = make_people(app)
    site, alice_keys = tmp_path / "site-keys", tmp_path / "alice-keys"
    site.mkdir()
    alice_keys.mkdir()
    with app.app_context():
        store = bridge_state(app).settings
        store.set("apicryptCheminVersClefs", str(site))
        store.set("apicryptCheminVersBinaires", str(net.bin_dir))
        store.set("apicryptUtilisateur", BOB, level="user", user_id=people.bob)
        store.set("apicryptCheminVersClefs", str(alice_keys), level="user", user_id=people.alice)
        db.session.remove()
    # What APICEM sent: this year's key files, and next year's key encrypted with a long code.
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    for name in (f"{BOB}.126", "Master.126"):
        shutil.copy(net.keys_dir(BOB) / "Clefs" / name, delivery / name)
    aes, code = make_aes_key(BOB, tmp_path / "letter", 2027)

    base = live_server(app)
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    problems = _watch_csp(page)
    _log_in(page, base, "admin")
    page.click("nav.menu >> text=Clefs Apicrypt")
    assert page.url == f"{base}/admin/keys/general/"
    warnings = page.inner_text("#expiry")
    assert "La clef 2026 de bob.DURAND (bob.DURAND.126) manque" in warnings
    assert "La clef 2027 de bob.DURAND (bob.DURAND.127) n'est pas encore installée" in warnings
    assert "alice" in page.inner_text("nav.tabs")  # a tab for Alice's own folder
    screenshot(page, "keys-01-empty-folder-with-warnings")

    # this year's keys through the file input; the upload script sends them (progress bar)
    page.set_input_files("#key-file", [str(delivery / f"{BOB}.126"),
                                       str(delivery / "Master.126")])
    with page.expect_request(lambda r: r.method == "POST"
                             and r.headers.get("x-requested-with") == "XMLHttpRequest"):
        page.click("#upload button.primary")
    page.wait_for_url(f"{base}/admin/keys/general/")
    page.wait_for_selector(".flash-success")
    assert "bob.DURAND.126 a été ajouté" in page.inner_text(".flashes")
    assert "bob.DURAND.126" not in page.inner_text("#expiry")

    # next year's .aes key dropped on the drop zone
    page.eval_on_selector("#drop-zone", """(zone, data) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([data.text], data.name));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true,
                                                  cancelable: true}));
    }""", {"text": aes.read_text("ascii"), "name": aes.name})
    assert aes.name in page.inner_text("#upload-status")
    page.click("#upload button.primary")
    page.wait_for_selector(f"tr[data-name='{aes.name}']")
    assert "ouvrez-la avec le code long" in page.inner_text("#expiry")
    screenshot(page, "keys-02-this-years-keys-and-next-years-aes")

    # a wrong long code first: explained, nothing changed
    page.click(f"tr[data-name='{aes.name}'] >> text=Déchiffrer avec le code long")
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    page.fill("#code", wrong)
    page.click("#decrypt-form button.primary")
    assert "le code long est très probablement faux" in page.inner_text("#decrypt-error")
    assert wrong not in page.content()
    assert (site / "Clefs" / aes.name).exists()
    screenshot(page, "keys-03-wrong-long-code")
    page.fill("#code", code)
    page.click("#decrypt-form button.primary")
    page.wait_for_url(f"{base}/admin/keys/general/")
    assert "bob.DURAND.127.aes a été ouvert" in page.inner_text(".flashes")
    assert page.locator("#no-expiry-warning").count() == 1  # the warnings are gone
    assert page.locator(f"tr[data-name='{aes.name}']").count() == 0
    assert page.locator("tr[data-name='bob.DURAND.127']").count() == 1
    screenshot(page, "keys-04-decrypted-no-warning")

    # deleting this year's key asks twice; cancelled
    page.click("tr[data-name='bob.DURAND.126'] >> text=Supprimer…")
    page.click("#confirm-first")
    assert page.locator("#confirm-second").count() == 1
    screenshot(page, "keys-05-second-confirmation-for-this-years-key")
    page.click("#confirm-delete >> text=Annuler")
    assert (site / "Clefs" / f"{BOB}.126").exists()

    page.click("nav.tabs >> text=Dr Alice")
    assert str(alice_keys / "Clefs") in page.inner_text("#folder")
    screenshot(page, "keys-06-user-folder-tab")
    assert problems == []

    # the v1 round trip with the uploaded keys: this year's, then next year's opened key
    assert "résultats de Mme Test" in _round_trip(app, net, people.bob, 2026)
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2027")
    net.add_user(ALICE, 2027)
    shutil.copy(site / "Clefs" / f"{BOB}.127", net.keys_dir(BOB) / "Clefs" / f"{BOB}.127")
    assert "résultats de Mme Test" in _round_trip(app, net, people.bob, 2027)
