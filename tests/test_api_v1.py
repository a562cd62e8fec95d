"""The JSON API: every endpoint for the owner, a delegate, another user (404) and an admin;
scopes (403), problem+json, CSRF for sessions only, pagination and filters."""

from __future__ import annotations

import pytest
from api_helpers import PASSWORD, api_site
from mailworld import PDF_1
from web_helpers import csrf_token, login

from medshake_bridge.db import db
from medshake_bridge.models import InboxDocument


@pytest.fixture
def site(world):
    return api_site(world)


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["fix"]
    return body


def test_health_needs_nothing_and_says_only_up(site):
    response = site.app.test_client().get("/api/v1/health")
    assert response.status_code == 200 and response.get_json() == {"status": "up"}


def test_me_for_a_token_and_for_a_delegate(site):
    me = site.get("/api/v1/me", "sophie").get_json()
    assert me["login"] == "sophie" and me["authenticated_by"] == "token"
    assert {person["login"] for person in me["mail_of"]} == {"sophie", "bob"}
    assert "admin" not in me["scopes"]


def test_inbox_lists_with_identity_exam_date_sender_flags_and_owner(site):
    page = site.get("/api/v1/inbox").get_json()
    assert page["next_cursor"] is None and len(page["items"]) == 1
    item = page["items"][0]
    assert item["patient"] == {"last_name": "DUPONT", "first_name": "Jeanne",
                               "birth_date": "1961-03-12"}
    assert item["exam_date"] == "2026-11-27" and item["abnormal"] is True
    assert "laboratoire" in item["sender"] and item["read"] is False
    assert item["owner"]["login"] == "bob" and item["delegated"] is False
    assert item["attachment_count"] == 1 and item["received_at"].endswith("Z")
    delegated = site.get("/api/v1/inbox", "sophie").get_json()["items"][0]
    assert delegated["delegated"] is True and delegated["owner"]["login"] == "bob"
    assert site.get("/api/v1/inbox", "carol").get_json()["items"] == []
    assert len(site.get("/api/v1/inbox", "ada").get_json()["items"]) == 1


def test_inbox_filters(site):
    def ids(query: str) -> list[int]:
        return [item["id"] for item in site.get(f"/api/v1/inbox?{query}").get_json()["items"]]

    one = [site.document_id]
    assert ids("patient=dupont") == one and ids("patient=martin") == []
    assert ids("sender=LABO") == one and ids("sender=zzz") == []
    assert ids("text=h%C3%A9moglobine") == one and ids("text=absent") == []
    assert ids("received_from=2000-01-01") == one and ids("received_to=2000-01-01") == []
    assert ids("unread=true") == one and ids("unread=false") == []
    assert ids("state=filed") == [] and ids(f"owner={site.ids['bob']}") == one
    assert site.get(f"/api/v1/inbox?owner={site.ids['bob']}", "carol").get_json()["items"] == []
    body = _problem(site.get("/api/v1/inbox?state=lost&limit=0"), 422)
    assert {error["field"] for error in body["errors"]} == {"state", "limit"}
    assert _problem(site.get("/api/v1/inbox?cursor=garbage"), 422)["errors"][0]["field"] == "cursor"


def test_cursor_pagination_walks_every_document_once(site):
    world = site.world
    for _ in range(4):
        world.deliver(world.mail())
    world.collect()
    seen, cursor = [], None
    while True:
        url = "/api/v1/inbox?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = site.get(url).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and len(set(seen)) == 5


def test_unread_count_per_owner_for_a_delegate(site):
    counts = site.get("/api/v1/inbox/unread-count", "sophie").get_json()
    assert counts["total"] == 1
    assert {item["owner"]["login"]: item["unread"] for item in counts["per_owner"]} == {
        "bob": 1, "sophie": 0}
    assert site.get("/api/v1/inbox/unread-count", "carol").get_json()["total"] == 0


