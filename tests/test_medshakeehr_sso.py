"""Single sign-on from MedShakeEHR's cookies, checked exactly as MedShakeEHR checks them; cookies
made by real PHP (``password_hash``), linked accounts only, tampering refused, off by default."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from medshakeehr_world import ADMIN_HASH, Ehr, configure

pytestmark = pytest.mark.real_component("mariadb")
HEADERS = {"Accept-Language": "fr-FR", "User-Agent": "pytest-agent"}
SAMPLE_COOKIE = "$2y$10$abcdefghijklmnopqrstuusa4PqzqmYDO5e/O6ewFLOcGPZaysKN."


def php_cookie(stored_hash: str) -> str:
    """``userPass`` as MedShakeEHR's _loginSetCookies makes it: password_hash of the hash."""
    from support.components import require_component

    require_component("php", shutil.which("php") is not None,
                      "no php; install it with `apt-get install -y php-cli`")
    return subprocess.run(["php", "-r", "echo password_hash($argv[1], PASSWORD_DEFAULT);",
                           stored_hash], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.fixture
def sso_app(ehr_app, ehr: Ehr):
    from medshake_bridge.users import create_user

    configure(ehr_app, ehr, medshakeEhrSingleSignOn=True)
    with ehr_app.app_context():
        create_user("alice", "correct horse battery")
    assert ehr_app.test_cli_runner().invoke(
        args=["medshakeehr", "link-user", "alice", "3"]).exit_code == 0
    return ehr_app


def _home(app, cookies, headers=HEADERS):
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client.get("/", headers=headers)


def test_a_cookie_pair_made_by_php_logs_the_linked_user_in(sso_app):
    cookie = php_cookie(ADMIN_HASH)
    assert cookie.startswith("$2y$")
    page = _home(sso_app, {"userName": "admin", "userPass": cookie})
    assert page.status_code == 200, page.status_code
    assert "alice" in page.get_data(as_text=True)


def test_the_reference_sample_cookie_is_accepted(sso_app):
    assert _home(sso_app, {"userName": "admin", "userPass": SAMPLE_COOKIE}).status_code == 200


@pytest.mark.parametrize("cookies,headers", [
    ({"userName": "admin", "userPass": SAMPLE_COOKIE[:-2] + "xx"}, HEADERS),
    ({"userName": "drmartin", "userPass": SAMPLE_COOKIE}, HEADERS),
    ({"userName": "admin", "userPass": SAMPLE_COOKIE}, {**HEADERS, "User-Agent": "other"}),
    ({"userName": "admin", "userPass": SAMPLE_COOKIE},
     {**HEADERS, "Accept-Language": "en-US"}),
    ({"userName": "admin", "apacheLogUserID": "3"}, HEADERS),
    ({"apacheLogUserID": "3", "userPass": SAMPLE_COOKIE}, HEADERS),
])
def test_tampered_or_foreign_cookies_are_refused(sso_app, cookies, headers):
    assert _home(sso_app, cookies, headers).status_code == 302


def test_a_new_login_elsewhere_invalidates_the_old_cookie(sso_app, ehr: Ehr):
    ehr.execute("UPDATE people SET lastLogDate='2024-03-03 03:03:03', lastLogFingerprint="
                "SHA1(CONCAT('fr-FR','testfp01','pytest-agent','2024-03-03 03:03:04')) WHERE id=3")
    assert _home(sso_app, {"userName": "admin", "userPass": SAMPLE_COOKIE}).status_code == 302


def test_unlinked_accounts_are_not_recognised_nor_provisioned(ehr_app, ehr: Ehr):
    configure(ehr_app, ehr, medshakeEhrSingleSignOn=True)
    ehr_app.config["MEDSHAKE_BRIDGE_AUTO_PROVISION"] = True
    assert _home(ehr_app, {"userName": "admin", "userPass": SAMPLE_COOKIE}).status_code == 302
    from medshake_bridge.users import list_users

    with ehr_app.app_context():
        assert list_users() == []


def test_off_by_default(ehr_app, ehr: Ehr):
    from medshake_bridge.users import create_user

    with ehr_app.app_context():
        create_user("alice", "correct horse battery")
    ehr_app.test_cli_runner().invoke(args=["medshakeehr", "link-user", "alice", "3"])
    assert _home(ehr_app, {"userName": "admin", "userPass": SAMPLE_COOKIE}).status_code == 302


def test_medshakeehr_rules_two_factor_and_maintenance(sso_app, ehr: Ehr):
    cookies = {"userName": "admin", "userPass": SAMPLE_COOKIE}
    ehr.execute("INSERT INTO configuration (name, level, value) VALUES "
                "('optionGeLogin2FA', 'default', 'true')")
    assert _home(sso_app, cookies).status_code == 302  # 2FA required, no secret yet
    ehr.execute("UPDATE people SET secret2fa=AES_ENCRYPT('JBSWY3DPEHPK3PXP','testVarPwd') "
                "WHERE id=3")
    assert _home(sso_app, cookies).status_code == 200
    ehr.execute("UPDATE people SET `rank`='' WHERE id=3")
    ehr.execute("UPDATE `system` SET value='maintenance' WHERE name='state'")
    assert _home(sso_app, cookies).status_code == 302  # maintenance: admins only
