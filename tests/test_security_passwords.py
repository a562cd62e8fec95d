"""Password policy, self-service change with the current password, and the change forced by an
administrator at the next login (issue #17, item 9)."""

from __future__ import annotations

import pytest
from web_helpers import PASSWORD, login, make_people, post

from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.passwords import common_passwords, password_problem
from medshake_bridge.users import UserError, create_user

GOOD = "le chat dort sur le radiateur"


@pytest.fixture
def people(app):
    return make_people(app)


@pytest.mark.parametrize(("password", "login", "code"), [
    (" " * 10, "ada", "blank"),
    ("\t \n" * 5, "ada", "blank"),
    ("court", "ada", "short"),
    ("aaaaaaaaaa", "ada", "repetitive"),
    ("abababababab", "ada", "repetitive"),
    ("1212121212", "ada", "repetitive"),
    ("dr.martin-2024", "dr.martin", "login"),
    ("DR.MARTIN2024!", "dr.martin", "login"),
    ("motdepasse2024!", "ada", "common"),
    ("Azertyuiop", "ada", "common"),
    ("123456789012", "ada", "common"),
    ("!!Password123", "ada", "common"),
    ("correct horse battery staple", "ada", "common"),
    ("le chat dort sur le radiateur", "ada", ""),
    (PASSWORD, "alice", ""),
])
def test_the_policy(password, login, code):
    assert password_problem(password, login=login) == code


def test_the_list_ships_as_a_file_and_can_be_extended(make_app):
    assert {"azerty", "motdepasse", "123456", "password"} <= common_passwords()
    app = make_app(MEDSHAKE_BRIDGE_PASSWORD_EXTRA_WORDS="cliniquedulac, bellevue")
    with app.app_context():
        assert password_problem("CliniqueDuLac2025", login="ada") == "common"
        assert password_problem("CliniqueDuLac2025", login="ada") == "common"
    assert password_problem("CliniqueDuLac2025", login="ada") == ""


def test_services_refuse_weak_passwords_for_everyone(app_ctx):
    for weak in (" " * 10, "aaaaaaaaaa"):
        with pytest.raises(UserError, match="password") as caught:
            create_user("ada", weak, role="admin")
        assert caught.value.fix
    with pytest.raises(UserError, match="login"):
        create_user("bernard", "bernard-2025-xyz", role="practitioner")
    assert create_user("ada", GOOD, role="admin").login == "ada"


def test_cli_create_user_refuses_a_common_password(cli):
    result = cli("create-user", "ada", "--role", "admin", "--password-stdin",
                 input="azerty123456\n")
    assert result.exit_code != 0
    assert "common passwords" in result.output


def test_users_page_explains_the_refusal_in_french(app, people):
    admin = app.test_client()
    login(admin, "admin")
    response = post(admin, "/admin/users/", {
        "login": "ada", "display_name": "", "role": "admin", "module": "base",
        "password": "aaaaaaaaaa", "confirm": "aaaaaaaaaa"})
    assert response.status_code == 400
    assert "trop peu de caractères" in response.get_data(as_text=True)


def test_self_service_change_needs_the_current_password(app, people):
    alice = app.test_client()
    login(alice, "alice")
    other = app.test_client()
    login(other, "alice")
    page = alice.get("/account/password")
    assert page.status_code == 200 and "Changer mon mot de passe" in page.get_data(as_text=True)
    wrong = post(alice, "/account/password",
                 {"current": "not my password", "password": GOOD, "confirm": GOOD})
    assert wrong.status_code == 400
    assert "actuel est incorrect" in wrong.get_data(as_text=True)
    weak = post(alice, "/account/password",
                {"current": PASSWORD, "password": "alice12345678", "confirm": "alice12345678"})
    assert weak.status_code == 400
    done = post(alice, "/account/password",
                {"current": PASSWORD, "password": GOOD, "confirm": GOOD})
    assert done.status_code == 302
    assert alice.get("/").status_code == 200      # this session goes on
    assert other.get("/").status_code == 302      # the others have ended
    fresh = app.test_client()
    assert login(fresh, "alice").status_code == 401
    assert login(fresh, "alice", GOOD).status_code == 302


def test_self_service_page_needs_a_login(app, people):
    response = app.test_client().get("/account/password")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_admin_forces_a_change_at_next_login(app, people):
    admin = app.test_client()
    login(admin, "admin")
    temporary = "provisoire du lundi matin"
    post(admin, f"/admin/users/{people.bob}/password",
         {"password": temporary, "confirm": temporary, "must_change": "1"},
         page=f"/admin/users/{people.bob}")
    with app.app_context():
        assert db.session.get(User, people.bob).must_change_password
    bob = app.test_client()
    assert login(bob, "bob", temporary).status_code == 302
    for page in ("/", "/inbox/", "/send/compose"):
        response = bob.get(page)
        assert response.status_code == 302, page
        assert response.location.endswith("/account/password")
    assert "Un administrateur a défini" in bob.get("/account/password").get_data(as_text=True)
    done = post(bob, "/account/password",
                {"current": temporary, "password": GOOD, "confirm": GOOD})
    assert done.status_code == 302
    assert bob.get("/").status_code == 200
    with app.app_context():
        assert not db.session.get(User, people.bob).must_change_password


def test_cli_reset_can_force_the_change(app, people, cli):
    result = cli("users", "reset-password", "bob", "--password-stdin", "--must-change",
                 input="provisoire du lundi matin\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(User, people.bob).must_change_password