def test_document_with_header_and_typed_results_marks_read(site):
    url = f"/api/v1/documents/{site.document_id}"
    document = site.get(url, "sophie").get_json()
    assert document["header"]["nir"].startswith("2610369123456")
    assert document["header"]["file_number"] == "DOS-2026-001"
    hb = document["results"][0]
    assert (hb["code"], hb["label"], hb["value"], hb["numeric_value"], hb["unit"],
            hb["normal_low"], hb["normal_high"], hb["flag"], hb["abnormal"]) == (
        "HB", "Hémoglobine", "10.2", 10.2, "g/dl", "12", "16", "L", True)
    assert document["attachments"][0]["name"] == "compte-rendu.pdf"
    # read for Sophie, who opened it; still unread for Bob (each person's own state)
    assert site.get("/api/v1/inbox/unread-count", "sophie").get_json()["total"] == 0
    assert site.get("/api/v1/inbox/unread-count").get_json()["total"] == 1
    download = site.get(document["attachments"][0]["link"])
    assert download.status_code == 200 and download.data == PDF_1
    assert "attachment" in download.headers["Content-Disposition"]


def test_another_users_objects_answer_404_everywhere(site):
    doc = site.document_id
    for url in (f"/api/v1/documents/{doc}", f"/api/v1/documents/{doc}/attachments/0",
                "/api/v1/documents/999999", "/api/v1/sent/1"):
        _problem(site.get(url, "carol"), 404)
    _problem(site.post(f"/api/v1/documents/{doc}/remove", "carol"), 404)
    _problem(site.get(f"/api/v1/documents/{doc}/attachments/7"), 404)
    with site.app.app_context():
        assert db.session.get(InboxDocument, doc).state == "new"


def test_scopes_are_enforced_with_403(site):
    reader = site.token("bob", ["inbox:read"])
    writer = site.token("bob", ["inbox:write"])
    client = site.app.test_client()
    doc = site.document_id

    def call(method, url, token, **kwargs):
        return client.open(url, method=method, headers={"Authorization": f"Bearer {token}"},
                           **kwargs)

    body = _problem(call("POST", f"/api/v1/documents/{doc}/remove", reader), 403)
    assert "inbox:write" in body["detail"]
    _problem(call("POST", "/api/v1/messages", reader, json={}), 403)
    _problem(call("GET", "/api/v1/inbox", writer), 403)
    _problem(call("GET", f"/api/v1/documents/{doc}", writer), 403)
    removed = call("POST", f"/api/v1/documents/{doc}/remove", writer)
    assert removed.status_code == 200 and removed.get_json()["state"] == "removed"
    again = call("POST", f"/api/v1/documents/{doc}/remove", writer)
    assert again.status_code == 200 and again.get_json()["state"] == "removed"


def test_admin_power_needs_the_admin_scope(site):
    limited = site.token("ada", ["inbox:read"])
    client = site.app.test_client()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {limited}"}).get_json()
    assert [person["login"] for person in me["mail_of"]] == ["ada"]
    items = client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {limited}"})
    assert items.get_json()["items"] == []
    assert len(site.get("/api/v1/inbox", "ada").get_json()["items"]) == 1


def test_session_works_and_needs_csrf_for_writes_token_does_not(site):
    client = site.app.test_client()
    login(client, "bob", PASSWORD)
    assert client.get("/api/v1/me").get_json()["authenticated_by"] == "session"
    url = f"/api/v1/documents/{site.document_id}/remove"
    refused = _problem(client.post(url), 400)
    assert "jeton CSRF" in refused["detail"] and "X-CSRFToken" in refused["fix"]
    assert "CSRF token is missing" not in refused["detail"]  # Flask-WTF's English
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).state == "new"
    token = csrf_token(client, "/inbox/")
    assert client.post(url, headers={"X-CSRFToken": token}).status_code == 200
    assert site.post(url).status_code == 200  # a token needs no CSRF


def test_unknown_endpoint_is_a_problem_not_a_page(site):
    _problem(site.get("/api/v1/nothing-here"), 404)
    _problem(site.app.test_client().get("/api/v1/nothing-here"), 401)


