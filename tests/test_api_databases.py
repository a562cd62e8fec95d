"""Tokens and the webhook outbox on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import json

from support.rows import add_received_message
from webhook_receiver import Receiver, free_port

from medshake_bridge.apiv1.tokens import create_token, find_token, revoke_token
from medshake_bridge.db import db
from medshake_bridge.models import WebhookDelivery
from medshake_bridge.models.settings import utcnow
from medshake_bridge.users import create_user
from medshake_bridge.webhooks import outbox
from medshake_bridge.webhooks.delivery import deliver_due
from medshake_bridge.webhooks.subscriptions import add_subscription


def test_tokens_and_outbox_on_every_database(db_app):
    receiver = Receiver(free_port())
    try:
        with db_app.app_context():
            user = create_user("apiuser", "password for tests", role="practitioner")
            made = create_token(user, ["inbox:read"], expires="1h")
            assert find_token(made.text).id == made.row.id
            assert find_token(made.text + "x") is None
            revoke_token(made.row.id)
            assert find_token(made.text) is None

            add_subscription(receiver.url, ["message.sent"], secret="s" * 32)
            assert outbox.enqueue("message.sent", {"message": 1}) == 1
            db.session.rollback()  # the event's transaction failed: nothing announced
            assert db.session.query(WebhookDelivery).count() == 0
            outbox.enqueue("message.sent", {"message": 2})
            db.session.commit()
            assert deliver_due(timeout=5).retrying == 1  # the receiver is down
            receiver.start()
            later = utcnow() + dt.timedelta(minutes=5)
            assert deliver_due(now=later, timeout=5).delivered == 1
            assert deliver_due(now=later + dt.timedelta(hours=1), timeout=5).delivered == 0
        assert [json.loads(item.body)["data"] for item in receiver.received] == [{"message": 2}]
    finally:
        receiver.stop()


def test_cursor_walk_with_equal_times_on_every_database(db_app):
    from medshake_bridge.models import InboxDocument

    with db_app.app_context():
        user = create_user("walker", "password for tests", role="practitioner")
        token = create_token(user, ["inbox:read"]).text
        message = add_received_message("walk", state="processed")
        same = dt.datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=dt.UTC)
        for position in range(7):
            db.session.add(InboxDocument(
                message_id=message.id, owner_user_id=user.id, position=position,
                created_at=same if position < 5 else same + dt.timedelta(seconds=position)))
        db.session.commit()
    client = db_app.test_client()
    seen, cursor = [], None
    while True:
        url = "/api/v1/inbox?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers={"Authorization": f"Bearer {token}"}).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
