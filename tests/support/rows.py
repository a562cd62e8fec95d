"""Database rows a test needs without collecting anything."""

from __future__ import annotations

from medshake_bridge.db import db
from medshake_bridge.models import Mailbox, ReceivedMessage


def add_received_message(mailbox_key: str, *, state: str,
                         raw_path: str = "/dev/null") -> ReceivedMessage:
    """A mailbox row and one received message in it, flushed (ids given), not committed: the
    rows an inbox, API or writer test starts from, as a collection would have left them."""
    mailbox = Mailbox(key=mailbox_key, collector="maildir")
    db.session.add(mailbox)
    db.session.flush()
    message = ReceivedMessage(mailbox_id=mailbox.id, server_id="1", sha256="0" * 64,
                              raw_path=raw_path, state=state)
    db.session.add(message)
    db.session.flush()
    return message
