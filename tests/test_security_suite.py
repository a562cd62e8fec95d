"""The security suite: every route of the bridge, as every role, on another user's objects;
every POST without or with a wrong CSRF token; hostile ``next`` values on every redirect
parameter (issue #17, item 11). Routes are read from the app, so a new page is covered the day
it is added."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from web_helpers import PASSWORD, csrf_token, events, login, make_people

from medshake_bridge.access import PUBLIC, access_level
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, SettingValue, User
from medshake_bridge.models.mail import (
    NEW,
    PROCESSED,
    QUARANTINED,
    InboxDocument,
    Mailbox,
    ReceivedMessage,
)
from medshake_bridge.models.sending import Correspondent

HOSTILE_NEXT = [
    "//evil.example", "//evil.example/inbox/", "https://evil.example/", "http:evil.example",
    "/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/\r\n/evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", " //evil.example",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "///evil.example",
    "https:/evil.example", "/../..//evil.example", "\x00//evil.example", "//evil.example%2F..",
    "/login?next=//evil.example", "evil.example",
]


@dataclass
class Objects:
    alice_document: int
    alice_message: int
    quarantined: int
    alice_correspondent: int
    job_id: str


@pytest.fixture
def site(app, tmp_path):
    people = make_people(app)
    with app.app_context():
        mailbox = Mailbox(key="maildir:alice", collector="maildir")
        db.session.add(mailbox)
        db.session.flush()
        attachment = tmp_path / "att-1"
        attachment.write_bytes(b"%PDF-1.4 alice's result")
        raw = tmp_path / "raw.eml"
        raw.write_bytes(b"From: labo@medical69.apicrypt.org\r\n\r\nbody")
        message = ReceivedMessage(
            mailbox_id=mailbox.id, server_id="1", sha256="0" * 64, raw_path=str(raw),
            state=PROCESSED, from_address="labo@medical69.apicrypt.org", subject="Résultats",
            attachments_json=json.dumps([{"name": "cr.pdf", "original": "cr.pdf",
                                          "file": str(attachment), "size": 23,
                                          "content_type": "application/pdf", "from": "",
                                          "signature": "", "signer": ""}]))
        quarantined = ReceivedMessage(mailbox_id=mailbox.id, server_id="2", sha256="1" * 64,
                                      raw_path=str(raw), state=QUARANTINED)
        db.session.add_all([message, quarantined])
        db.session.flush()
        document = InboxDocument(message_id=message.id, owner_user_id=people.alice, state=NEW,
                                 body="NOM: DUPONT")
        correspondent = Correspondent(owner_user_id=people.alice, name="Dr X",
                                      address="x@medical69.apicrypt.org")
        db.session.add_all([document, correspondent])
        db.session.commit()
        from medshake_bridge.extension import bridge_state
        from medshake_bridge.scheduler.tasks import planned_tasks

        jobs = [task.job_id for task in planned_tasks(bridge_state())]
        objects = Objects(document.id, message.id, quarantined.id, correspondent.id, jobs[0])
    return people, objects


def _bridge_rules(app):
    with app.test_request_context():
        return [rule for rule in app.url_map.iter_rules()
                if access_level(rule.endpoint) is not None]


def _url(rule, objects: Objects, people) -> str:
    values = {"document_id": objects.alice_document, "index": 0,
              "message_id": objects.quarantined, "user_id": people.alice,
              "entry_id": objects.alice_correspondent, "scope": "general", "module": "base",
              "job_id": objects.job_id, "filename": "bridge.css", "rest": "nothing-here",
              "ref": "bridge:1", "token_id": 1, "webhook_id": 1, "n": 0,
              "subscription_id": 1, "event_id": 1, "delivery_id": 1}
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), url)
    return url


def _client(app, who: str | None):
    client = app.test_client()
    if who:
        assert login(client, who).status_code == 302
    return client


def _level(app, rule) -> str:
    with app.test_request_context():
        return access_level(rule.endpoint)


def test_every_page_needs_a_login_and_admin_pages_need_an_admin(app, site):
    people, objects = site
    anonymous, alice, sophie = (_client(app, who) for who in (None, "alice", "sophie"))
    admin = _client(app, "admin")
    checked = 0
    for rule in _bridge_rules(app):
        if "GET" not in rule.methods:
            continue
        url = _url(rule, objects, people)
        level = _level(app, rule)
        response = anonymous.get(url)
        assert response.status_code < 500, url
        if level == "api":  # machines get a problem+json 401, never the login page
            assert response.status_code == 401, url
            assert response.mimetype == "application/problem+json", url
        elif level != PUBLIC:
            assert response.status_code == 302, url
            assert response.location.startswith("/login"), url
        if level == "admin":
            for client in (alice, sophie):
                assert client.get(url).status_code == 404, url
            # each plugin's own static files; a keys folder not configured on this site
            if not rule.endpoint.endswith(".static") and "scope" not in rule.arguments:
                assert admin.get(url).status_code in (200, 302), url
        checked += 1
    assert checked > 20


def test_another_users_mail_is_invisible(app, site):
    people, objects = site
    alice, bob, sophie = (_client(app, who) for who in ("alice", "bob", "sophie"))
    admin = _client(app, "admin")
    document = objects.alice_document
    pages = [f"/inbox/{document}", f"/inbox/{document}/attachments/0",
             f"/inbox/{document}/attachments/0?inline=1",
             f"/send/compose?document={document}", f"/send/compose?document={document}"
             "&mode=forward"]
    for url in pages:
        for stranger in (bob, sophie):
            response = stranger.get(url)
            assert response.status_code == 404, (url, response.status_code)
            assert "DUPONT" not in response.get_data(as_text=True)
        assert alice.get(url).status_code == 200, url
    assert admin.get(f"/inbox/{document}").status_code == 200
    for stranger in (bob, sophie):
        listing = stranger.get("/inbox/").get_data(as_text=True)
        assert f"/inbox/{document}" not in listing
    denied = [event for event in events(app, "access.denied") if event.actor_login == "bob"]
    assert denied  # refusals are audited


def test_another_users_objects_cannot_be_changed(app, site):
    people, objects = site
    bob = _client(app, "bob")
    document = objects.alice_document
    for url in (f"/inbox/{document}/remove", f"/inbox/{document}/file",
                f"/inbox/{document}/new-patient",
                f"/send/correspondents/{objects.alice_correspondent}/delete"):
        token = csrf_token(bob, "/inbox/")
        for data in ({}, {"patient_id": "1"}):
            response = bob.post(url, data={"csrf_token": token, **data})
            assert response.status_code == 404, url
    with app.app_context():
        assert db.session.get(InboxDocument, document).state == NEW
        assert db.session.get(Correspondent, objects.alice_correspondent) is not None


def _state(app) -> tuple[int, int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(User)),
                db.session.scalar(select(func.count()).select_from(SettingValue)),
                db.session.scalar(select(func.count()).select_from(InboxDocument)))


def test_every_post_needs_the_csrf_token(app, site):
    people, objects = site
    admin = _client(app, "admin")
    before = _state(app)
    posts = [rule for rule in _bridge_rules(app) if "POST" in rule.methods]
    assert len(posts) > 15
    for rule in posts:
        url = _url(rule, objects, people)
        for data in ({}, {"csrf_token": "forged-token"},
                     {"csrf_token": csrf_token(_client(app, None))}):  # another session's
            response = admin.post(url, data={**data, "login": "x", "password": "y",
                                             "role": "admin"})
            assert response.status_code == 400, (url, data, response.status_code)
    assert _state(app) == before
    with app.app_context():
        failures = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "csrf.failed"))
    assert failures == 3 * len(posts)


def _same_site(location: str) -> bool:
    return (location.startswith("/") and not location.startswith("//")
            and not re.search(r"[\x00-\x20\\]", location))


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_hostile_next_values_never_leave_the_site(app, site, hostile):
    logged_in = _client(app, "alice")
    response = logged_in.get("/login", query_string={"next": hostile})
    assert response.status_code == 302 and _same_site(response.location), response.location

    fresh = app.test_client()
    token = csrf_token(fresh)
    response = fresh.post("/login", data={"login": "alice", "password": PASSWORD,
                                          "next": hostile, "csrf_token": token})
    assert response.status_code == 302 and _same_site(response.location), response.location

    token = csrf_token(logged_in, "/")
    response = logged_in.post("/language", data={"lang": "en", "next": hostile,
                                                  "csrf_token": token})
    assert response.status_code == 302 and _same_site(response.location), response.location

    page = app.test_client().get("/login", query_string={"next": hostile})
    assert page.status_code == 200
    for value in re.findall(r'name="next" value="([^"]*)"', page.get_data(as_text=True)):
        assert _same_site(html.unescape(value)), value  # every form sends back a local path


def test_an_unknown_page_is_404_not_500(app, site):
    admin = _client(app, "admin")
    for url in ("/inbox/abc", "/admin/users/-1", "/admin/keys/../../etc/passwd",
                "/bridge-static/../app.py", "/inbox/1/attachments/999"):
        assert admin.get(url).status_code in (404, 308), url


def test_logins_of_deactivated_users_stop_everything(app, site):
    people, _objects = site
    alice = _client(app, "alice")
    with app.app_context():
        db.session.get(User, people.alice).active = False
        db.session.commit()
    assert alice.get("/inbox/").status_code == 302
