"""The bridge at /bridge beside another WSGI app (examples/wsgi_mount.py): every redirect,
``next`` and cookie stays under /bridge; hostile ``next`` values never leave the bridge."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from support.browser import screenshot
from support.net import free_ports
from web_helpers import PASSWORD, csrf_token, make_people
from werkzeug.test import Client

from medshake_bridge import migrate
from medshake_bridge.i18n import LANGUAGE_COOKIE

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wsgi_mount.py"

HOSTILE_NEXT = [
    "//evil.example/", "/\t/evil.example", "/%09/evil.example", "/\n/x", "/\\evil.example",
    "\\\\evil.example", "https://evil.example/bridge/", "http:/evil.example", "/bridge/\x00x",
    " /bridge/", "/other-app/", "/bridgeX/", "javascript:alert(1)", "//bridge/",
]


@pytest.fixture
def mounted(tmp_path, monkeypatch):
    instance = tmp_path / "bridge-instance"
    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(instance))
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    namespace = runpy.run_path(str(EXAMPLE))
    application = namespace["application"]
    bridge = application.mounts["/bridge"]
    bridge.config["TESTING"] = True
    migrate.upgrade(bridge)
    make_people(bridge)
    return application


def _login(client: Client, next_target: str | None = None):
    data = {"login": "alice", "password": PASSWORD,
            "csrf_token": csrf_token(client, "/bridge/login")}
    if next_target is not None:
        data["next"] = next_target
    return client.post("/bridge/login", data=data)


def test_login_keeps_the_mount_in_next_and_in_the_redirect(mounted):
    client = Client(mounted)
    response = client.get("/bridge/inbox/?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/bridge/login?next=/bridge/inbox/?page%3D2"
    response = _login(client, "/bridge/inbox/?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/bridge/inbox/?page=2"


def test_bridge_cookies_are_the_bridges_only(mounted):
    client = Client(mounted)
    response = _login(client)
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("medshake_bridge_session=") and "Path=/bridge" in set_cookie
    assert client.get("/cookies").json == []  # the app beside never receives them
    assert client.get("/bridge/").status_code == 200  # the bridge does
    response = client.post("/bridge/language", data={
        "lang": "en", "next": "/bridge/inbox/",
        "csrf_token": csrf_token(client, "/bridge/")})
    assert response.headers["Location"] == "/bridge/inbox/"
    language_cookie = response.headers["Set-Cookie"]
    assert language_cookie.startswith(f"{LANGUAGE_COOKIE}=en") and "Path=/bridge" in language_cookie
    assert client.get("/cookies").json == []


def test_logout_stays_in_the_bridge(mounted):
    client = Client(mounted)
    _login(client)
    response = client.post("/bridge/logout", data={"csrf_token": csrf_token(client, "/bridge/")})
    assert response.headers["Location"] == "/bridge/login"


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_hostile_next_values_never_leave_the_bridge(mounted, hostile):
    client = Client(mounted)
    response = _login(client, hostile)
    assert response.status_code == 302
    assert response.headers["Location"] == "/bridge/"
    # logged in, the login page sends a hostile next home too; so does the language switch
    response = client.get("/bridge/login", query_string={"next": hostile})
    assert response.headers["Location"] == "/bridge/"
    response = client.post("/bridge/language", data={
        "lang": "fr", "next": hostile, "csrf_token": csrf_token(client, "/bridge/")})
    assert response.headers["Location"] == "/bridge/"


def _wait_for(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_mounted_under_gunicorn_in_chromium(mounted, tmp_path, page):
    (port,) = free_ports(1)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    env = {**os.environ, "MEDSHAKE_BRIDGE_SCHEDULER": "off"}
    process = subprocess.Popen(
        [gunicorn, "--pythonpath", str(EXAMPLE.parent), "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "2", "wsgi_mount:application"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/", time.monotonic() + 60)
        page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr",
                                   "domain": "127.0.0.1", "path": "/bridge"}])
        page.goto(f"{base}/bridge/inbox/")
        assert page.url == f"{base}/bridge/login?next=/bridge/inbox/"
        page.fill("#login", "alice")
        page.fill("#password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(f"{base}/bridge/inbox/")
        screenshot(page, "embedding-mount-inbox")
        page.click("form.language button[lang=en]")
        page.wait_for_url(f"{base}/bridge/inbox/")
        assert page.locator("html").get_attribute("lang") == "en"
        cookies = page.context.cookies()
        bridge_cookies = [c for c in cookies if c["name"].startswith("medshake_bridge")]
        assert bridge_cookies and all(c["path"] == "/bridge" for c in bridge_cookies)
        page.goto(f"{base}/cookies")
        assert page.inner_text("body").strip() == "[]"
        page.goto(f"{base}/bridge/")
        page.click("text=Log out")
        page.wait_for_url(f"{base}/bridge/login")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode("utf-8", "replace")
    assert "Booting worker" in output, output
