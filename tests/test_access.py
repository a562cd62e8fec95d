"""The access rules: one module decides, every bridge page goes through it, refusals are 404s
that are audited; embedding in a host app with its own LoginManager."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask
from flask_login import LoginManager, UserMixin, login_user
from web_helpers import PASSWORD, events, login, make_people, post
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from medshake_bridge import MedshakeBridge, bridge_state, hookimpl, migrate
from medshake_bridge.access import (
    ADMIN,
    can_admin,
    protect,
    public,
    readable_mail_owner_ids,
    require_mail_access,
)
from medshake_bridge.db import db
from medshake_bridge.errors import SettingLevelError
from medshake_bridge.models import User


def test_mail_rules_on_every_database(db_app):
    people = make_people(db_app)
    with db_app.app_context():
        store = bridge_state(db_app).settings
        store.set("apicryptInboxMailForUserID", f"{people.alice},{people.bob}", level="user",
                  user_id=people.sophie)
        get = lambda user_id: db.session.get(User, user_id)  # noqa: E731
        assert readable_mail_owner_ids(get(people.sophie)) == {
            people.sophie, people.alice, people.bob}
        assert readable_mail_owner_ids(get(people.alice)) == {people.alice}
        assert readable_mail_owner_ids(get(people.admin)) == set(vars(people).values())
        assert can_admin(get(people.admin)) and not can_admin(get(people.sophie))
        get(people.sophie).active = False
        db.session.commit()
        assert readable_mail_owner_ids(get(people.sophie)) == set()
        assert readable_mail_owner_ids(None) == set()


def test_module_level_sharing_is_refused_delegation_is_per_user(app):
    people = make_people(app)
    with app.app_context():
        with pytest.raises(SettingLevelError, match="module level") as refused:
            bridge_state(app).settings.set("apicryptInboxMailForUserID", str(people.alice),
                                           level="module", module="cardio")
        assert "one person at a time" in refused.value.fix
        assert readable_mail_owner_ids(db.session.get(User, people.bob)) == {people.bob}


def test_refused_mail_is_a_404_and_is_audited(app):
    people = make_people(app)
    with app.test_request_context("/inbox/42", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        sophie = db.session.get(User, people.sophie)
        require_mail_access(db.session.get(User, people.alice), people.alice)  # own mail
        with pytest.raises(NotFound):
            require_mail_access(sophie, people.bob, target="message 42")
    denied = events(app, "access.denied")
    assert len(denied) == 1
    assert (denied[0].actor_login, denied[0].target, denied[0].outcome,
            denied[0].source_address) == ("", "message 42", "denied", "10.1.2.3")


def _fill(rule) -> str:
    converters = getattr(rule, "_converters", {})
    values = {arg: 1 if isinstance(converters.get(arg), IntegerConverter) else "base"
              for arg in rule.arguments}
    if rule.endpoint.endswith(".static"):
        values = {"filename": "bridge.css"}
    return rule.build(values)[1]


def _bridge_rules(app: Flask):
    blueprints = bridge_state(app).extras["web"].blueprints
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint.split(".")[0] in blueprints]


def test_every_bridge_page_needs_login_and_admin_pages_refuse_others(app):
    people = make_people(app)
    rules = _bridge_rules(app)
    assert len(rules) >= 15
    public_endpoints = {"bridge_auth.login", "bridge_auth.logout", "bridge_auth.language",
                        "bridge_auth.static"}
    api_public = {"bridge_api.health", "bridge_api.openapi_json", "bridge_api.openapi_page"}
    anonymous = app.test_client()
    for rule in rules:
        url = _fill(rule)
        if rule.endpoint.startswith("bridge_api."):  # JSON API: 401 problem, never a redirect
            response = anonymous.open(url, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])
            expected = 200 if rule.endpoint in api_public else 401
            assert response.status_code == expected, url
            if expected == 401:
                assert response.headers["Content-Type"] == "application/problem+json", url
            continue
        if "GET" in rule.methods:
            response = anonymous.get(url)
            if rule.endpoint in public_endpoints:
                assert response.status_code == 200, url
            else:
                assert response.status_code == 302, url
                assert response.location.startswith("/login?next="), url
        else:  # POST-only: refused before anything (no CSRF token)
            assert anonymous.post(url).status_code == 400, url

    secretary = app.test_client()
    login(secretary, "sophie")
    before = len(events(app, "access.denied"))
    admin_gets = [r for r in rules if r.endpoint.split(".")[0] in {
        "bridge_users", "bridge_settings", "bridge_overrides", "bridge_plugins",
        "bridge_audit"} and "GET" in r.methods]
    for rule in admin_gets:
        response = secretary.get(_fill(rule))
        assert response.status_code == 404, rule.endpoint
        assert "Page introuvable" in response.get_data(as_text=True)
    denied = events(app, "access.denied")[before:]
    assert len(denied) == len(admin_gets)
    assert {event.actor_login for event in denied} == {"sophie"}
    assert secretary.get("/").status_code == 200
    # an admin POST with a valid token is refused too (the token is not a pass)
    response = post(secretary, f"/admin/users/{people.alice}",
                    {"role": "admin", "display_name": "x", "module": "base", "active": "1"},
                    page="/")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(User, people.alice).role == "practitioner"


def test_plugin_pages_are_guarded_by_default(make_app):
    pages = Blueprint("example_pages", __name__, url_prefix="/example")
    admin_pages = protect(Blueprint("example_admin", __name__, url_prefix="/example-admin"),
                          ADMIN)

    @pages.route("/private")
    def private():
        return "private"

    @pages.route("/open")
    @public
    def open_page():
        return "open"

    @admin_pages.route("/")
    def secret():
        return "admin only"

    class Plugin:
        @hookimpl
        def medshake_blueprints(self, app):
            return [pages, admin_pages]

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[Plugin()])
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    assert client.get("/example/open").data == b"open"
    assert client.get("/example/private").status_code == 302
    login(client, "alice")
    assert client.get("/example/private").data == b"private"
    assert client.get("/example-admin/").status_code == 404
    response = client.get("/example/private")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


class HostUser(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def _host_app(tmp_path, plugin) -> Flask:
    app = Flask("clinic_portal", instance_path=str(tmp_path / "portal"))
    app.config.update(SECRET_KEY="portal-secret", TESTING=True,
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'portal.db'}",
                      MEDSHAKE_BRIDGE_SECRET_KEYS=[], MEDSHAKE_BRIDGE_URL_PREFIX="/bridge",
                      MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    manager = LoginManager(app)
    manager.user_loader(HostUser)

    @app.route("/portal-login/<name>")
    def portal_login(name):
        login_user(HostUser(name))
        return "ok"

    @app.route("/portal-form", methods=["POST"])
    def portal_form():  # a host form without a bridge CSRF token stays the host's business
        return "posted"

    app.host_login_manager = manager
    return app


def test_embedded_reuses_the_host_login_manager_and_maps_its_user(tmp_path):
    class MapPortalUsers:
        @hookimpl
        def medshake_current_user(self, app, request):
            from flask_login import current_user

            if current_user.is_authenticated and current_user.id == "dr.alice":
                return db.session.scalar(db.select(User.id).where(User.login == "alice"))
            return None

    app = _host_app(tmp_path, MapPortalUsers())
    MedshakeBridge(app)
    assert app.login_manager is app.host_login_manager
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    assert client.get("/bridge/").status_code == 302  # nobody yet
    assert client.post("/portal-form").data == b"posted"
    client.get("/portal-login/dr.alice")
    page = client.get("/bridge/")
    assert page.status_code == 200 and "Dr Alice" in page.get_data(as_text=True)
    assert client.get("/bridge/admin/users/").status_code == 404

    other = app.test_client()
    other.get("/portal-login/unknown")
    assert other.get("/bridge/").status_code == 302
    # a bridge login still works next to the host's login manager (own session key)
    response = login_at(other, "/bridge/login", "admin")
    assert response.status_code == 302
    assert other.get("/bridge/admin/users/").status_code == 200


def login_at(client, url: str, user: str):
    return post(client, url, {"login": user, "password": PASSWORD}, page=url)