def test_rate_limit_answers_429_with_retry_after(site):
    site.app.config["MEDSHAKE_BRIDGE_API_RATE_LIMIT"] = "3/minute"
    token = site.token("carol")
    client = site.app.test_client()
    answers = [client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
               for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    _problem(answers[-1], 429)
    assert int(answers[-1].headers["Retry-After"]) >= 1


@pytest.fixture
def patient(site):
    import datetime as dt

    from medshake_bridge.models.patients import Patient

    with site.app.app_context():
        row = Patient(last_name="DUPONT", first_name="Jeanne", birth_date=dt.date(1961, 3, 12))
        db.session.add(row)
        db.session.commit()
        return f"bridge:{row.id}"


def test_file_once_by_owner_or_delegate_never_by_another(site, patient):
    url = f"/api/v1/documents/{site.document_id}/file"
    _problem(site.post(url, "carol", json={"patient": patient}), 404)
    _problem(site.post(url, "sophie", json={"patient": "bridge:999"}), 422)
    _problem(site.post(url, "sophie", json={"patient": "elsewhere:1"}), 422)
    filed = site.post(url, "sophie", json={"patient": patient})
    assert filed.status_code == 200, filed.get_data(as_text=True)
    assert filed.get_json()["state"] == "filed"
    assert filed.get_json()["filed"]["patient"] == patient
    assert filed.get_json()["filed"]["name"].startswith("DUPONT Jeanne")
    again = site.post(url, "bob", json={"patient": patient})
    assert again.status_code == 200 and again.get_json()["state"] == "filed"
    assert [item["id"] for item in site.get("/api/v1/inbox?state=filed").get_json()["items"]] \
        == [site.document_id]


def test_patients_search_and_lab_history(site, patient):
    found = site.get("/api/v1/patients?q=dupont").get_json()["items"]
    assert [item["ref"] for item in found] == [patient]
    assert site.get("/api/v1/patients?q=12/03/1961").get_json()["items"][0]["ref"] == patient
    assert site.get("/api/v1/patients?q=nobody").get_json()["items"] == []
    _problem(site.get("/api/v1/patients"), 422)
    reader = site.token("bob", ["inbox:read"])
    _problem(site.app.test_client().get("/api/v1/patients?q=dupont",
                                        headers={"Authorization": f"Bearer {reader}"}), 403)
    world = site.world
    world.deliver(world.mail())
    world.collect()
    for document in world.documents():
        site.post(f"/api/v1/documents/{document.id}/file", json={"patient": patient})
    history = site.get(f"/api/v1/patients/{patient}/lab-results?code=hb").get_json()
    assert history["patient"] == patient and len(history["points"]) == 2
    point = history["points"][0]
    assert (point["code"], point["value"], point["unit"], point["flag"], point["date"]) == (
        "HB", "10.2", "g/dl", "L", "2026-11-27")
    # Carol may read none of those documents: an empty history, not Bob's results
    assert site.get(f"/api/v1/patients/{patient}/lab-results?code=HB",
                    "carol").get_json()["points"] == []
    _problem(site.get("/api/v1/patients/bridge:999/lab-results?code=HB"), 404)


def test_under_a_prefix_the_api_and_its_description_follow(make_app):
    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_URL_PREFIX="/bridge")
    migrate.upgrade(app)
    client = app.test_client()
    assert client.get("/bridge/api/v1/health").get_json() == {"status": "up"}
    spec = client.get("/bridge/api/v1/openapi.json").get_json()
    assert spec["servers"][0]["url"] == "http://localhost/bridge/api/v1"
    assert client.get("/api/v1/health").status_code == 404


@pytest.mark.parametrize(("who", "expected"), [
    ("bob", 200), ("sophie", 200), ("carol", 404), ("ada", 200)])
def test_every_document_endpoint_by_role(site, who, expected):
    doc = site.document_id
    reads = [f"/api/v1/documents/{doc}", f"/api/v1/documents/{doc}/attachments/0"]
    for url in reads:
        response = site.get(url, who)
        assert response.status_code == expected, (url, who)
    listed = [item["id"] for item in site.get("/api/v1/inbox", who).get_json()["items"]]
    assert (doc in listed) == (expected == 200)
    removed = site.post(f"/api/v1/documents/{doc}/remove", who)
    assert removed.status_code == expected
    with site.app.app_context():
        state = db.session.get(InboxDocument, doc).state
    assert state == ("removed" if expected == 200 else "new")
