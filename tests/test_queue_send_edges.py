"""Sending through the queue, the edges, in this process (SQLite, a Redis of the test's own,
the sandbox relay): the queue down when "send" is pressed, and a worker that died in the middle
of a send (the job delivered again must not send a second time). The worker's task function
is called here as a worker calls it; the full path with a worker process is in
``test_scaleout_send.py``.
"""

from __future__ import annotations

import html
import io
import os
import re

import pytest
from mailworld import BOB, PDF_1
from scaleworld import REDIS_SERVER, RedisServer
from sendworld import DOMAIN
from sqlalchemy import select, update
from web_helpers import csrf_token

from medshake_bridge.db import db
from medshake_bridge.models import SentMessage
from medshake_bridge.models.scale import SEND, QueueJob

PASSWORD = "password for tests"
_FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


@pytest.fixture
def queued_send_world(send_world, tmp_path):
    from support.components import require_component

    require_component("redis", os.access(REDIS_SERVER, os.X_OK),
                      "no redis-server; install it with `apt-get install -y redis-server`")
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    send_world.app.config.update(MEDSHAKE_BRIDGE_EXECUTOR="celery",
                                 MEDSHAKE_BRIDGE_CELERY_BROKER_URL=redis.url(2))
    send_world.redis = redis
    yield send_world
    redis.stop()


def _send_from_page(sw) -> str:
    client = sw.app.test_client()
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"login": "alice", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    url = f"/send/compose?patient={sw.patient_id}"
    page = client.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_token(client, url), "token": _FORM_TOKEN.search(page).group(1),
            "recipients": f"{BOB}@{DOMAIN}", "subject": "Avis cardiologique",
            "body": "Bonjour,\nvoici l'écho.\n", "upload": (io.BytesIO(PDF_1), "écho.pdf")}
    answer = client.post(url, data=data, content_type="multipart/form-data",
                         follow_redirects=True)
    assert answer.status_code == 200
    sw.client = client
    return html.unescape(answer.get_data(as_text=True))


def _jobs(app) -> list[QueueJob]:
    with app.app_context():
        rows = list(db.session.scalars(select(QueueJob).where(QueueJob.kind == SEND)))
        db.session.expunge_all()
        return rows


def _row(app) -> SentMessage:
    with app.app_context():
        (row,) = db.session.scalars(select(SentMessage))
        db.session.expunge_all()
        return row


def test_the_queue_down_when_sending_keeps_the_message_and_says_so(queued_send_world):
    sw = queued_send_world
    sw.redis.stop()
    text = _send_from_page(sw)
    assert "la file d'attente (Redis) ne répond pas : il est gardé et sera envoyé" in text
    assert "en attente d'envoi" in text
    assert _row(sw.app).state == "queued" and sw.delivered() == []
    (job,) = _jobs(sw.app)
    assert job.state == "unsent" and "broker could not be reached" in job.error

    # Redis is back: the next pass sends the kept job, a worker sends the message.
    from medshake_bridge.scale.dispatch import resend_unsent
    from medshake_bridge.send.queued import run_send

    sw.redis.start()
    with sw.app.app_context():
        assert resend_unsent(sw.app).resent == 1
        db.session.remove()
    assert run_send(sw.app, job.id, worker="worker@here") == "sent"
    assert _row(sw.app).state == "sent" and len(sw.delivered()) == 1
    assert run_send(sw.app, job.id, worker="worker@here") == "already done"
    assert len(sw.delivered()) == 1


def test_a_job_delivered_again_after_its_worker_died_mid_send_does_not_send_twice(
        queued_send_world):
    sw = queued_send_world
    _send_from_page(sw)
    (job,) = _jobs(sw.app)
    row = _row(sw.app)
    # What a worker killed after it began to send leaves: the job and the row in the middle.
    with sw.app.app_context():
        db.session.execute(update(QueueJob).where(QueueJob.id == job.id)
                           .values(state="interrupted", attempts=1))
        db.session.execute(update(SentMessage).where(SentMessage.id == row.id)
                           .values(state="sending"))
        db.session.commit()
    from medshake_bridge.send.queued import outbox_folder, run_send

    assert run_send(sw.app, job.id, worker="worker@here") == "failed: interrupted while sending"
    assert sw.delivered() == []
    failed = _row(sw.app)
    assert failed.state == "failed" and "may have gone out" in failed.error
    (job,) = _jobs(sw.app)
    assert (job.state, job.attempts) == ("failed", 2)
    assert not outbox_folder(sw.app, row.id).exists()
    history = html.unescape(sw.client.get("/send/sent").get_data(as_text=True))
    assert "le message est peut-être parti, peut-être pas" in history
    assert "demandez au destinataire s'il l'a reçu" in history
