"""Logging in and out: messages, audit, throttling, CSRF, cookies and security headers."""

from __future__ import annotations

import pytest
from web_helpers import PASSWORD, csrf_token, events, login, make_people, post

from medshake_bridge import migrate
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.models import User


@pytest.fixture
def people(app):
    return make_people(app)


def test_login_lands_on_home_and_is_audited(app, people):
    client = app.test_client()
    response = login(client, "alice")
    assert (response.status_code, response.location) == (302, "/")
    home = client.get("/").get_data(as_text=True)
    assert "Bienvenue, Dr Alice." in home and "Bonjour, Dr Alice" in home
    assert "Utilisateurs" not in home  # admin entries hidden from a practitioner
    [event] = events(app, "login")
    assert (event.actor_login, event.actor_id, event.outcome) == ("alice", people.alice, "ok")


def test_next_is_followed_only_on_this_site(app, people):
    client = app.test_client()
    assert client.get("/admin/users/").location == "/login?next=/admin/users/"
    response = post(client, "/login?next=/admin/users/",
                    {"login": "admin", "password": PASSWORD}, page="/login")
    assert response.location == "/admin/users/"
    other = app.test_client()
    response = post(other, "/login?next=//evil.example/x",
                    {"login": "admin", "password": PASSWORD}, page="/login")
    assert response.location == "/"


@pytest.mark.parametrize("query", [
    "next=/%09/evil.example",  # a tab: browsers drop it, /\t/evil becomes //evil
    "next=/%0a/evil.example", "next=/%0d/evil.example", "next=/%00/evil.example",
    "next=/%5c/evil.example", "next=%5c%5cevil.example", "next=/%20/evil.example",
    "next=https://evil.example/", "next=http:/evil.example", "next=javascript:alert(1)",
])
def test_hostile_next_with_control_characters_stays_on_this_site(app, people, query):
    """Standalone bridge (no mount): every hostile ``next`` lands on the home page."""
    client = app.test_client()
    response = post(client, f"/login?{query}", {"login": "admin", "password": PASSWORD},
                    page="/login")
    assert (response.status_code, response.location) == (302, "/")


@pytest.mark.parametrize("name, password, detail", [
    ("alice", "wrong password!", "wrong password"),
    ("nobody", PASSWORD, "unknown login"),
])
def test_bad_credentials_get_one_message_and_an_audit_entry(app, people, name, password,
                                                            detail):
    client = app.test_client()
    response = login(client, name, password)
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "Identifiant ou mot de passe incorrect" in text
    assert f'value="{name}"' in text and password not in text
    [event] = events(app, "login.failed")
    logged = name if name == "alice" else event.target
    assert (event.target, event.outcome, event.detail, event.actor_id) == (
        logged, "failed", detail, None)
    if name != "alice":  # an unknown login is kept as a fingerprint (issue #17, item 6)
        assert event.target.startswith("unknown login #") and name not in event.target
    assert client.get("/").status_code == 302


def test_deactivated_account_is_told_to_ask_an_admin(app, people):
    with app.app_context():
        db.session.get(User, people.bob).active = False
        db.session.commit()
    client = app.test_client()
    response = login(client, "bob")
    assert response.status_code == 403
    assert "Ce compte est désactivé" in response.get_data(as_text=True)
    assert events(app, "login.failed")[0].detail == "deactivated account"
    assert login(client, "bob", "not his password").status_code == 401  # no hint then


def test_deactivating_ends_an_open_session(app, people):
    client = app.test_client()
    login(client, "bob")
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(User, people.bob).active = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_failed_logins_are_throttled_then_refused_even_with_the_right_password(make_app):
    app = make_app(MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT="3 per minute")
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    for _ in range(3):
        assert login(client, "alice", "bad password!").status_code == 401
    response = login(client, "alice")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Trop de tentatives échouées" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert len(events(app, "login.throttled")) == 1
    # another account from the same address is not blocked by alice's limit
    assert login(client, "bob").status_code == 302


def test_successes_do_not_count_and_reset_the_account_limit(make_app):
    app = make_app(MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
    migrate.upgrade(app)
    make_people(app)
    for _ in range(4):
        assert login(app.test_client(), "alice").status_code == 302
    assert login(app.test_client(), "alice", "bad password!").status_code == 401
    assert login(app.test_client(), "alice").status_code == 302  # clears alice's failures
    assert login(app.test_client(), "alice", "bad password!").status_code == 401
    assert login(app.test_client(), "alice", "bad password!").status_code == 401
    assert login(app.test_client(), "alice").status_code == 429


def test_per_address_limit_covers_many_accounts(make_app):
    app = make_app(MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ADDRESS="4 per minute")
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    for name in ("u1", "u2", "u3", "u4"):
        assert login(client, name, "whatever1234").status_code == 401
    assert login(client, "admin").status_code == 429


def test_a_bad_limit_setting_says_how_to_write_it(make_app):
    with pytest.raises(ConfigurationError, match="5 per minute"):
        make_app(MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT="lots")
    with pytest.raises(ConfigurationError, match="redis://host:6379"):
        make_app(MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI="sqlite:///x.db")


def test_missing_or_forged_csrf_token_is_refused_clearly_and_audited(app, people):
    client = app.test_client()
    response = client.post("/login", data={"login": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in
    login(client, "admin")
    response = client.post("/admin/users/", data={
        "login": "mallory", "password": PASSWORD, "confirm": PASSWORD, "role": "admin",
        "module": "base", "csrf_token": "forged-token"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.login == "mallory")) is None
    failures = events(app, "csrf.failed")
    assert [e.target for e in failures] == ["/login", "/admin/users/"]
    assert failures[1].actor_login == "admin"


def test_logout_is_a_post_and_ends_the_session(app, people):
    client = app.test_client()
    login(client, "alice")
    assert client.get("/logout").status_code == 405
    response = post(client, "/logout", page="/")
    assert response.location == "/login"
    assert client.get("/").status_code == 302
    assert [e.actor_login for e in events(app, "logout")] == ["alice"]


def test_cookies_and_headers(app, people):
    client = app.test_client()
    response = login(client, "alice")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script for the CSP
    assert ' style="' not in page.get_data(as_text=True)

    https = app.test_client()
    token = csrf_token(https, "https://localhost/login")
    response = https.post("https://localhost/login", data={
        "login": "alice", "password": PASSWORD, "csrf_token": token},
        headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]
