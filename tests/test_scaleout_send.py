"""Sending through the job queue (``celery`` execution mode), with real parts: PostgreSQL, a
Redis of the test's own, a real ``medshake-bridge worker`` process under its own host name,
the sandbox programs and the sandbox relay (aiosmtpd, STARTTLS + AUTH).

The compose page and the API answer at once with the message "waiting to be sent"; the worker
sends it; the pages then say "sent" (or "not sent" with what to do). Sent once per token,
also when the queue delivers the job twice.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import pytest
from mailworld import BOB, PDF_1, World
from scaleworld import ScaleWorld, queue_cluster, wait_for
from sendworld import DOMAIN, SendWorld
from sqlalchemy import select
from web_helpers import csrf_token, events

from medshake_bridge.db import db
from medshake_bridge.models import SentMessage, User
from medshake_bridge.models.scale import SEND
from medshake_bridge.sandbox import SANDBOX_ENV_VARS

pytestmark = [pytest.mark.real_component("postgresql"), pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::ResourceWarning")]
PASSWORD = "password for tests"
BOB_ADDRESS = f"{BOB}@{DOMAIN}"
_FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


class QueuedSending:
    """The sending world on PostgreSQL in celery mode, with workers started on demand."""

    def __init__(self, sending: SendWorld, cluster: ScaleWorld) -> None:
        self.sending = sending
        self.cluster = cluster
        self.app = sending.app

    def rows(self) -> list[SentMessage]:
        with self.app.app_context():
            found = list(db.session.scalars(select(SentMessage).order_by(SentMessage.id)))
            db.session.expunge_all()
            db.session.remove()
            return found

    def row(self, record_id: int) -> SentMessage:
        return next(row for row in self.rows() if row.id == record_id)

    def outbox(self) -> list[Path]:
        folder = Path(self.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "outbox"
        return sorted(folder.rglob("*")) if folder.exists() else []

    def page(self, client, url: str) -> str:
        return html.unescape(client.get(url).get_data(as_text=True))


@pytest.fixture
def queued_sending(make_app, server_databases, tmp_path, monkeypatch, throwaway_pki):
    with queue_cluster(make_app, server_databases, tmp_path, "postgresql",
                       MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS)) as cluster:
        sending = SendWorld(World(cluster.app, tmp_path, monkeypatch), throwaway_pki)
        try:
            yield QueuedSending(sending, cluster)
        finally:
            sending.relay.stop()


def _login(client) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"login": "alice", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302


def _compose_data(client, patient_id: int) -> dict:
    query = f"patient={patient_id}"
    page = client.get(f"/send/compose?{query}").get_data(as_text=True)
    return {"csrf_token": csrf_token(client, f"/send/compose?{query}"),
            "token": _FORM_TOKEN.search(page).group(1), "recipients": BOB_ADDRESS,
            "subject": "Avis cardiologique", "body": "Bonjour,\nvoici l'écho.\n",
            "upload": (io.BytesIO(PDF_1), "écho.pdf")}


def test_the_compose_page_queues_the_message_and_a_worker_sends_it_once(queued_sending):
    qs = queued_sending
    sw = qs.sending
    client = qs.app.test_client()
    _login(client)
    data = _compose_data(client, sw.patient_id)
    url = f"/send/compose?patient={sw.patient_id}"
    answer = client.post(url, data=data, content_type="multipart/form-data",
                         follow_redirects=True)
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200
    assert f"Message pour {BOB_ADDRESS} confié à la file d'envoi" in text
    assert "en attente d'envoi" in text  # no worker yet: it waits
    (row,) = qs.rows()
    assert row.state == "queued" and sw.delivered() == []
    assert qs.outbox() and not any(b"%PDF" in path.read_bytes() or b"DUPONT" in
                                   path.read_bytes() for path in qs.outbox() if path.is_file())
    # the double click while it waits: nothing more is queued
    data["upload"] = (io.BytesIO(PDF_1), "écho.pdf")
    again = html.unescape(client.post(url, data=data, content_type="multipart/form-data",
                                      follow_redirects=True).get_data(as_text=True))
    assert "Ce message attend déjà son envoi" in again
    assert len(qs.rows()) == 1
    (job,) = [job for job in qs.cluster.jobs() if job.kind == SEND]
    assert (job.state, job.target) == ("queued", str(row.id))

    qs.cluster.start_worker("host-a", concurrency=1)
    sent = wait_for(lambda: (lambda r: r if r.state == "sent" else None)(qs.row(row.id)),
                    45, 0.2, "the worker sent the message")
    assert sent.message_id_header and sent.error == ""
    (delivered,) = sw.delivered()
    assert b"Avis cardiologique" in delivered.read_bytes()
    assert qs.outbox() == []
    (job,) = wait_for(lambda: [job for job in qs.cluster.jobs() if job.kind == SEND
                               and job.state == "ok"] or None, 20, 0.2, "the job finished")
    assert (job.host, job.attempts) == ("host-a", 1)
    history = qs.page(client, "/send/sent")
    assert "écho.pdf" in history and "envoyé" in history and "en attente d'envoi" not in history
    assert [event.outcome for event in events(qs.app, "mail.send")] == ["ok"]

    # The queue delivers the job once more (a redelivery): the ledger runs it once.
    from medshake_bridge.scale.celery_app import SEND_TASK, publish

    with qs.app.app_context():
        publish(qs.app, SEND_TASK, job.id)
        db.session.remove()
    wait_for(lambda: "already done" in qs.cluster.log("host-a") or None, 30, 0.2,
             "the second delivery handled")
    assert len(sw.delivered()) == 1 and len(qs.rows()) == 1
    # and the same form a third time: already sent
    data["upload"] = (io.BytesIO(PDF_1), "écho.pdf")
    third = html.unescape(client.post(url, data=data, content_type="multipart/form-data",
                                      follow_redirects=True).get_data(as_text=True))
    assert "déjà été envoyé" in third and len(sw.delivered()) == 1


def test_the_api_answers_202_and_a_failed_send_says_what_to_do(queued_sending):
    from medshake_bridge.apiv1.tokens import create_token

    qs = queued_sending
    sw = qs.sending
    with qs.app.app_context():
        token = create_token(db.session.get(User, sw.alice), ["send", "inbox:read"]).text
        db.session.remove()
    client = qs.app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "letter-7"}
    letter = {"recipients": [BOB_ADDRESS], "patient": f"bridge:{sw.patient_id}",
              "subject": "Avis cardiologique", "body": "Chère consœur, voici le compte rendu.",
              "attachments": [{"name": "ecg.pdf",
                               "content_base64": base64.b64encode(b"%PDF-1.4 ecg").decode()}]}
    qs.cluster.start_worker("host-a", concurrency=1)
    qs.cluster.wait_workers(1)
    first = client.post("/api/v1/messages", json=letter, headers=headers)
    assert first.status_code == 202, first.get_data(as_text=True)
    assert first.get_json()["state"] == "queued"
    location = first.headers["Location"]
    done = wait_for(lambda: (lambda item: item if item["state"] == "sent" else None)(
        client.get(location, headers=headers).get_json()), 45, 0.2, "sent by the worker")
    assert done["attachments"] == ["ecg.pdf"] and done["message_id"]
    again = client.post("/api/v1/messages", json=letter, headers=headers)
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert len(sw.delivered()) == 1

    # The relay refuses the login: the worker records the failure; the page says what to do.
    sw.configure(apicryptPopPassword="not the relay password")
    second = client.post("/api/v1/messages", json=letter,
                         headers={**headers, "Idempotency-Key": "letter-8"})
    assert second.status_code == 202
    failed = wait_for(lambda: (lambda item: item if item["state"] == "failed" else None)(
        client.get(second.headers["Location"], headers=headers).get_json()), 45, 0.2,
        "the failure recorded")
    assert failed["error"]
    assert len(sw.delivered()) == 1 and qs.outbox() == []
    browser = qs.app.test_client()
    _login(browser)
    history = qs.page(browser, "/send/sent")
    assert "non envoyé" in history
    assert "a refusé l'identifiant ou le mot de passe de la boîte" in history
    (_, failed_job) = wait_for(lambda: (lambda jobs: jobs if len(jobs) == 2 and jobs[1].state
                                        == "failed" else None)(
        [job for job in qs.cluster.jobs() if job.kind == SEND]), 20, 0.2, "the job failed")
    assert failed_job.host == "host-a" and failed_job.error
