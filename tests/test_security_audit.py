"""The audit log never keeps a secret typed in the login field, and noise anyone can make
without logging in is rate-limited and aggregated (issue #17, items 6 and 7)."""

from __future__ import annotations

import pytest
from web_helpers import csrf_token, events, login, make_people

from medshake_bridge.audit_noise import BURST
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent


@pytest.fixture
def people(app):
    return make_people(app)


def _all_rows(app) -> list[AuditEvent]:
    return events(app)


def test_a_password_typed_in_the_login_field_is_not_recorded(app, people):
    client = app.test_client()
    typed = "Tr3s-Secret-du-Dr-Martin"
    assert login(client, typed, "whatever").status_code == 401
    assert login(client, typed, "whatever").status_code == 401
    rows = _all_rows(app)
    assert rows
    for row in rows:
        for value in (row.target, row.actor_login, row.detail):
            assert typed not in (value or "")
            assert typed.lower() not in (value or "").lower()
    first, second = events(app, "login.failed")
    assert first.target == second.target  # the same fingerprint: repeated attempts still show
    assert first.target.startswith("unknown login #")


def test_a_known_login_is_still_recorded_by_name(app, people):
    client = app.test_client()
    login(client, "alice", "not her password")
    [event] = events(app, "login.failed")
    assert event.target == "alice" and event.detail == "wrong password"


def test_logout_posts_without_a_token_are_aggregated(app, people):
    client = app.test_client()
    for _ in range(300):
        assert client.post("/logout").status_code == 400
    rows = _all_rows(app)
    assert len(rows) <= BURST + 1
    assert len(events(app, "csrf.failed")) == BURST
    [aggregate] = events(app, "audit.suppressed")
    assert aggregate.target == "csrf.failed"
    assert aggregate.detail.startswith(f"{300 - BURST} more csrf.failed events from 127.0.0.1")


def test_failed_logins_are_aggregated_too(make_app):
    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT="1000 per minute",
                   MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ADDRESS="1000 per minute")
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    token = csrf_token(client)
    for number in range(40):
        client.post("/login", data={"csrf_token": token, "login": f"guess{number}",
                                    "password": "x"})
    assert len(events(app, "login.failed")) == BURST
    [aggregate] = events(app, "audit.suppressed")
    assert aggregate.detail.startswith(f"{40 - BURST} more login.failed")


def test_a_logged_in_users_csrf_failures_are_each_recorded(app, people):
    client = app.test_client()
    login(client, "alice")
    for _ in range(BURST + 3):
        assert client.post("/logout").status_code == 400
    assert len(events(app, "csrf.failed")) == BURST + 3
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="audit.suppressed").count() == 0
