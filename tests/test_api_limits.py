"""The API keeps the pages' limits (issue #17): a write's body is capped before anything reads
it (413 problem, nothing changed; the sending route takes up to the upload maximum), an
anonymous body is never read, and a session that must change its password gets nothing else
from the API either."""

from __future__ import annotations

import json

import pytest
from api_helpers import PASSWORD, api_site
from web_helpers import login

from medshake_bridge.db import db
from medshake_bridge.models import InboxDocument, User
from medshake_bridge.web.limits import DEFAULT_LIMITS

FORM_LIMIT = DEFAULT_LIMITS["MEDSHAKE_BRIDGE_MAX_FORM_BYTES"]


@pytest.fixture
def site(world):
    return api_site(world)


def _big_json(size: int) -> bytes:
    return json.dumps({"patient": "bridge:1", "padding": "x" * size}).encode()


def test_a_write_body_over_the_form_limit_is_refused_before_reading(site):
    url = f"/api/v1/documents/{site.document_id}/file"
    refused = site.post(url, data=_big_json(FORM_LIMIT + 1),
                        headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.headers["Content-Type"] == "application/problem+json"
    body = refused.get_json()
    assert "1024 Ko" in body["detail"] and "POST /messages" in body["fix"]
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).state == "new"
    # under the limit it is read (and refused for what it says, not for its size)
    read = site.post(url, data=_big_json(FORM_LIMIT // 2),
                     headers={"Content-Type": "application/json"})
    assert read.status_code == 422


def test_the_sending_route_takes_up_to_the_upload_maximum(site):
    answer = site.post("/api/v1/messages", data=_big_json(2 * FORM_LIMIT),
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.get_data(as_text=True)  # parsed: fields missing
    site.app.config["MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES"] = FORM_LIMIT  # the upload maximum caps it
    assert site.post("/api/v1/messages", data=_big_json(2 * FORM_LIMIT),
                     headers={"Content-Type": "application/json"}).status_code == 413


def test_an_anonymous_body_is_never_read(site):
    answer = site.app.test_client().post(
        f"/api/v1/documents/{site.document_id}/remove", data=b"x" * (4 * FORM_LIMIT),
        headers={"Content-Type": "application/json"})
    assert answer.status_code == 401


def test_every_write_documents_its_413(site):
    spec = site.app.test_client().get("/api/v1/openapi.json").get_json()
    posts = [operation for path in spec["paths"].values()
             for method, operation in path.items() if method == "post"]
    assert posts and all("413" in operation["responses"] for operation in posts)


def test_a_session_that_must_change_its_password_gets_nothing_else(site):
    client = site.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    assert client.get("/api/v1/inbox").status_code == 200
    with site.app.app_context():
        db.session.get(User, site.ids["bob"]).must_change_password = True
        db.session.commit()
    refused = client.get("/api/v1/inbox")
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "mot de passe" in refused.get_json()["detail"]
    assert client.get(f"/api/v1/documents/{site.document_id}").status_code == 403
