"""Sending errors in French with what to do; the form keeps its fields and attachments after
an error; reply/forward prefill subject and recipients; the history never shows a Message-ID."""

from __future__ import annotations

import io
import re

from mailworld import BOB, PDF_1
from sendworld import DOMAIN
from web_helpers import csrf_token

PASSWORD = "password for tests"
BOB_ADDRESS = f"{BOB}@{DOMAIN}"
UNKNOWN = f"inconnu.PERSONNE@{DOMAIN}"
_FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


def _login(client, login: str) -> None:
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"login": login, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302


def test_unknown_recipient_is_explained_in_french_and_the_attachment_is_kept(send_world):
    sw = send_world
    client = sw.app.test_client()
    _login(client, "alice")
    url = f"/send/compose?patient={sw.patient_id}"
    html = client.get(url).get_data(as_text=True)
    csrf, token = csrf_token(client, url), _FORM_TOKEN.search(html).group(1)
    data = {"csrf_token": csrf, "token": token, "recipients": UNKNOWN,
            "subject": "Avis cardiologique", "body": "Cher confrère,\nvoici l'ECG.\n",
            "upload": (io.BytesIO(PDF_1), "ecg.pdf")}
    failed = client.post(url, data=data, content_type="multipart/form-data")
    page = failed.get_data(as_text=True)
    assert failed.status_code == 502
    assert "ne connaît pas ces destinataires" in page and UNKNOWN in page
    assert "Que faire" in page and "refused" not in page and "SMTP server" not in page
    assert 'id="recipients-error"' in page
    assert 'value="Avis cardiologique"' in page and "voici l&#39;ECG." in page
    kept = page.split('id="kept-attachments"')[1].split("</fieldset>")[0]
    assert 'name="kept" value="ecg.pdf" checked' in kept
    assert sw.delivered() == []
    # the same form, corrected, sends the kept file without choosing it again
    sent = client.post(url, data={**{k: v for k, v in data.items() if k != "upload"},
                                  "recipients": BOB_ADDRESS, "kept": "ecg.pdf",
                                  "kept_offered": "ecg.pdf"})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert len(sw.delivered()) == 1
    history = client.get("/send/sent").get_data(as_text=True)
    assert "ecg.pdf" in history and BOB_ADDRESS in history and "envoyé" in history
    assert "@" + DOMAIN + ">" not in history and "Message-ID" not in history
    assert not list((sw.world.tmp).rglob("drafts/*/*/*/ecg.pdf"))  # draft removed once sent


def test_a_failed_send_in_the_history_is_explained_in_french(send_world):
    sw = send_world
    sw.configure(apicryptPopPassword="mauvais-mot-de-passe-smtp")
    client = sw.app.test_client()
    _login(client, "alice")
    url = f"/send/compose?patient={sw.patient_id}"
    html = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_token(client, url),
                           "token": _FORM_TOKEN.search(html).group(1),
                           "recipients": BOB_ADDRESS, "subject": "Avis", "body": "texte"})
    history = client.get("/send/sent").get_data(as_text=True)
    row = history.split("<tbody>")[1]
    assert "non envoyé" in row and "identifiant ou le mot de passe" in row
    assert "refused the login" not in row


def test_reply_and_forward_prefill_subject_and_recipients(send_world):
    sw = send_world
    sw.world.deliver(sw.world.mail(subject="Résultats du 27/11"))
    assert sw.world.collect().ok
    (document,) = sw.world.documents()
    client = sw.app.test_client()
    _login(client, "bob")
    with sw.app.app_context():
        from medshake_bridge import bridge_state

        store = bridge_state().settings
        for name, value in (("apicryptSmtpHost", "localhost"),):
            store.set(name, value, level="user", user_id=sw.world.bob)
    reply = client.get(f"/send/compose?document={document.id}&mode=reply").get_data(
        as_text=True)
    assert 'value="RE: Résultats du 27/11"' in reply
    assert 'value="alice.MARTIN@medical69.apicrypt.org"' in reply
    forward = client.get(f"/send/compose?document={document.id}&mode=forward").get_data(
        as_text=True)
    assert 'value="TR: Résultats du 27/11"' in forward and 'name="recipients" value=""' in forward
