"""Webhooks: written to the outbox with the event, delivered signed to a real local HTTP
server, retried while it is down and delivered once when it is back, kept when the process is
killed between the commit and the delivery, given up after 24 hours (page and doctor)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, login, post
from webhook_receiver import Receiver, free_port

from medshake_bridge.db import db
from medshake_bridge.models import WebhookDelivery
from medshake_bridge.models.settings import utcnow
from medshake_bridge.webhooks.delivery import deliver_due
from medshake_bridge.webhooks.signing import verify
from medshake_bridge.webhooks.subscriptions import add_subscription

SECRET = "a-long-shared-secret-for-tests"


@pytest.fixture
def receiver():
    found = Receiver(free_port())
    yield found
    found.stop()


@pytest.fixture
def cli_for():
    def make(app):
        runner = app.test_cli_runner()

        def invoke(*args: str, input: str | None = None):
            return runner.invoke(args=["bridge", *args], input=input, catch_exceptions=False)

        return invoke

    return make


def _subscribe(app, url: str, events=("document.received",), **kwargs) -> int:
    with app.app_context():
        row, _secret = add_subscription(url, list(events), secret=SECRET, **kwargs)
        return row.id


def _deliver(app, *, later: dt.timedelta = dt.timedelta(0)):
    with app.app_context():
        return deliver_due(now=utcnow() + later, timeout=5)


def _rows(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        db.session.expunge_all()
        return rows


def test_down_then_up_delivered_once_signed_ids_and_links_only(world, receiver):
    _subscribe(world.app, receiver.url)
    world.deliver(world.mail())
    world.collect()
    [row] = _rows(world.app)
    assert row.event == "document.received" and row.state == "pending"
    report = _deliver(world.app)  # nothing listens on the port yet
    assert (report.delivered, report.retrying) == (0, 1)
    [row] = _rows(world.app)
    assert row.attempts == 1 and "could not be reached" in row.last_error
    assert _deliver(world.app).retrying == 0  # not due yet: no second try at once
    receiver.start()
    assert _deliver(world.app, later=dt.timedelta(minutes=5)).delivered == 1
    assert _deliver(world.app, later=dt.timedelta(hours=2)).delivered == 0
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert verify(SECRET, got.headers["X-Medshake-Timestamp"], got.body,
                  got.headers["X-Medshake-Signature"])
    assert not verify("another secret", got.headers["X-Medshake-Timestamp"], got.body,
                      got.headers["X-Medshake-Signature"])
    payload = json.loads(got.body)
    assert payload["type"] == "document.received" and payload["id"] == row.event_id
    assert got.headers["X-Medshake-Event-Id"] == row.event_id
    assert set(payload["data"]) == {"document", "owner", "abnormal", "links",
                                    "unencrypted", "external_sender", "signature_invalid"}
    document_id = payload["data"]["document"]
    assert payload["data"]["links"]["document"] == f"/api/v1/documents/{document_id}"
    assert "DUPONT" not in got.body.decode()
    [row] = _rows(world.app)
    assert row.state == "delivered" and row.delivered_at is not None


def test_clinical_content_only_when_the_subscription_asks(world, receiver):
    _subscribe(world.app, receiver.url, include_clinical=True)
    receiver.start()
    world.deliver(world.mail())
    world.collect()
    _deliver(world.app)
    payload = json.loads(receiver.received[0].body)
    assert payload["data"]["patient"]["last_name"] == "DUPONT"


def test_receiver_errors_are_retried_then_given_up_after_24_hours(world, receiver, cli_for):
    _subscribe(world.app, receiver.url)
    receiver.status = 500
    receiver.start()
    world.deliver(world.mail())
    world.collect()
    assert _deliver(world.app).retrying == 1
    assert "answered 500" in _rows(world.app)[0].last_error
    report = _deliver(world.app, later=dt.timedelta(hours=25))
    assert report.failed == 1
    [row] = _rows(world.app)
    assert row.state == "failed" and row.attempts == 2
    doctor = cli_for(world.app)("doctor")
    assert "could not be delivered" in doctor.output and receiver.url in doctor.output
    from medshake_bridge.users import create_user

    with world.app.app_context():
        create_user("ada", PASSWORD, role="admin")
    client = world.app.test_client()
    login(client, "ada", PASSWORD)
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "answered 500" in page and row.event_id in page
    receiver.status = 200
    assert post(client, "/admin/webhooks/retry", page="/admin/webhooks/").status_code == 302
    assert _deliver(world.app).delivered == 1
    assert [item.state for item in _rows(world.app)] == ["delivered"]


def test_killed_between_commit_and_delivery_nothing_is_lost(world, receiver):
    """A real process collects (documents and outbox rows in one commit) and is killed with
    SIGKILL before it delivers; another process delivers the event later."""
    _subscribe(world.app, receiver.url)
    world.deliver(world.mail())
    config = {key: world.app.config[key] for key in (
        "MEDSHAKE_BRIDGE_SECRET_KEYS", "MEDSHAKE_BRIDGE_DATABASE_URL", "MEDSHAKE_BRIDGE_HOME",
        "MEDSHAKE_BRIDGE_DATA_DIR")}
    config["INSTANCE_PATH"] = world.app.instance_path
    script = textwrap.dedent("""
        import json, os, signal, sys
        from medshake_bridge import bridge_state, create_app
        from medshake_bridge.collect.pipeline import collect_all
        app = create_app({**json.loads(sys.argv[1]), "TESTING": True})
        with app.app_context():
            report = collect_all(bridge_state())
            assert report.total("documents") == 1, report
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(config)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert done.returncode == -signal.SIGKILL, done.stderr
    [row] = _rows(world.app)
    assert row.state == "pending" and row.attempts == 0
    receiver.start()
    assert _deliver(world.app).delivered == 1
    assert len(receiver.received) == 1


