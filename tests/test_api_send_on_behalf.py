"""POST /messages follows the compose page's rule for whose mailbox sends: a delegate names the
practitioner explicitly (``send_as``), never a mailbox that was not delegated; the history
(GET /sent), the sent record and the message.sent webhook say who acted for whom."""

from __future__ import annotations

import json

import pytest
from officeworld import make_office
from test_api_readstate_provenance import documented_webhook_data
from test_api_send import _letter
from web_helpers import events
from webhook_receiver import Receiver, free_port

from medshake_bridge.apiv1.tokens import create_token
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.webhooks.delivery import deliver_due
from medshake_bridge.webhooks.subscriptions import add_subscription


@pytest.fixture
def office(send_world):
    sw = make_office(send_world)
    tokens = {}
    with sw.app.app_context():
        for login in ("sophie", "alice", "paul"):
            user = db.session.scalar(db.select(User).where(User.login == login))
            tokens[login] = create_token(user, ["send", "inbox:read"]).text
    client = sw.app.test_client()

    def call(who: str, method: str, url: str, **kwargs):
        headers = {"Authorization": f"Bearer {tokens[who]}", **kwargs.pop("headers", {})}
        return client.open(url, method=method, headers=headers, **kwargs)

    sw.call = call
    return sw


def _problem_field(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    [error] = response.get_json()["errors"]
    return error


def test_a_delegate_names_the_mailbox_and_the_history_says_who_acted(office):
    sw = office
    receiver = Receiver(free_port()).start()
    try:
        with sw.app.app_context():
            add_subscription(receiver.url, ["message.sent"], secret="a-long-secret-for-tests")
        refused = sw.call("sophie", "POST", "/api/v1/messages", json=_letter(sw))
        assert "au nom de qui" in refused.get_json()["detail"]
        missing = _problem_field(refused, 422)
        assert missing["field"] == "send_as" and "Dr Martin" in missing["fix"]
        other = _problem_field(sw.call("sophie", "POST", "/api/v1/messages",
                                       json=_letter(sw, send_as=999)), 422)
        assert other["field"] == "send_as"
        assert sw.delivered() == []
        sent = sw.call("sophie", "POST", "/api/v1/messages",
                       json=_letter(sw, send_as=sw.alice), headers={"Idempotency-Key": "k1"})
        assert sent.status_code == 201, sent.get_data(as_text=True)
        item = sent.get_json()
        assert item["sender"]["login"] == "alice" and item["acted_by"]["login"] == "sophie"
        assert len(sw.delivered()) == 1
        # in Sophie's and in Dr Martin's history, as on the pages
        assert [i["id"] for i in sw.call("sophie", "GET", "/api/v1/sent").get_json()["items"]] \
            == [item["id"]]
        mine = sw.call("alice", "GET", f"/api/v1/sent/{item['id']}").get_json()
        assert mine["acted_by"]["login"] == "sophie"
        # Paul (no delegation, no mailbox) can neither send nor see it
        assert _problem_field(sw.call("paul", "POST", "/api/v1/messages",
                                      json=_letter(sw)), 422)["field"] == "send_as"
        assert sw.call("paul", "GET", f"/api/v1/sent/{item['id']}").status_code == 404
        [event] = events(sw.app, "mail.send")
        assert event.actor_login == "sophie" and "on behalf of alice" in event.detail
        with sw.app.app_context():
            assert deliver_due(timeout=5).delivered == 1
        data = json.loads(receiver.received[0].body)["data"]
        assert (data["user"], data["acted_by"]) == (sw.alice, sw.sophie)
        assert set(data) == documented_webhook_data("message.sent")
    finally:
        receiver.stop()


def test_someone_with_only_their_own_mailbox_need_not_say_it(office):
    sent = office.call("alice", "POST", "/api/v1/messages", json=_letter(office))
    assert sent.status_code == 201, sent.get_data(as_text=True)
    assert sent.get_json()["sender"]["login"] == "alice" and sent.get_json()["acted_by"] is None
