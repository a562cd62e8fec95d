"""examples/portal: a clinic portal with its own users, database, login and layout embeds the
bridge under /mail with single sign-on; the portal's login, session and tables are untouched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from sqlalchemy import select

from medshake_bridge import migrate
from medshake_bridge.db import db as bridge_db
from medshake_bridge.models import User
from medshake_bridge.models.audit import AuditEvent

PORTAL_ROOT = Path(__file__).resolve().parents[1] / "examples" / "portal"
PORTAL_PASSWORD = "portal-password"


@pytest.fixture
def portal(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PORTAL_ROOT))
    for name in [n for n in sys.modules if n.startswith("clinic_portal")]:
        monkeypatch.delitem(sys.modules, name)
    from clinic_portal import create_portal

    app = create_portal({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/portal.db",
        "MEDSHAKE_BRIDGE_SECRET_KEYS": [TEST_SECRET_KEY],
        "MEDSHAKE_BRIDGE_HOME": str(tmp_path / "bridge-home"),
        "MEDSHAKE_BRIDGE_STRICT_PLUGINS": True,
    })
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-portal"]).exit_code == 0
    migrate.upgrade(app)
    return app


def _portal_login(client, username="dr.martin"):
    response = client.post("/login", data={"username": username, "password": PORTAL_PASSWORD})
    assert response.status_code == 302


def _csrf(client, path="/mail/"):
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_bridge_shares_the_portals_database_but_not_its_tables(portal):
    from clinic_portal.models import db as portal_db

    assert portal.extensions["sqlalchemy"] is portal_db
    with portal.app_context():
        names = set(portal_db.inspect(portal_db.engine).get_table_names()) if hasattr(
            portal_db, "inspect") else set()
        from sqlalchemy import inspect

        names = set(inspect(portal_db.engine).get_table_names())
    assert {"staff", "patients", "patient_documents", "bridge_users"} <= names
    assert not [t for t in portal_db.metadata.tables if t.startswith("bridge_")]


def test_a_visitor_without_portal_login_goes_to_the_portals_login_page(portal):
    response = portal.test_client().get("/mail/inbox/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/mail/inbox/"


def test_single_sign_on_provisions_the_bridge_user_once(portal):
    client = portal.test_client()
    _portal_login(client)
    for _ in range(2):
        page = client.get("/mail/inbox/")
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Clinique du Parc" in html and 'id="portal-user">Dr Alice Martin' in html
    assert "Boîte de réception" in html  # the bridge's page inside the portal's layout
    with portal.app_context():
        users = bridge_db.session.scalars(select(User)).all()
        assert [(u.login, u.role, u.host_identity, u.password_hash) for u in users] == [
            ("dr.martin", "practitioner", "portal:1", "")]
        provisioned = bridge_db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "user.provisioned")).all()
        assert len(provisioned) == 1
    # the provisioned user has no password: the bridge's own login page refuses it
    other = portal.test_client()
    response = other.post("/mail/login", data={"login": "dr.martin", "password": "",
                                               "csrf_token": _csrf(other, "/mail/login")})
    assert response.status_code == 401


def test_roles_come_from_the_portal(portal):
    client = portal.test_client()
    _portal_login(client, "s.leroy")
    assert client.get("/mail/inbox/").status_code == 200
    assert client.get("/mail/admin/users/").status_code == 404  # a secretary is no admin
    with portal.app_context():
        assert bridge_db.session.scalar(select(User.role)) == "secretary"


def test_bridge_logout_and_language_leave_the_portal_session_alone(portal):
    client = portal.test_client()
    _portal_login(client)
    client.get("/mail/")
    response = client.post("/mail/language", data={
        "lang": "en", "next": "/mail/inbox/", "csrf_token": _csrf(client)})
    assert response.headers["Location"] == "/mail/inbox/"
    response = client.post("/mail/logout", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and 'id="portal-home"' in home.get_data(as_text=True)
    with client.session_transaction() as session:
        assert session.get("_user_id") == "1"  # the portal's own login key, untouched


def test_headers_and_cookies_of_portal_pages_are_the_portals(portal):
    client = portal.test_client()
    _portal_login(client)
    bridge_page = client.get("/mail/inbox/")
    policy = bridge_page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "style-src 'self' 'nonce-" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in bridge_page.get_data(as_text=True)
    portal_page = client.get("/")
    assert "Content-Security-Policy" not in portal_page.headers
    assert portal.config["SESSION_COOKIE_NAME"] == "session"  # the portal's cookie name
    assert type(portal.session_interface).__name__ == "SecureCookieSessionInterface"


def _give_mail_to(app, login: str, tmp_path) -> None:
    """Set up ``login``'s Apicrypt mailbox (a sandbox Maildir) with one lab report for
    DUPONT Jeanne (born 12/03/1961, patient 1 of the portal) and collect it."""
    from mailbuild import HPRIM_LAB, sandbox_mail, seed_maildir

    from medshake_bridge import bridge_state
    from medshake_bridge.collect.pipeline import collect_all
    from medshake_bridge.sandbox import create_network

    sender, recipient = "alice.MARTIN", "bob.DURAND"
    net = create_network(tmp_path / "sandbox", [sender, recipient])
    maildir = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    raw = sandbox_mail(net, tmp_path / "sender-work", sender=sender, recipient=recipient,
                       text=HPRIM_LAB, subject="Bilan biologique")
    seed_maildir(maildir, raw, "1700000000.M1P1.portal")
    with app.app_context():
        user = bridge_db.session.scalars(select(User).where(User.login == login)).one()
        store = bridge_state().settings
        for name, value in {
            "apicryptAdresse": f"{recipient}@medical69.apicrypt.org",
            "apicryptUtilisateur": recipient, "apicryptCollector": "maildir",
            "apicryptMaildir": str(maildir),
            "apicryptCheminVersBinaires": str(net.bin_dir),
            "apicryptCheminVersClefs": str(net.keys_dir(recipient)),
        }.items():
            store.set(name, value, level="user", user_id=user.id)
        report = collect_all(bridge_state())
        assert [m.documents for m in report.mailboxes] == [1], report


def test_file_a_collected_document_into_a_portal_patient_with_one_login(portal, tmp_path):
    client = portal.test_client()
    _portal_login(client)
    assert client.get("/mail/inbox/").status_code == 200  # provisions dr.martin
    _give_mail_to(portal, "dr.martin", tmp_path)
    with portal.app_context():
        from medshake_bridge.models.mail import InboxDocument

        document_id = bridge_db.session.scalars(select(InboxDocument.id)).one()
    page = client.get(f"/mail/inbox/{document_id}").get_data(as_text=True)
    assert 'value="portal:1"' in page and "Dossiers du portail" in page
    for query in ("jeanne", "DUPONT jeanne", "02/01/1950"):
        found = client.get(f"/mail/patients/?q={query}").get_data(as_text=True)
        assert ('data-found="portal:1"' in found) != (query == "02/01/1950"), query
        assert ('data-found="portal:2"' in found) == (query == "02/01/1950"), query
    assert 'value="portal:2"' not in page  # DURAND Paul shares nothing with the report
    assert 'id="create-patient"' not in page  # the portal creates its patients itself
    for _ in range(2):  # a double submit files once
        response = client.post(f"/mail/inbox/{document_id}/file", data={
            "patient": "portal:1", "csrf_token": _csrf(client, f"/mail/inbox/{document_id}")})
        assert response.status_code == 302
    from clinic_portal.models import PatientDocument

    with portal.app_context():
        rows = bridge_db.session.scalars(select(PatientDocument)).all()
        assert [(r.patient_id, r.source_key, r.filed_by) for r in rows] == [
            (1, f"bridge-document:{document_id}", "dr.martin")]
    page = client.get(f"/mail/inbox/{document_id}").get_data(as_text=True)
    assert 'Classé dans le dossier de <a href="/patients/1">DUPONT Jeanne</a>' in page
    assert "Bilan biologique" in client.get("/patients/1").get_data(as_text=True)


def test_portal_walk_in_chromium(portal, tmp_path, page, live_server):
    """Log into the portal, open the bridge's inbox under /mail with no second login, file the
    collected document into the portal's patient (the portal's page then lists it), leave the
    bridge pages: still logged into the portal."""
    from support.browser import screenshot

    from medshake_bridge.i18n import LANGUAGE_COOKIE

    base = live_server(portal)
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "domain": "127.0.0.1",
                               "path": "/"}])
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "dr.martin")
    page.fill("input[name=password]", PORTAL_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click("text=Messagerie Apicrypt")
    page.wait_for_url(f"{base}/mail/inbox/")
    assert page.url == f"{base}/mail/inbox/" and "/login" not in page.url
    _give_mail_to(portal, "dr.martin", tmp_path)
    page.reload()
    page.click("text=DUPONT Jeanne")
    page.wait_for_selector("#candidates")
    assert page.is_checked('input[name="patient"][value="portal:1"]')
    screenshot(page, "embedding-portal-document")
    page.click("#candidates button[type=submit]")
    page.wait_for_url(f"{base}/mail/inbox/?state=new")
    page.goto(f"{base}/mail/inbox/?state=filed")
    page.click("text=DUPONT Jeanne")
    filed = page.locator("[data-filed-into='portal:1']")
    assert " ".join(filed.inner_text().split()) == \
        "Classé dans le dossier de DUPONT Jeanne (né(e) le 12/03/1961)"
    screenshot(page, "embedding-portal-filed")
    filed.locator("a").click()
    page.wait_for_url(f"{base}/patients/1")
    assert "Bilan biologique" in page.inner_text("#portal-documents")
    screenshot(page, "embedding-portal-patient")
    page.goto(f"{base}/mail/inbox/")
    page.click("#bridge-logout")
    page.goto(f"{base}/")
    assert page.inner_text("#portal-user") == "Dr Alice Martin"
    assert page.locator("#portal-home").count() == 1


def test_portal_and_bridge_flash_messages_stay_apart(portal):
    """The portal's flash survives a visit to bridge pages; the bridge's never shows on the
    portal's pages (each keeps its own session key)."""
    client = portal.test_client()
    _portal_login(client)  # the portal flashes its welcome (Flask's `_flashes`)
    with client.session_transaction() as session:
        assert [message for _, message in session["_flashes"]] == ["Bienvenue, Dr Alice Martin."]
    inbox = client.get("/mail/inbox/").get_data(as_text=True)
    assert "Bienvenue" not in inbox
    # a bridge action that flashes: collecting with no mailbox set
    response = client.post("/mail/inbox/collect", data={"csrf_token": _csrf(client)})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert [message for _, message in session["_flashes"]] == [
            "Bienvenue, Dr Alice Martin."]
        [(category, bridge_message)] = session["medshake_bridge_flashes"]
        assert category == "error" and "apicryptAdresse" in bridge_message
    home = client.get("/").get_data(as_text=True)
    assert '<p class="portal-flash">Bienvenue, Dr Alice Martin.</p>' in home
    assert "apicryptAdresse" not in home
    inbox = client.get("/mail/inbox/").get_data(as_text=True)
    assert 'class="flash flash-error"' in inbox and "apicryptAdresse" in inbox
    assert "Bienvenue" not in inbox
    with client.session_transaction() as session:  # each side consumed only its own
        assert "_flashes" not in session and "medshake_bridge_flashes" not in session
