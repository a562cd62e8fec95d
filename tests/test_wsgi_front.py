"""``medshake_bridge.wsgi.front``: the bridge under /apicrypt, everything else proxied to a
real PHP process (``php -S``) with cookies, headers, bodies and redirects intact."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from support.php import php_server as php_server_running
from werkzeug.test import Client

from medshake_bridge import migrate
from medshake_bridge.wsgi import front

pytestmark = pytest.mark.real_component("php")
ROUTER = Path(__file__).parent / "data" / "php_front" / "router.php"


@pytest.fixture
def php_server():
    with php_server_running(ROUTER) as url:
        yield url


@pytest.fixture
def client(php_server, make_app):
    bridge = make_app()
    migrate.upgrade(bridge)
    return Client(front(php_server, "/apicrypt", bridge=bridge))


def test_requests_reach_php_with_cookies_and_headers(client):
    client.set_cookie("userName", "admin", domain="ehr.example")
    client.set_cookie("PHPSESSID", "abc123", domain="ehr.example")
    response = client.get("/patient/4/?tab=docs", headers={
        "User-Agent": "pytest-agent", "Accept-Language": "fr-FR", "Host": "ehr.example"},
        base_url="http://ehr.example", environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 200
    assert response.headers["X-Ehr-Header"] == "kept"
    seen = json.loads(response.get_data())
    assert seen["uri"] == "/patient/4/?tab=docs"
    assert seen["host"] == "ehr.example"
    assert seen["cookies"] == {"userName": "admin", "PHPSESSID": "abc123"}
    assert (seen["agent"], seen["language"]) == ("pytest-agent", "fr-FR")
    assert seen["forwarded_for"] == "192.0.2.7"
    again = client.get("/", headers={"X-Forwarded-For": "198.51.100.1"},
                       environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert json.loads(again.get_data())["forwarded_for"] == "198.51.100.1, 192.0.2.7"


def test_a_post_body_and_form_reach_php(client):
    response = client.post("/inbox/actions/classerDansDossier/",
                           data={"mailID": "12", "patientID": "4", "titre": "Labo é"})
    seen = json.loads(response.get_data())
    assert seen["method"] == "POST"
    assert seen["post"] == {"mailID": "12", "patientID": "4", "titre": "Labo é"}


def test_every_set_cookie_and_the_redirect_come_back_untouched(client):
    response = client.post("/login/logInDo/", data={"p_username": "admin"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/patient/4/"
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("userName=admin") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("userPass=%242y%2410%24abc")


def test_large_answers_are_streamed_whole(client):
    response = client.get("/fichier/7/")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.get_data() == b"%PDF" * 50000


def test_the_bridge_answers_under_its_prefix_only(client):
    login = client.get("/apicrypt/login")
    assert login.status_code == 200
    assert "<form" in login.get_data(as_text=True)
    home = client.get("/apicrypt/")
    assert home.status_code == 302 and "/apicrypt/login" in home.headers["Location"]
    assert json.loads(client.get("/apicryptx").get_data())["uri"] == "/apicryptx"


def test_a_silent_upstream_gives_502(make_app):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bridge = make_app()
    response = Client(front(f"http://127.0.0.1:{port}", bridge=bridge)).get("/")
    assert response.status_code == 502


def test_the_prefix_must_not_be_the_root(make_app):
    from medshake_bridge.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        front("http://127.0.0.1:1", "/", bridge=make_app())


def test_paths_with_spaces_and_accents_reach_php_as_sent(client):
    seen = json.loads(client.get("/patient/a%20b/%C3%A9t%C3%A9/?q=a+b&r=%C3%A9").get_data())
    assert seen["uri"] == "/patient/a%20b/%C3%A9t%C3%A9/?q=a+b&r=%C3%A9"
    raw = client.get("/x", environ_overrides={"RAW_URI": "/patient/%7Eraw?z=1",
                                              "REQUEST_URI": "/patient/%7Eraw?z=1"})
    assert json.loads(raw.get_data())["uri"] == "/patient/%7Eraw?z=1"


def test_a_refused_header_is_a_400_not_a_crash(client):
    response = client.get("/", environ_overrides={"HTTP_X_BAD": "a\r\nInjected: 1"})
    assert response.status_code == 400


def test_through_a_real_http_server(php_server, make_app):
    """Browser → Werkzeug's HTTP server running front() → php -S, over real sockets."""
    import http.client
    import threading

    from werkzeug.serving import make_server

    bridge = make_app()
    migrate.upgrade(bridge)
    server = make_server("127.0.0.1", 0, front(php_server, bridge=bridge), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
        connection.request("POST", "/login/logInDo/", body="p_username=admin",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        assert response.status == 302
        assert len(response.headers.get_all("Set-Cookie")) == 2
        connection.request("GET", "/patient/4/?a=%C3%A9", headers={
            "Cookie": "userName=admin; userPass=x", "User-Agent": "pytest-agent"})
        seen = json.loads(connection.getresponse().read())
        assert seen["uri"] == "/patient/4/?a=%C3%A9"
        assert seen["cookies"] == {"userName": "admin", "userPass": "x"}
        connection.request("GET", "/apicrypt/login")
        bridge_page = connection.getresponse()
        assert bridge_page.status == 200 and b"<form" in bridge_page.read()
        connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=30)
