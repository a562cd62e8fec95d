"""A test world for received mail: an app, a sandbox network, Bob's mailbox as a Maildir.

Pytest plugin (listed in ``tests/conftest.py``): the ``world`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB, sandbox_mail, seed_maildir
from sqlalchemy import select

from medshake_bridge import bridge_state, migrate
from medshake_bridge.collect.pipeline import collect_all
from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, create_network
from medshake_bridge.users import create_user

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"
PDF_1 = b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
PDF_2 = b"%PDF-1.7\n" + os.urandom(50_000) + b"\n%%EOF\n"


class World:
    """An app with Bob's mailbox as a Maildir, and a sandbox network Alice can send through."""

    def __init__(self, app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
        self.app = app
        self.tmp = tmp_path
        self.net = create_network(tmp_path / "sandbox", [ALICE, BOB, CAROL])
        self.maildir = tmp_path / "maildirs" / BOB
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self.sent = 0
        with app.app_context():
            self.bob = self.add_user("bob", BOB, self.maildir)

    def add_user(self, login: str, apicrypt_user: str, maildir: Path) -> int:
        user = create_user(login, "password for tests", role="practitioner")
        store = bridge_state().settings
        for name, value in {
            "apicryptAdresse": f"{apicrypt_user}@medical69.apicrypt.org",
            "apicryptUtilisateur": apicrypt_user,
            "apicryptCollector": "maildir",
            "apicryptMaildir": str(maildir),
            "apicryptCheminVersBinaires": str(self.net.bin_dir),
            "apicryptCheminVersClefs": str(self.net.keys_dir(apicrypt_user)),
        }.items():
            store.set(name, value, level="user", user_id=user.id)
        return user.id

    def mail(self, text: str = HPRIM_LAB, attachments=(), **kwargs) -> bytes:
        return sandbox_mail(self.net, self.tmp / "sender-work", sender=ALICE, recipient=BOB,
                            text=text, attachments=list(attachments), **kwargs)

    def deliver(self, raw: bytes) -> Path:
        self.sent += 1
        return seed_maildir(self.maildir, raw, f"1700000000.M{self.sent}P1.test")

    def collect(self, **kwargs):
        with self.app.app_context():
            return collect_all(bridge_state(), **kwargs)

    def documents(self) -> list[InboxDocument]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(InboxDocument).order_by(InboxDocument.id)))
            db.session.expunge_all()
            return rows

    def messages(self) -> list[ReceivedMessage]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(ReceivedMessage).order_by(ReceivedMessage.id)))
            db.session.expunge_all()
            return rows

    def with_carol(self, messages: int) -> World:
        """Carol with her own Maildir too, and ``messages`` sandbox messages waiting in
        Bob's and in hers (mailboxes collected side by side)."""
        self.carol_maildir = self.tmp / "maildirs" / CAROL
        for sub in ("cur", "new", "tmp"):
            (self.carol_maildir / sub).mkdir(parents=True)
        with self.app.app_context():
            self.carol = self.add_user("carol", CAROL, self.carol_maildir)
        for number in range(messages):
            self.deliver(self.mail())
            mail = sandbox_mail(self.net, self.tmp / "sender-work", sender=ALICE,
                                recipient=CAROL, text=HPRIM_LAB)
            seed_maildir(self.carol_maildir, mail, f"1700000000.M{number}P1.carol")
        return self

    def on_server(self) -> list[Path]:
        return sorted(p for sub in ("new", "cur") for p in (self.maildir / sub).iterdir())


@pytest.fixture
def world(make_app, tmp_path, monkeypatch) -> World:
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS))
    migrate.upgrade(app)
    return World(app, tmp_path, monkeypatch)




@pytest.fixture
def db_world(make_db_app, tmp_path, monkeypatch) -> World:
    """The same world on SQLite, PostgreSQL and MariaDB (concurrency, exactly-once tests)."""
    app = make_db_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS))
    world = World(app, tmp_path, monkeypatch)
    world.backend = make_db_app.backend
    return world


PER_MAILBOX = 4


@pytest.fixture
def two_full(world):
    """Bob's and Carol's own Maildirs, PER_MAILBOX sandbox messages waiting in each."""
    return world.with_carol(PER_MAILBOX)
