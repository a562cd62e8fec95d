"""Secrets at rest: encrypted in the database file, rotation, refusal without a key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import db, engine_url
from medshake_bridge.errors import SecretKeyMissingError
from medshake_bridge.models import SettingValue

PASSWORD = "Tr0ub4dor&3-unique-marker"


def _database_file(app) -> Path:
    return Path(engine_url(app).removeprefix("sqlite:///"))


def test_known_password_leaves_no_trace_in_the_database_file(app, caplog):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        bridge_state().settings.set("apicryptPopPassword", PASSWORD)
        logging.getLogger("medshake_bridge.test").warning("password is %s", PASSWORD)
        db.session.remove()
        db.engine.dispose()
    raw = _database_file(app).read_bytes()
    assert PASSWORD.encode() not in raw
    assert b"apicryptPopPassword" in raw  # the row is there, only the value is hidden
    with app.app_context():
        assert bridge_state().settings.get("apicryptPopPassword") == PASSWORD
    assert PASSWORD not in caplog.text  # redacted by the logging filter


def test_refuses_to_store_a_secret_without_a_key(make_app):
    app = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[])
    migrate.upgrade(app)
    with app.app_context():
        with pytest.raises(SecretKeyMissingError) as caught:
            bridge_state().settings.set("apicryptPopPassword", PASSWORD)
        assert "generate-secret-key" in caught.value.fix
        assert db.session.scalars(db.select(SettingValue)).first() is None


def test_rotation_reencrypts_with_the_new_key_and_old_key_can_go(make_app):
    old = Fernet.generate_key().decode()
    new = Fernet.generate_key().decode()
    first = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[old])
    migrate.upgrade(first)
    with first.app_context():
        bridge_state().settings.set("apicryptPopPassword", PASSWORD)
        token_before = db.session.scalars(db.select(SettingValue.value)).one()
        db.session.remove()
    url = engine_url(first)

    both = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[new, old], MEDSHAKE_BRIDGE_DATABASE_URL=url)
    with both.app_context():
        assert bridge_state().settings.rotate_secrets() == 1
        token_after = db.session.scalars(db.select(SettingValue.value)).one()
        db.session.remove()
    assert token_after != token_before
    Fernet(new.encode()).decrypt(token_after.encode())  # readable with the new key alone

    only_new = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[new], MEDSHAKE_BRIDGE_DATABASE_URL=url)
    with only_new.app_context():
        assert bridge_state().settings.get("apicryptPopPassword") == PASSWORD
    only_old = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[old], MEDSHAKE_BRIDGE_DATABASE_URL=url)
    with only_old.app_context(), pytest.raises(SecretKeyMissingError):
        bridge_state().settings.get("apicryptPopPassword")