def test_message_sent_and_document_filed_are_announced(send_world, receiver):
    app = send_world.app
    _subscribe(app, receiver.url, events=("message.sent", "document.filed"))
    receiver.start()
    send_world.send()
    world = send_world.world
    world.collect()
    from medshake_bridge.models import InboxDocument, User
    from medshake_bridge.patients import file_document

    with app.app_context():
        document = db.session.scalars(select(InboxDocument)).first()
        bob = db.session.get(User, world.bob)
        file_document(document.id, f"bridge:{send_world.patient_id}", user=bob)
    _deliver(app)
    kinds = [json.loads(item.body)["type"] for item in receiver.received]
    assert kinds == ["message.sent", "document.filed"]
    sent = json.loads(receiver.received[0].body)["data"]
    assert set(sent) == {"message", "user", "acted_by", "patient", "links"}


def test_cli_add_list_test_remove(world, receiver, cli_for):
    cli = cli_for(world.app)
    added = cli("webhooks", "add", receiver.url, "--event", "document.received",
                "--event", "message.sent")
    assert added.exit_code == 0 and "Signing secret (shown once)" in added.output
    assert "events=document.received,message.sent" in cli("webhooks", "list").output
    failed = cli("webhooks", "test", "1")
    assert failed.exit_code == 1 and "could not be reached" in failed.output
    receiver.start()
    assert cli("webhooks", "test", "1").exit_code == 0
    assert json.loads(receiver.received[0].body)["type"] == "ping"
    with_secret = cli("webhooks", "add", receiver.url, "--event", "document.filed",
                      "--secret-stdin", input=SECRET + "\n")
    assert with_secret.exit_code == 0 and SECRET not in with_secret.output
    assert cli("webhooks", "add", "ftp://x", "--event", "message.sent").exit_code == 1
    assert cli("webhooks", "remove", "1").exit_code == 0
    assert receiver.url in cli("webhooks", "list").output
    assert "1  " not in cli("webhooks", "list").output.splitlines()[0][:3]


def test_admin_page_adds_shows_secret_once_and_removes_others_get_404(app):
    from web_helpers import make_people

    make_people(app)
    admin = app.test_client()
    login(admin, "admin")
    added = post(admin, "/admin/webhooks/", [("url", "https://portal.example/hooks"),
                                             ("event", "document.received")],
                 page="/admin/webhooks/")
    page = added.get_data(as_text=True)
    assert added.status_code == 200 and 'id="new-secret"' in page
    secret = page.split('class="token-text">')[1].split("<")[0]
    assert len(secret) > 30 and secret not in admin.get("/admin/webhooks/").get_data(
        as_text=True)
    with app.app_context():
        from medshake_bridge.models import WebhookSubscription

        row = db.session.scalars(select(WebhookSubscription)).one()
        assert secret not in row.secret  # encrypted at rest
    refused = post(admin, "/admin/webhooks/", [("url", "ftp://x"), ("event", "message.sent")],
                   page="/admin/webhooks/")
    assert refused.status_code == 400
    practitioner = app.test_client()
    login(practitioner, "alice")
    assert practitioner.get("/admin/webhooks/").status_code == 404
    assert post(admin, f"/admin/webhooks/{row.id}/remove",
                page="/admin/webhooks/").status_code == 302
    assert "portal.example" not in admin.get("/admin/webhooks/").get_data(as_text=True)
