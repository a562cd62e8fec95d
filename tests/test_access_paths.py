"""Access paths the mutation run of access.py found untested (docs/testing.md): nested plugin
blueprints keep their own level, and a host's answer about its user is never trusted blindly
(an id that is not a number, an inactive account)."""

from __future__ import annotations

import pytest
from flask import Blueprint
from web_helpers import login, make_people

from medshake_bridge import hookimpl, migrate
from medshake_bridge.access import ADMIN, protect
from medshake_bridge.db import db
from medshake_bridge.models import User


def test_a_nested_admin_blueprint_stays_admin_only_inside_a_user_blueprint(make_app):
    outer = Blueprint("clinic_pages", __name__, url_prefix="/clinic")
    inner = protect(Blueprint("clinic_admin", __name__, url_prefix="/admin"), ADMIN)
    plain = Blueprint("clinic_more", __name__, url_prefix="/more")

    @outer.route("/")
    def home():
        return "clinic"

    @inner.route("/")
    def settings():
        return "clinic settings"

    @plain.route("/")
    def more():
        return "more"

    outer.register_blueprint(inner)
    outer.register_blueprint(plain)

    class Plugin:
        @hookimpl
        def medshake_blueprints(self, app):
            return [outer]

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[Plugin()])
    migrate.upgrade(app)
    make_people(app)
    alice = app.test_client()
    assert alice.get("/clinic/admin/").status_code == 302  # a bridge page: login first
    assert alice.get("/clinic/more/").status_code == 302  # the parent's level
    login(alice, "alice")
    assert alice.get("/clinic/").data == b"clinic"
    assert alice.get("/clinic/more/").data == b"more"
    assert alice.get("/clinic/admin/").status_code == 404
    admin = app.test_client()
    login(admin, "admin")
    assert admin.get("/clinic/admin/").data == b"clinic settings"


class HostSays:
    answer: object = None

    @hookimpl
    def medshake_current_user(self, app, request):
        answer = HostSays.answer
        return answer() if callable(answer) else answer


@pytest.fixture
def host_app(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[HostSays()])
    migrate.upgrade(app)
    people = make_people(app)
    app.people = people
    return app


def test_a_host_user_id_that_is_not_a_number_is_nobody(host_app):
    for answer in ("dr.alice", "", [1], None):
        HostSays.answer = answer
        response = host_app.test_client().get("/")
        assert response.status_code == 302 and "/login" in response.location, answer
    HostSays.answer = str(host_app.people.alice)  # a number as text is an id
    assert host_app.test_client().get("/").status_code == 200


def test_a_host_user_id_of_an_inactive_account_is_nobody(host_app):
    with host_app.app_context():
        alice = db.session.get(User, host_app.people.alice)
        alice.active = False
        db.session.commit()
    for answer in (host_app.people.alice, str(host_app.people.alice)):
        HostSays.answer = answer
        response = host_app.test_client().get("/")
        assert response.status_code == 302 and "/login" in response.location
    HostSays.answer = host_app.people.bob
    assert host_app.test_client().get("/").status_code == 200


def test_a_refused_admin_page_is_audited_with_its_address(make_app):
    from web_helpers import events

    app = make_app()
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    login(client, "alice")
    assert client.get("/admin/users/?page=2").status_code == 404
    [event] = [e for e in events(app, "access.denied")]
    assert (event.target, event.detail, event.outcome) == (
        "/admin/users/?page=2", "admin page", "denied")


def test_a_host_user_object_must_be_active(host_app):
    def alice():
        return db.session.get(User, host_app.people.alice)

    HostSays.answer = alice
    assert host_app.test_client().get("/").status_code == 200
    with host_app.app_context():
        alice().active = False
        db.session.commit()
    response = host_app.test_client().get("/")
    assert response.status_code == 302 and "/login" in response.location
