"""The inbox pages through the test client: list, view, attachments, filing, access rules."""

from __future__ import annotations

import pytest
from mailworld import PDF_1
from sqlalchemy import select
from web_helpers import login, post

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import FiledDocument
from medshake_bridge.models.settings import SettingValue
from medshake_bridge.users import create_user

PASSWORD = "password for tests"


@pytest.fixture
def site(world):
    world.deliver(world.mail(attachments=[("compte-rendu.pdf", PDF_1)]))
    world.collect()
    with world.app.app_context():
        create_user("carol", PASSWORD, role="practitioner")
        sophie = create_user("sophie", PASSWORD, role="secretary")
        bridge_state().settings.set("apicryptInboxMailForUserID", str(world.bob),
                                    level="user", user_id=sophie.id)
        world.document_id = db.session.scalars(select(InboxDocument.id)).one()
    return world


def _client(site, user: str):
    client = site.app.test_client()
    response = login(client, user, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_list_groups_by_day_and_shows_identity_and_counter(site):
    client = _client(site, "bob")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "DUPONT Jeanne" in page and "(12/03/1961)" in page
    assert "compte-rendu" not in page and ">1<" in page  # one attachment
    assert "Boîte de réception (1)" in page
    assert client.get("/inbox/unread.json").get_json() == {"unread": 1}


def test_view_shows_results_flagged_and_attachments_through_the_endpoint(site):
    client = _client(site, "bob")
    page = client.get(f"/inbox/{site.document_id}").get_data(as_text=True)
    assert "Hémoglobine" in page and 'class="abnormal result-down"' in page
    assert "hémoglobine à surveiller" in page
    assert client.get("/inbox/unread.json").get_json() == {"unread": 0}
    download = client.get(f"/inbox/{site.document_id}/attachments/0")
    assert download.data == PDF_1
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert "attachment" in download.headers["Content-Disposition"]
    inline = client.get(f"/inbox/{site.document_id}/attachments/0?inline=1")
    assert inline.headers["Content-Type"] == "application/pdf"
    assert "sandbox" in inline.headers["Content-Security-Policy"]
    assert client.get(f"/inbox/{site.document_id}/attachments/5").status_code == 404


def test_secretary_with_delegation_sees_it_other_practitioner_gets_404(site):
    sophie = _client(site, "sophie")
    assert "DUPONT Jeanne" in sophie.get("/inbox/").get_data(as_text=True)
    assert sophie.get(f"/inbox/{site.document_id}").status_code == 200
    carol = _client(site, "carol")
    assert "DUPONT" not in carol.get("/inbox/").get_data(as_text=True)
    for url in (f"/inbox/{site.document_id}", f"/inbox/{site.document_id}/attachments/0"):
        assert carol.get(url).status_code == 404
    refused = post(carol, f"/inbox/{site.document_id}/remove", page="/inbox/")
    assert refused.status_code == 404
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).state == "new"


def test_a_delegation_stored_at_the_default_level_gives_nobody_access(site):
    """``apicryptInboxMailForUserID`` is personal: a value at the default level (saved by an
    older version or by hand) must not let every user read that practitioner's mail."""
    with site.app.app_context():
        db.session.add(SettingValue(name="apicryptInboxMailForUserID", level="default",
                                    scope="", value=f"[{site.bob}]"))
        db.session.commit()
    carol = _client(site, "carol")
    assert "DUPONT" not in carol.get("/inbox/").get_data(as_text=True)
    assert carol.get(f"/inbox/{site.document_id}").status_code == 404


def test_create_patient_and_file_then_double_post_files_once(site):
    client = _client(site, "bob")
    url = f"/inbox/{site.document_id}/new-patient"
    first = post(client, url, page=f"/inbox/{site.document_id}")
    assert first.status_code == 302
    again = post(client, f"/inbox/{site.document_id}/file", {"patient": "bridge:1"},
                 page="/inbox/")
    assert again.status_code == 302
    with site.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        assert db.session.get(InboxDocument, site.document_id).state == "filed"
    assert "DUPONT" in client.get("/inbox/?state=filed").get_data(as_text=True)


def test_post_without_csrf_token_is_refused(site):
    client = _client(site, "bob")
    response = client.post(f"/inbox/{site.document_id}/remove")
    assert response.status_code == 400
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).state == "new"


def test_quarantine_page_is_for_admins_and_retries(site, monkeypatch):
    with site.app.app_context():
        create_user("root", PASSWORD, role="admin")
    broken = site.mail().replace(b"MEDSHAKE", b"MEDSHAKF", 1)
    site.deliver(broken)
    admin = _client(site, "root")
    empty = admin.get("/admin/quarantine/").get_data(as_text=True)
    assert "Aucun message en attente." in empty and "<tr>" not in empty.split("<tbody>")[1]
    for _ in range(3):
        site.collect()
    bob = _client(site, "bob")
    assert bob.get("/admin/quarantine/").status_code == 404
    [message] = [m for m in site.messages() if m.state == "quarantined"]
    page = admin.get("/admin/quarantine/").get_data(as_text=True)
    table = page.split("<tbody>")[1]
    assert table.count("<tr>") == 1 and f"<td>{message.id}</td>" in table
    assert 'class="badge badge-alert"' in table and "<td>3</td>" in table
    raw = admin.get(f"/admin/quarantine/{message.id}/raw")
    assert raw.status_code == 200
    with open(message.raw_path, "rb") as stored:
        assert raw.data == stored.read()
    assert raw.data.replace(b"\r\n", b"\n") == broken.replace(b"\r\n", b"\n")
    assert raw.headers["Cache-Control"] == "private, no-store"
    retried = post(admin, f"/admin/quarantine/{message.id}/retry", page="/admin/quarantine/")
    assert retried.status_code == 302
    # the mail is still damaged: the retry fails again, says so, and the message stays here
    assert [(m.state, m.attempts) for m in site.messages() if m.id == message.id] == [
        ("failed", 1)]
    after = admin.get("/admin/quarantine/").get_data(as_text=True)
    assert "a de nouveau échoué" in after and f"<td>{message.id}</td>" in after
    assert len(site.documents()) == 1  # only the site's own document
