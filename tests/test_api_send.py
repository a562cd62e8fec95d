"""POST /messages through the sandbox relay: sent once per Idempotency-Key, field errors as
422 problems, attachments inline or taken from a received document, GET /sent."""

from __future__ import annotations

import base64

import pytest
from mailworld import BOB
from sendworld import DOMAIN
from sqlalchemy import select

from medshake_bridge.apiv1.tokens import create_token
from medshake_bridge.db import db
from medshake_bridge.models import SentMessage, User


@pytest.fixture
def api(send_world):
    with send_world.app.app_context():
        alice = db.session.get(User, send_world.alice)
        token = create_token(alice, ["send", "inbox:read"]).text
    client = send_world.app.test_client()

    def call(method: str, url: str, **kwargs):
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return client.open(url, method=method, headers=headers, **kwargs)

    send_world.call = call
    return send_world


def _letter(world, **overrides) -> dict:
    body = {"recipients": [f"{BOB}@{DOMAIN}"], "patient": f"bridge:{world.patient_id}",
            "subject": "Avis cardiologique", "body": "Chère consœur, voici le compte rendu.",
            "attachments": [{"name": "ecg.pdf",
                             "content_base64": base64.b64encode(b"%PDF-1.4 ecg").decode()}]}
    body.update(overrides)
    return body


def test_send_once_per_idempotency_key(api):
    first = api.call("POST", "/api/v1/messages", json=_letter(api),
                     headers={"Idempotency-Key": "letter-42"})
    assert first.status_code == 201, first.get_data(as_text=True)
    sent = first.get_json()
    assert sent["state"] == "sent" and sent["replayed"] is False
    assert sent["attachments"] == ["ecg.pdf"] and sent["message_id"]
    again = api.call("POST", "/api/v1/messages", json=_letter(api),
                     headers={"Idempotency-Key": "letter-42"})
    assert again.status_code == 200 and again.get_json()["id"] == sent["id"]
    assert again.get_json()["replayed"] is True
    assert len(api.delivered()) == 1
    with api.app.app_context():
        assert len(list(db.session.scalars(select(SentMessage)))) == 1
    listing = api.call("GET", "/api/v1/sent").get_json()
    assert [item["id"] for item in listing["items"]] == [sent["id"]]
    assert api.call("GET", first.headers["Location"]).get_json()["subject"] == \
        "Avis cardiologique"
    assert api.work_files() == []


def test_refusals_name_the_field(api):
    identity = api.call("POST", "/api/v1/messages",
                        json=_letter(api, subject="DUPONT-ÉTIENNE Hélène"))
    assert identity.status_code == 422
    assert [error["field"] for error in identity.get_json()["errors"]] == ["subject"]
    unknown = api.call("POST", "/api/v1/messages", json=_letter(api, patient="bridge:999"))
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "patient"
    missing = api.call("POST", "/api/v1/messages", json={"subject": "x"})
    assert missing.status_code == 422
    assert {"recipients", "patient"} <= {e["field"] for e in missing.get_json()["errors"]}
    bad64 = api.call("POST", "/api/v1/messages", json=_letter(
        api, attachments=[{"name": "a.pdf", "content_base64": "***"}]))
    assert bad64.status_code == 422
    assert api.delivered() == []


def test_too_large_attachment_is_413(api):
    api.configure(apicryptSendMaxAttachmentMo="1")
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    response = api.call("POST", "/api/v1/messages", json=_letter(
        api, attachments=[{"name": "big.bin", "content_base64": big}]))
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert api.delivered() == []


def test_forward_an_attachment_of_a_received_document_only_if_readable(api):
    from mailworld import PDF_1

    world = api.world
    world.deliver(world.mail(attachments=[("cr.pdf", PDF_1)]))
    world.collect()
    doc = world.documents()[0].id
    before = len(api.delivered())
    # the document is Bob's: Alice may not forward it
    refused = api.call("POST", "/api/v1/messages", json=_letter(
        api, attachments=[{"name": "cr.pdf", "document": doc, "index": 0}]))
    assert refused.status_code == 404
    assert len(api.delivered()) == before


def test_another_users_sent_message_is_404(api):
    sent = api.call("POST", "/api/v1/messages", json=_letter(api)).get_json()
    from medshake_bridge.users import create_user

    with api.app.app_context():
        carol = create_user("carol", "password for tests", role="practitioner")
        token = create_token(carol, ["inbox:read"]).text
    client = api.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    missing = client.get(f"/api/v1/sent/{sent['id']}", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/sent", headers=headers).get_json()["items"] == []
    assert api.call("GET", f"/api/v1/sent/{sent['id']}").status_code == 200
