"""Sessions end on the server's word: logout, a password reset and a change of rights end every
session of the user (a copied cookie stops working); idle and absolute timeouts; the session
cookie name setting is honoured (issue #17, items 8 and 16)."""

from __future__ import annotations

import time

import pytest
from web_helpers import events, login, make_people, post

from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.sessions import SEEN_KEY, STARTED_KEY

COOKIE = "medshake_bridge_session"


@pytest.fixture
def people(app):
    return make_people(app)


def _logged_in(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    assert client.get("/").status_code == 200
    return client


def _copy(app, client, name: str = COOKIE):
    """A second browser holding a copy of ``client``'s session cookie (a stolen cookie)."""
    cookie = client.get_cookie(name)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(name, cookie.value)
    return thief


def test_a_copied_cookie_stops_working_after_logout(app, people):
    client = _logged_in(app, "alice")
    thief = _copy(app, client)
    assert thief.get("/").status_code == 200
    other_browser = _logged_in(app, "alice")
    post(client, "/logout", page="/")
    response = thief.get("/")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert other_browser.get("/").status_code == 302  # logout ends every session of the user


def test_password_reset_by_an_admin_or_the_cli_ends_the_sessions(app, people, cli):
    alice = _logged_in(app, "alice")
    admin = _logged_in(app, "admin")
    response = post(admin, f"/admin/users/{people.alice}/password",
                    {"password": "une phrase assez longue", "confirm": "une phrase assez longue"},
                    page=f"/admin/users/{people.alice}")
    assert response.status_code == 302
    assert alice.get("/").status_code == 302
    assert admin.get("/").status_code == 200  # the admin's own session goes on

    bob = _logged_in(app, "bob")
    result = cli("users", "reset-password", "bob", "--password-stdin",
                 input="une autre phrase longue\n")
    assert result.exit_code == 0, result.output
    assert bob.get("/").status_code == 302


def test_a_change_of_role_ends_the_sessions(app, people):
    bob = _logged_in(app, "bob")
    admin = _logged_in(app, "admin")
    post(admin, f"/admin/users/{people.bob}",
         {"display_name": "Dr Bob", "role": "secretary", "module": "cardio", "active": "1"})
    response = bob.get("/")
    assert response.status_code == 302
    login(bob, "bob")
    assert bob.get("/").status_code == 200
    # a change of display name alone keeps the session
    post(admin, f"/admin/users/{people.bob}",
         {"display_name": "Dr Robert", "role": "secretary", "module": "cardio", "active": "1"})
    assert bob.get("/").status_code == 200


def test_an_idle_session_ends(make_app):
    app = make_app(MEDSHAKE_BRIDGE_SESSION_IDLE_MINUTES=15)
    from medshake_bridge import migrate

    migrate.upgrade(app)
    make_people(app)
    client = _logged_in(app, "alice")
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - 14 * 60
    assert client.get("/").status_code == 200  # 14 minutes idle: still open, clock restarted
    with client.session_transaction() as session:
        assert session[SEEN_KEY] >= int(time.time()) - 5
        session[SEEN_KEY] = int(time.time()) - 16 * 60
    response = client.get("/", follow_redirects=True)
    assert response.request.path == "/login"
    assert "sans activité" in response.get_data(as_text=True)


def test_a_session_has_a_maximum_length(make_app):
    app = make_app(MEDSHAKE_BRIDGE_SESSION_MAX_HOURS="8")
    from medshake_bridge import migrate

    migrate.upgrade(app)
    make_people(app)
    client = _logged_in(app, "alice")
    with client.session_transaction() as session:
        session[STARTED_KEY] = int(time.time()) - 9 * 3600
    response = client.get("/", follow_redirects=True)
    assert response.request.path == "/login"
    assert "durée maximale" in response.get_data(as_text=True)


def test_a_session_without_the_stamp_is_refused(app, people):
    """A cookie signed before revocation existed (or forged without the epoch) does not work."""
    client = _logged_in(app, "alice")
    with client.session_transaction() as session:
        for key in list(session):
            if key.startswith("medshake_bridge_") and key != "medshake_bridge_user_id":
                session.pop(key)
    assert client.get("/").status_code == 302


def test_the_epoch_is_kept_on_the_user(app, people):
    client = _logged_in(app, "alice")
    post(client, "/logout", page="/")
    with app.app_context():
        assert db.session.get(User, people.alice).session_epoch == 1
    assert [e.actor_login for e in events(app, "logout")] == ["alice"]


def test_the_session_cookie_name_setting_is_used(make_app):
    from medshake_bridge import migrate

    app = make_app(SESSION_COOKIE_NAME="cabinet_bridge")
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    response = login(client, "alice")
    assert response.headers["Set-Cookie"].startswith("cabinet_bridge=")
    assert client.get_cookie("cabinet_bridge") is not None
    assert client.get_cookie(COOKIE) is None
    assert client.get("/").status_code == 200


def test_the_session_cookie_name_from_the_environment(make_app, monkeypatch):
    """``SESSION_COOKIE_NAME`` in the instance config file is honoured too (not only a
    mapping given to create_app)."""
    from pathlib import Path

    from medshake_bridge import migrate

    app = make_app()
    instance = Path(app.instance_path)
    (instance / "config.py").write_text('SESSION_COOKIE_NAME = "from_config_file"\n')
    again = make_app(INSTANCE_PATH=str(instance))
    migrate.upgrade(again)
    assert again.config["SESSION_COOKIE_NAME"] == "from_config_file"
