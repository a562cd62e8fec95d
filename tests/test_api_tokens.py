"""API tokens: the command line, the pages (own tokens, an admin's view of all), hashing,
expiry and revocation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, events, login, make_people, post

from medshake_bridge.apiv1.tokens import TokenError, create_token, parse_expiry, token_digest
from medshake_bridge.db import db
from medshake_bridge.models import ApiToken, User

TOKEN = re.compile(r"msb_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def people(app):
    return make_people(app)


def _bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def test_cli_create_prints_once_stores_hash_list_and_revoke(app, cli, people):
    result = cli("tokens", "create", "--user", "alice", "--scope", "inbox:read",
                 "--scope", "send", "--expires", "30d", "--name", "portail")
    assert result.exit_code == 0, result.output
    text = TOKEN.search(result.output).group(0)
    with app.app_context():
        row = db.session.scalars(select(ApiToken)).one()
        assert row.token_hash == token_digest(text) and text not in row.token_hash
        assert row.scopes == "inbox:read send" and row.name == "portail"
        assert row.prefix == text[:12]
    client = app.test_client()
    me = client.get("/api/v1/me", headers=_bearer(text))
    assert me.status_code == 200 and me.get_json()["login"] == "alice"
    assert me.get_json()["scopes"] == ["inbox:read", "send"]
    listing = cli("tokens", "list").output
    assert "portail" in listing and "user=alice" in listing and "active" in listing
    assert text not in listing and "last-used=20" in listing
    assert cli("tokens", "revoke", str(row.id)).exit_code == 0
    assert "revoked" in cli("tokens", "list").output
    refused = client.get("/api/v1/me", headers=_bearer(text))
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.get_json()["fix"]


def test_cli_refuses_admin_scope_for_a_practitioner_and_unknown_users(cli, people):
    result = cli("tokens", "create", "--user", "alice", "--scope", "admin")
    assert result.exit_code == 1 and "admin scope" in result.output
    assert cli("tokens", "create", "--user", "nobody", "--scope", "send").exit_code == 1
    assert cli("tokens", "create", "--user", "admin", "--scope", "admin").exit_code == 0


def test_expired_bad_and_disabled_tokens_answer_401(app, people):
    with app.app_context():
        alice = db.session.get(User, people.alice)
        expired = create_token(alice, ["inbox:read"], expires="1m")
        row = db.session.get(ApiToken, expired.row.id)
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.commit()
        bob = create_token(db.session.get(User, people.bob), ["inbox:read"], expires="never")
        db.session.get(User, people.bob).active = False
        db.session.commit()
    client = app.test_client()
    for header in (_bearer(expired.text), _bearer(bob.text), _bearer("msb_" + "x" * 43),
                   _bearer("not-a-token"), {"Authorization": f"Basic {expired.text}"}):
        response = client.get("/api/v1/inbox", headers=header)
        assert response.status_code == 401, header
        assert response.get_json()["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expiry_parsing():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_expiry("90d", now=now) == now + dt.timedelta(days=90)
    assert parse_expiry("12h", now=now) == now + dt.timedelta(hours=12)
    assert parse_expiry("never") is None
    for bad in ("0d", "3w", "soon", "-1d"):
        with pytest.raises(TokenError):
            parse_expiry(bad)


def test_page_user_creates_sees_once_and_revokes_own_only(app, people):
    with app.app_context():
        other = create_token(db.session.get(User, people.bob), ["inbox:read"])
        other_id, other_prefix = other.row.id, other.row.prefix
    client = app.test_client()
    login(client, "alice", PASSWORD)
    page = client.get("/tokens/").get_data(as_text=True)
    assert 'value="admin"' not in page  # a practitioner cannot ask for admin
    created = post(client, "/tokens/", [("name", "script"), ("scope", "inbox:read"),
                                        ("scope", "send"), ("expires", "30d")],
                   page="/tokens/")
    assert created.status_code == 200
    text = TOKEN.search(created.get_data(as_text=True)).group(0)
    again = client.get("/tokens/").get_data(as_text=True)
    assert text not in again and "script" in again and other_prefix not in again
    assert client.post("/tokens/", data={"name": "x", "scope": "send"}).status_code == 400
    refused = post(client, f"/tokens/{other_id}/revoke", page="/tokens/")
    assert refused.status_code == 404
    with app.app_context():
        own = db.session.scalars(select(ApiToken).where(ApiToken.user_id == people.alice)).one()
        assert own.scopes == "inbox:read send"
    assert post(client, f"/tokens/{own.id}/revoke", page="/tokens/").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=_bearer(text)).status_code == 401
    assert [event.target for event in events(app, "api.token.revoke")] == [f"token {own.id}"]


def test_page_admin_sees_every_token_and_revokes_any(app, people):
    with app.app_context():
        bobs = create_token(db.session.get(User, people.bob), ["inbox:read"])
        bobs_id, bobs_prefix = bobs.row.id, bobs.row.prefix
    client = app.test_client()
    login(client, "admin", PASSWORD)
    page = client.get("/tokens/").get_data(as_text=True)
    assert bobs_prefix in page and 'value="admin"' in page
    assert post(client, f"/tokens/{bobs_id}/revoke", page="/tokens/").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=_bearer(bobs.text)).status_code == 401
