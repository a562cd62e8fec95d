"""A secretary delegated by practitioners collects their mailboxes and sends in their name,
chosen explicitly; the history and the audit say who acted for whom; someone who cannot send
is told before typing."""

from __future__ import annotations

import re

import pytest
from mailworld import BOB
from officeworld import make_office
from sendworld import DOMAIN
from web_helpers import csrf_token, events

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models import User

PASSWORD = "password for tests"
BOB_ADDRESS = f"{BOB}@{DOMAIN}"
_FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


@pytest.fixture
def office(send_world):
    return make_office(send_world)


def _client(sw, login: str):
    client = sw.app.test_client()
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"login": login, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_secretary_collects_the_practitioners_mailbox(office):
    sw = office
    sw.world.deliver(sw.world.mail())
    sophie = _client(sw, "sophie")
    token = csrf_token(sophie, "/inbox/")
    page = sophie.post("/inbox/collect", data={"csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "Boîte de Dr Durand" in text and "1 nouveau" in text
    assert "apicryptAdresse" not in text
    assert len(sw.world.documents()) == 1
    [event] = events(sw.app, "inbox.collect")
    assert event.actor_login == "sophie" and "on behalf of" in event.detail
    assert "Dr Durand" in event.detail


def test_secretary_sends_on_behalf_chosen_explicitly_and_history_says_so(office):
    sw = office
    sophie = _client(sw, "sophie")
    url = f"/send/compose?patient={sw.patient_id}"
    html = sophie.get(url).get_data(as_text=True)
    assert 'id="send_as"' in html and "Envoyer au nom de" in html
    assert "selected" not in html.split('id="send_as"')[1].split("</select>")[0]
    csrf = csrf_token(sophie, url)
    token = _FORM_TOKEN.search(html).group(1)
    data = {"csrf_token": csrf, "token": token, "recipients": BOB_ADDRESS,
            "subject": "Avis cardiologique", "body": "Bonjour,\nvoici le compte rendu.\n"}
    refused = sophie.post(url, data=data)
    assert refused.status_code == 400 and 'id="send_as-error"' in refused.get_data(as_text=True)
    assert "Avis cardiologique" in refused.get_data(as_text=True)  # kept
    assert sw.delivered() == []
    # someone else's mailbox (not delegated) cannot be chosen by editing the form
    assert sophie.post(url, data={**data, "send_as": "999"}).status_code == 400
    sent = sophie.post(url, data={**data, "send_as": str(sw.alice)})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert len(sw.delivered()) == 1
    history = sophie.get("/send/sent").get_data(as_text=True)
    assert "Sophie au nom de Dr Martin" in history
    assert "&lt;" not in history.split("<table")[1] and "@medical69.apicrypt.org>" not in history
    alice = _client(sw, "alice")
    assert "Sophie au nom de Dr Martin" in alice.get("/send/sent").get_data(as_text=True)
    [event] = events(sw.app, "mail.send")
    assert event.actor_login == "sophie" and "on behalf of alice" in event.detail


def test_someone_who_cannot_send_is_told_before_typing(office):
    sw = office
    sw.world.deliver(sw.world.mail())
    sw.world.collect()
    [document] = sw.world.documents()
    with sw.app.app_context():
        bridge_state().settings.set("apicryptInboxMailForUserID", str(sw.world.bob),
                                    level="user", user_id=db.session.scalar(
                                        db.select(User.id).where(User.login == "paul")))
    paul = _client(sw, "paul")
    view = paul.get(f"/inbox/{document.id}").get_data(as_text=True)
    assert "Répondre" in view  # Bob's mailbox is set up: Paul may send in his name
    nobody = _client(sw, "sophie")
    with sw.app.app_context():
        bridge_state().settings.unset("apicryptInboxMailForUserID", level="user",
                                      user_id=sw.sophie)
    page = nobody.get(f"/send/compose?patient={sw.patient_id}").get_data(as_text=True)
    assert 'id="cannot-send"' in page and "<textarea" not in page
    assert "administrateur" in page
