"""The sending pages through the Flask test client: compose (patient, reply, forward),
errors next to the fields, double click, the sent history, the address book, access."""

from __future__ import annotations

import io
import re

from mailworld import BOB, PDF_1
from sendworld import DOMAIN
from sqlalchemy import select
from web_helpers import csrf_token, events

from medshake_bridge.db import db
from medshake_bridge.models import Correspondent, SentMessage
from medshake_bridge.users import create_user

PASSWORD = "password for tests"
BOB_ADDRESS = f"{BOB}@{DOMAIN}"
_FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


def _login(client, login: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"login": login, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302


def _compose(client, query: str) -> tuple[str, str, str]:
    page = client.get(f"/send/compose?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, csrf_token(client, f"/send/compose?{query}"), _FORM_TOKEN.search(html).group(1)


def _sent(app) -> list[SentMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(SentMessage)))
        db.session.expunge_all()
        return rows


def test_compose_send_and_history(send_world):
    sw = send_world
    client = sw.app.test_client()
    _login(client, "alice")
    html, csrf, token = _compose(client, f"patient={sw.patient_id}")
    assert "DUPONT-ÉTIENNE" in html and 'value="Document concernant votre patient"' in html
    data = {"csrf_token": csrf, "token": token, "recipients": BOB_ADDRESS,
            "subject": "Avis cardiologique", "body": "Bonjour,\nvoici l'écho.\n",
            "upload": (io.BytesIO(PDF_1), "écho.pdf")}
    response = client.post(f"/send/compose?patient={sw.patient_id}", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 302 and response.location.endswith("/send/sent")
    # the double click: the same form again sends nothing more
    data["upload"] = (io.BytesIO(PDF_1), "écho.pdf")
    again = client.post(f"/send/compose?patient={sw.patient_id}", data=data,
                        content_type="multipart/form-data", follow_redirects=True)
    assert "déjà été envoyé" in again.get_data(as_text=True)
    assert len(sw.delivered()) == 1 and len(_sent(sw.app)) == 1
    assert sw.work_files() == []
    history = client.get("/send/sent").get_data(as_text=True)
    assert BOB_ADDRESS in history and "écho.pdf" in history and "envoyé" in history
    per_patient = client.get(f"/send/sent?patient={sw.patient_id}").get_data(as_text=True)
    assert "Avis cardiologique" in per_patient
    assert [event.outcome for event in events(sw.app, "mail.send")] == ["ok"]


def test_errors_are_shown_next_to_the_fields_and_nothing_is_sent(send_world):
    sw = send_world
    sw.configure(apicryptSendMaxAttachmentMo="1")
    client = sw.app.test_client()
    _login(client, "alice")
    _html, csrf, token = _compose(client, f"patient={sw.patient_id}")
    response = client.post(f"/send/compose?patient={sw.patient_id}", data={
        "csrf_token": csrf, "token": token, "recipients": "bob@gmail.com",
        "subject": "Mme Dupont-Étienne", "body": "x",
        "upload": (io.BytesIO(b"\0" * (1024 * 1024 + 10)), "gros.bin"),
    }, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="attachments-error"' in html and "gros.bin" in html
    # the upload is checked first; then the text fields
    response = client.post(f"/send/compose?patient={sw.patient_id}", data={
        "csrf_token": csrf, "token": token, "recipients": "bob@gmail.com",
        "subject": "Mme Dupont-Étienne", "body": "x"})
    html = response.get_data(as_text=True)
    assert 'id="recipients-error"' in html and "pas une adresse Apicrypt" in html
    assert 'id="subject-error"' in html and "nom de famille" in html
    assert 'value="Mme Dupont-Étienne"' in html  # what was typed is kept
    assert _sent(sw.app) == [] and sw.delivered() == [] and sw.work_files() == []


def test_failed_send_is_explained_and_kept_as_not_sent(send_world):
    sw = send_world
    sw.configure(apicryptPopPassword="wrong")
    client = sw.app.test_client()
    _login(client, "alice")
    _html, csrf, token = _compose(client, f"patient={sw.patient_id}")
    response = client.post(f"/send/compose?patient={sw.patient_id}", data={
        "csrf_token": csrf, "token": token, "recipients": BOB_ADDRESS, "subject": "Avis",
        "body": "texte"})
    assert response.status_code == 502
    assert "Rien n&#39;a été envoyé" in response.get_data(as_text=True)
    history = client.get("/send/sent").get_data(as_text=True)
    assert "non envoyé" in history


def test_reply_and_forward_from_an_inbox_document(send_world):
    sw = send_world
    sw.world.deliver(sw.world.mail(attachments=[("bilan.pdf", PDF_1)]))
    assert sw.world.collect().ok
    (document,) = sw.world.documents()
    client = sw.app.test_client()
    _login(client, "bob")
    view = client.get(f"/inbox/{document.id}").get_data(as_text=True)
    assert f"/send/compose?document={document.id}&amp;mode=reply" in view
    html, _csrf, _token = _compose(client, f"document={document.id}&mode=reply")
    assert "DUPONT" in html and "alice.MARTIN@medical69.apicrypt.org" in html
    html, _csrf, _token = _compose(client, f"document={document.id}&mode=forward")
    assert f'value="{document.id}:0"' in html and "bilan.pdf" in html
    # Alice may not reply to Bob's document nor take its attachment
    other = sw.app.test_client()
    _login(other, "alice")
    assert other.get(f"/send/compose?document={document.id}&mode=reply").status_code == 404


def test_history_shows_only_mail_the_user_may_read(send_world):
    sw = send_world
    sw.send()
    with sw.app.app_context():
        create_user("carol", PASSWORD, role="practitioner")
    client = sw.app.test_client()
    _login(client, "carol")
    assert "Avis cardiologique" not in client.get("/send/sent").get_data(as_text=True)
    _login(client := sw.app.test_client(), "alice")
    assert "Avis cardiologique" in client.get("/send/sent").get_data(as_text=True)


def test_address_book(send_world):
    sw = send_world
    client = sw.app.test_client()
    _login(client, "alice")
    csrf = csrf_token(client, "/send/correspondents")
    bad = client.post("/send/correspondents", data={"csrf_token": csrf, "name": "Dr X",
                                                    "address": "x@gmail.com"})
    assert bad.status_code == 400 and 'id="address-error"' in bad.get_data(as_text=True)
    good = client.post("/send/correspondents", data={"csrf_token": csrf, "name": "Dr Bob",
                                                     "address": BOB_ADDRESS},
                       follow_redirects=True)
    assert BOB_ADDRESS in good.get_data(as_text=True)
    with sw.app.app_context():
        entry = db.session.scalars(select(Correspondent)).one()
        assert entry.owner_user_id == sw.alice
        entry_id = entry.id
    html, _csrf, _token = _compose(client, f"patient={sw.patient_id}")
    assert f'name="correspondent" value="{BOB_ADDRESS}"' in html
    intruder = sw.app.test_client()
    _login(intruder, "bob")
    assert BOB_ADDRESS not in intruder.get("/send/correspondents").get_data(as_text=True)
    csrf = csrf_token(intruder, "/send/correspondents")
    assert intruder.post(f"/send/correspondents/{entry_id}/delete",
                         data={"csrf_token": csrf}).status_code == 404
    csrf = csrf_token(client, "/send/correspondents")
    client.post(f"/send/correspondents/{entry_id}/delete", data={"csrf_token": csrf})
    with sw.app.app_context():
        assert db.session.scalars(select(Correspondent)).all() == []


def test_pages_need_login_and_csrf(send_world):
    client = send_world.app.test_client()
    assert client.get("/send/compose").status_code == 302
    assert client.get("/send/sent").status_code == 302
    _login(client, "alice")
    response = client.post(f"/send/compose?patient={send_world.patient_id}",
                           data={"recipients": BOB_ADDRESS})
    assert response.status_code == 400 and send_world.delivered() == []
