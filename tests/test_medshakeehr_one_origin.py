"""One origin: a user logs into a PHP stand-in of MedShakeEHR's login (real PHP, real
MariaDB, its cookies and fingerprint made as MedShakeEHR makes them) through
``medshake_bridge.wsgi.front``, then opens the bridge under /apicrypt and is recognised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from medshakeehr_world import ADMIN_PASSWORD, FINGERPRINT, SQL_VAR_PASSWORD, Ehr, configure
from sqlalchemy.engine import make_url
from support.php import php_server
from werkzeug.test import Client

from medshake_bridge.wsgi import front

pytestmark = [pytest.mark.real_component("mariadb"), pytest.mark.real_component("php")]
LOGIN = Path(__file__).parent / "data" / "php_front" / "medshake_login.php"
BROWSER = {"User-Agent": "Mozilla/5.0 test", "Accept-Language": "fr-FR,fr;q=0.9"}


@pytest.fixture
def php_ehr(ehr: Ehr):
    url = make_url(ehr.url)
    env = {**os.environ, "MSEHR_KEY": SQL_VAR_PASSWORD, "MSEHR_FP": FINGERPRINT,
           "MSEHR_DSN": f"mysql:host={url.host};port={url.port or 3306};"
                        f"dbname={url.database};charset=utf8mb4"}
    with php_server(LOGIN, env=env, packages="php-cli php-mysql") as base_url:
        yield base_url


def test_logged_into_medshakeehr_means_logged_into_the_bridge(ehr_app, ehr: Ehr, php_ehr):
    from medshake_bridge.users import create_user

    configure(ehr_app, ehr, medshakeEhrSingleSignOn=True)
    with ehr_app.app_context():
        create_user("alice", "correct horse battery")
    assert ehr_app.test_cli_runner().invoke(
        args=["medshakeehr", "link-user", "alice", "3"]).exit_code == 0
    browser = Client(front(php_ehr, "/apicrypt", bridge=ehr_app))
    assert browser.get("/apicrypt/", headers=BROWSER).status_code == 302  # not logged in yet
    wrong = browser.post("/login/logInDo/", headers=BROWSER,
                         data={"p_username": "admin", "p_password": "wrong"})
    assert wrong.status_code == 403
    login = browser.post("/login/logInDo/", headers=BROWSER,
                         data={"p_username": "admin", "p_password": ADMIN_PASSWORD})
    assert login.status_code == 302 and login.headers["Location"] == "/patient/"
    # PHP percent-encodes the value ($2y$… is sent as %242y%24…)
    assert browser.get_cookie("userPass").value.startswith("%242y%24")
    home = browser.get("/apicrypt/", headers=BROWSER)
    assert home.status_code == 200, home.status_code
    assert "alice" in home.get_data(as_text=True)
    assert browser.get("/patient/", headers=BROWSER).get_data() == b"EHR page /patient/"
    # the same cookies from another browser are refused (fingerprint)
    thief = Client(front(php_ehr, "/apicrypt", bridge=ehr_app))
    for name in ("userName", "userPass"):
        thief.set_cookie(name, browser.get_cookie(name).value)
    assert thief.get("/apicrypt/", headers={**BROWSER, "User-Agent": "curl/8"}
                     ).status_code == 302


@pytest.mark.real_component("chromium")
def test_in_chromium_login_at_the_ehr_opens_the_bridge(ehr_app, ehr: Ehr, php_ehr, page,
                                                       live_server):
    from medshake_bridge.users import create_user

    configure(ehr_app, ehr, medshakeEhrSingleSignOn=True)
    with ehr_app.app_context():
        create_user("alice", "correct horse battery")
    assert ehr_app.test_cli_runner().invoke(
        args=["medshakeehr", "link-user", "alice", "3"]).exit_code == 0
    base = live_server(front(php_ehr, "/apicrypt", bridge=ehr_app))
    page.goto(f"{base}/apicrypt/")
    assert "/apicrypt/login" in page.url  # nobody logged in anywhere yet
    page.goto(f"{base}/login/")
    page.fill("#u", "admin")
    page.fill("#p", ADMIN_PASSWORD)
    page.click("#go")
    page.wait_for_url(f"{base}/patient/")
    assert "EHR page /patient/" in page.content()
    page.goto(f"{base}/apicrypt/")
    assert page.url == f"{base}/apicrypt/"
    assert "alice" in page.content()
    page.goto(f"{base}/logout/")  # MedShakeEHR's logout: its cookies expire
    page.goto(f"{base}/apicrypt/")
    assert "/apicrypt/login" in page.url
