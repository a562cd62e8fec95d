"""The test infrastructure itself: each real-component fixture, exercised with stdlib clients.

These tests show how the fixtures of ``tests/support`` are meant to be used, and prove the facts
the product's tests rely on (UIDL stability, DELE applied at QUIT, STARTTLS, certificate
failures, connections cut mid-message, SMTP refusals, the browser round trip).
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import os
import poplib
import re
import smtplib
import ssl
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.browser import SCREENSHOT_DIR, screenshot
from support.components import require_component, running_under_ci
from support.net import DropProxy

TESTS_DIR = Path(__file__).resolve().parent


def make_message(subject: str, body: str = "Bonjour.\n", size: int = 0) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Laboratoire <labo@example.org>"
    message["To"] = "Dr Test <docteur@example.org>"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.org>"
    message.set_content(body + ("x" * 76 + "\n") * (size // 77))
    return message


def parse(lines: list[bytes]) -> EmailMessage:
    message = email.message_from_bytes(b"\r\n".join(lines), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def pop3_login(host: str, port: int, user, **kwargs) -> poplib.POP3:
    client = poplib.POP3(host, port, timeout=10, **kwargs)
    client.user(user.login)
    client.pass_(user.password)
    return client


# --- components: skip locally, fail under CI -----------------------------------------------


def test_require_component_passes_when_available(monkeypatch):
    monkeypatch.setenv("CI", "true")
    require_component("anything", True, "not used")


def test_require_component_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert not running_under_ci()
    with pytest.raises(pytest.skip.Exception, match="'dovecot' not available: no binary"):
        require_component("dovecot", False, "no binary")


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", "woodpecker"])
def test_require_component_fails_under_any_truthy_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert running_under_ci()
    with pytest.raises(pytest.fail.Exception, match=f"'dovecot' is missing and CI={value},"):
        require_component("dovecot", False, "no binary")


@pytest.mark.parametrize("value", ["", " ", "0", "false", "False", "no", "off"])
def test_an_empty_or_explicitly_false_ci_is_local(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert not running_under_ci()
    with pytest.raises(pytest.skip.Exception):
        require_component("dovecot", False, "no binary")


INNER_TESTS = """
import pytest
from support.components import register_component

register_component("unobtainium", lambda: "not made on this planet")


@pytest.mark.real_component("unobtainium")
def test_missing_component():
    raise AssertionError("must not run: the component is missing")


@pytest.mark.real_component("dovecot")
@pytest.mark.skipif(True, reason="skipped for another reason")
def test_marked_and_skipped():
    pass


def test_ordinary_skip():
    pytest.skip("an ordinary test may skip, even under CI")
"""


def run_inner_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "support.components", "-p"]
    command += ["no:cacheprovider", "-q", "-rA", "test_inner.py"]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_real_component_marker_skips_locally(tmp_path):
    result = run_inner_pytest(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 skipped" in result.stdout
    assert "real component 'unobtainium' not available: not made on this planet" in result.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_real_component_skips_are_failures_under_ci(tmp_path, ci):
    result = run_inner_pytest(tmp_path, ci=ci)
    assert result.returncode == 1, result.stdout + result.stderr
    # a failure in the setup phase is reported by pytest as an "error"
    assert "1 skipped, 2 errors" in result.stdout
    assert f"'unobtainium' is missing and CI={ci}," in result.stdout
    assert f"CI={ci}, which counts as a failure: Skipped: skipped for another" in result.stdout


def test_fixtures_mark_their_tests(request):
    # this test uses no real component, so it carries no marker...
    assert request.node.get_closest_marker("real_component") is None


def test_dovecot_fixture_marks_the_test(request, mail_user):
    # ...while using a dovecot fixture adds real_component("dovecot") at collection.
    marker = request.node.get_closest_marker("real_component")
    assert marker is not None and marker.args == ("dovecot",)


# --- dovecot: POP3 ---------------------------------------------------------------------------


def test_pop3_user_pass_uidl_retr_dele(dovecot, mail_user):
    keys = [dovecot.seed(mail_user.login, make_message(f"Résultat {n}")) for n in range(3)]
    assert [m.key for m in dovecot.messages(mail_user.login)] == keys  # seen at once, in order

    client = pop3_login(dovecot.ip, dovecot.pop3, mail_user)
    count, _size = client.stat()
    assert count == 3
    _resp, listing, _ = client.uidl()
    uidls = dict(line.decode().split() for line in listing)
    assert len(set(uidls.values())) == 3
    for number in range(1, 4):
        _resp, lines, _ = client.retr(number)
        assert parse(lines)["Subject"] == f"Résultat {number - 1}"
    client.dele(1)
    assert len(dovecot.messages(mail_user.login)) == 3  # DELE is applied at QUIT only
    client.quit()

    left = dovecot.messages(mail_user.login)
    assert [m.key for m in left] == keys[1:]
    assert all(m.folder == "cur" and "S" in m.flags for m in left)  # RETR marked them read
    assert left[0].message["Subject"] == "Résultat 1"

    client = pop3_login(dovecot.ip, dovecot.pop3, mail_user)
    _resp, listing, _ = client.uidl()
    client.quit()
    assert dict(line.decode().split() for line in listing) == {"1": uidls["2"], "2": uidls["3"]}


def test_pop3_quit_without_dele_keeps_everything(dovecot, mail_user):
    dovecot.seed(mail_user.login, b"Subject: raw bytes\r\n\r\nline one\r\n.dot line\r\n")
    client = pop3_login(dovecot.ip, dovecot.pop3, mail_user)
    _resp, lines, _ = client.retr(1)
    client.quit()
    assert lines[-2:] == [b"line one", b".dot line"]  # dot-stuffing undone by poplib
    assert len(dovecot.messages(mail_user.login)) == 1


def test_pop3_stls_with_trusted_ca(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("via STLS"))
    client = poplib.POP3(dovecot.host, dovecot.pop3, timeout=10)
    assert "STLS" in client.capa()
    client.stls(context=dovecot.client_context())
    client.user(mail_user.login)
    client.pass_(mail_user.password)
    assert client.stat()[0] == 1
    client.quit()


def test_pop3_ssl(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("via POP3S"))
    client = poplib.POP3_SSL(
        dovecot.host, dovecot.pop3s, context=dovecot.client_context(), timeout=10
    )
    client.user(mail_user.login)
    client.pass_(mail_user.password)
    assert client.stat()[0] == 1
    assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
    client.quit()


def test_wrong_password_fails(dovecot, mail_user):
    client = poplib.POP3(dovecot.ip, dovecot.pop3, timeout=10)
    client.user(mail_user.login)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Authentication failed"):
        client.pass_(mail_user.password + "-wrong")
    client.close()
    imap = imaplib.IMAP4(dovecot.ip, dovecot.imap, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login(mail_user.login, "wrong")
    imap.shutdown()


def test_users_added_and_changed_while_dovecot_runs(dovecot, mail_user):
    # dovecot re-reads the passwd-file when it changes: no restart, no reload needed
    pop3_login(dovecot.ip, dovecot.pop3, mail_user).quit()
    newcomer = dovecot.add_user("docteur.martin@cabinet.example", "s3cret pass")
    pop3_login(dovecot.ip, dovecot.pop3, newcomer).quit()
    dovecot.set_password(newcomer.login, "changed-pass")
    with pytest.raises(poplib.error_proto, match="Authentication failed"):
        pop3_login(dovecot.ip, dovecot.pop3, newcomer)
    client = poplib.POP3(dovecot.ip, dovecot.pop3, timeout=10)
    client.user(newcomer.login)
    client.pass_("changed-pass")
    client.quit()


# --- dovecot: IMAP ---------------------------------------------------------------------------


def test_imap_login_select_uid_search(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("premier"))
    dovecot.seed(mail_user.login, make_message("second"))
    imap = imaplib.IMAP4(dovecot.ip, dovecot.imap, timeout=10)
    imap.login(mail_user.login, mail_user.password)
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    assert typ == "OK" and len(uids) == 2
    typ, data = imap.uid("FETCH", uids[1], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: second" in data[0][1]
    typ, data = imap.status("INBOX", "(UIDVALIDITY)")
    assert typ == "OK" and b"UIDVALIDITY" in data[0]
    imap.logout()


def test_imap_starttls_and_imap4_ssl(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("chiffré"))
    imap = imaplib.IMAP4(dovecot.host, dovecot.imap, timeout=10)
    imap.starttls(ssl_context=dovecot.client_context())
    imap.login(mail_user.login, mail_user.password)
    assert imap.select("INBOX", readonly=True) == ("OK", [b"1"])
    imap.logout()

    imaps = imaplib.IMAP4_SSL(
        dovecot.host, dovecot.imaps, ssl_context=dovecot.client_context(), timeout=10
    )
    imaps.login(mail_user.login, mail_user.password)
    imaps.select("INBOX")
    typ, data = imaps.uid("SEARCH", None, "ALL")
    assert typ == "OK" and len(data[0].split()) == 1
    imaps.logout()


# --- dovecot: certificates -------------------------------------------------------------------


def test_untrusted_certificate_fails(dovecot_untrusted, mail_user, throwaway_pki):
    context = dovecot_untrusted.client_context()  # trusts the session's (trusted) CA only
    with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED") as err:
        poplib.POP3_SSL(dovecot_untrusted.host, dovecot_untrusted.pop3s, context=context)
    assert err.value.verify_message == "unable to get local issuer certificate"

    client = poplib.POP3(dovecot_untrusted.host, dovecot_untrusted.pop3, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
        client.stls(context=context)
    # poplib quirk: the failed handshake closed the socket, so POP3.close() raises EBADF
    with pytest.raises(OSError):
        client.close()

    with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
        imaplib.IMAP4_SSL(dovecot_untrusted.host, dovecot_untrusted.imaps, ssl_context=context)

    # the same server is fine for a client trusting the CA that really signed it
    other = ssl.create_default_context(cafile=str(throwaway_pki.untrusted_ca_file))
    client = poplib.POP3_SSL(dovecot_untrusted.host, dovecot_untrusted.pop3s, context=other)
    client.user(mail_user.login)  # same users as the trusted instance
    client.pass_(mail_user.password)
    client.quit()


def test_system_trust_store_rejects_throwaway_ca(dovecot):
    with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
        poplib.POP3_SSL(dovecot.host, dovecot.pop3s, context=ssl.create_default_context())


def test_certificate_is_for_localhost_not_the_ip(dovecot):
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        poplib.POP3_SSL(dovecot.ip, dovecot.pop3s, context=dovecot.client_context())


# --- dovecot: a connection dropped mid-message ---------------------------------------------


@pytest.mark.parametrize(
    ("mode", "error"),
    [("close", poplib.error_proto), ("reset", ConnectionResetError)],
)
def test_drop_proxy_cuts_retr_once(dovecot, mail_user, drop_proxy, mode, error):
    key = dovecot.seed(mail_user.login, make_message("gros compte rendu", size=200_000))
    proxy: DropProxy = drop_proxy(dovecot.pop3, cut_after=5000, trigger=b"RETR ", mode=mode)

    client = pop3_login(proxy.ip, proxy.port, mail_user)  # login goes through untouched
    assert client.stat()[0] == 1
    with pytest.raises(error):
        client.retr(1)
    client.close()
    assert proxy.cut_event.is_set() and proxy.cuts_done == 1
    # nothing was deleted (dovecot may have marked it read: RETR had started)
    assert [m.key for m in dovecot.messages(mail_user.login)] == [key]

    # cuts=1: the next connection (a retry) goes through
    client = pop3_login(proxy.ip, proxy.port, mail_user)
    _resp, lines, octets = client.retr(1)
    client.dele(1)
    client.quit()
    assert octets > 200_000 and b"Subject: gros compte rendu" in lines
    assert dovecot.messages(mail_user.login) == []
    assert proxy.connections == 2 and proxy.cuts_done == 1


def test_drop_proxy_stall_leads_to_client_timeout(dovecot, mail_user, drop_proxy):
    dovecot.seed(mail_user.login, make_message("bloqué", size=100_000))
    proxy = drop_proxy(dovecot.pop3, cut_after=100, trigger=b"RETR ", mode="stall")
    client = poplib.POP3(proxy.ip, proxy.port, timeout=1)
    client.user(mail_user.login)
    client.pass_(mail_user.password)
    with pytest.raises(TimeoutError):
        client.retr(1)
    client.close()


def test_drop_proxy_in_front_of_tls(dovecot, mail_user, drop_proxy):
    # TLS is opaque to the proxy: cut a fixed number of bytes after the connection opens
    proxy = drop_proxy(dovecot.pop3s, cut_after=0, mode="reset")
    with pytest.raises((ConnectionResetError, ssl.SSLError)):
        poplib.POP3_SSL(proxy.host, proxy.port, context=dovecot.client_context(), timeout=5)
    assert proxy.cuts_done == 1
    client = poplib.POP3_SSL(proxy.host, proxy.port, context=dovecot.client_context(), timeout=5)
    client.user(mail_user.login)
    client.pass_(mail_user.password)
    client.quit()


# --- SMTP ------------------------------------------------------------------------------------


def test_smtp_starttls_auth_send_message(smtp_server):
    message = make_message("Compte rendu HPRIM")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=smtp_server.client_context())
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"]
        assert "LOGIN" in client.esmtp_features["auth"]
        client.login(*smtp_server.credentials)
        refused = client.send_message(
            message, from_addr="bridge@example.org", to_addrs=["a@example.org", "b@example.org"]
        )
    assert refused == {}
    (received,) = smtp_server.wait_for_messages(1)
    assert received.mail_from == "bridge@example.org"
    assert received.rcpt_tos == ["a@example.org", "b@example.org"]
    assert received.auth_login == smtp_server.login
    assert received.tls is True
    assert received.message["Subject"] == "Compte rendu HPRIM"
    assert b"\r\nSubject: Compte rendu HPRIM\r\n" in received.raw


def test_smtp_rejected_recipient(smtp_server):
    reply = smtp_server.reject_recipient("inconnu@example.org")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=smtp_server.client_context())
        client.login(*smtp_server.credentials)
        refused = client.send_message(
            make_message("partiel"),
            from_addr="bridge@example.org",
            to_addrs=["ok@example.org", "Inconnu@example.org"],
        )
        assert refused == {"Inconnu@example.org": (550, reply[4:].encode())}
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            client.send_message(
                make_message("refusé"), from_addr="b@example.org", to_addrs=["inconnu@example.org"]
            )
    code, text = err.value.recipients["inconnu@example.org"]
    assert code == 550 and b"Recipient address rejected" in text
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ok@example.org"]]


def test_smtp_refuses_auth_without_tls_and_bad_password(smtp_server):
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login(*smtp_server.credentials)  # AUTH is not offered before STARTTLS
        with pytest.raises(smtplib.SMTPSenderRefused):  # STARTTLS is required
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nx\r\n")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=smtp_server.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            client.login(smtp_server.login, "wrong")
        assert err.value.smtp_code == 535
    # smtplib tries each mechanism it knows (PLAIN, then LOGIN): all refused
    assert {attempt for attempt in smtp_server.auth_attempts} == {(smtp_server.login, False)}
    assert smtp_server.messages == []


def test_smtp_temporary_failure_on_data(smtp_server):
    smtp_server.fail_data("451 4.3.0 Mail server temporarily rejected message")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.starttls(context=smtp_server.client_context())
        client.login(*smtp_server.credentials)
        with pytest.raises(smtplib.SMTPDataError) as err:
            client.send_message(make_message("plus tard"), "a@example.org", ["b@example.org"])
    assert err.value.smtp_code == 451


def test_smtp_implicit_tls_and_custom_handler(smtp_server_factory, smtp_controller_factory):
    server = smtp_server_factory(implicit_tls=True, users={"relay": "pw"})
    with smtplib.SMTP_SSL(
        server.host, server.port, context=server.client_context(), timeout=10
    ) as client:
        client.login("relay", "pw")
        client.send_message(make_message("SMTPS"), "a@example.org", ["b@example.org"])
    assert server.wait_for_messages(1)[0].tls is True

    seen = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            seen.append(envelope.rcpt_tos)
            return "250 kept"

    controller = smtp_controller_factory(Handler())
    with smtplib.SMTP(controller.hostname, controller.port, timeout=10) as client:
        client.sendmail("a@example.org", ["sandbox@example.org"], b"Subject: s\r\n\r\nx\r\n")
    assert seen == [["sandbox@example.org"]]


# --- browser ---------------------------------------------------------------------------------


def make_flask_app():
    from flask import Flask, request

    app = Flask("infrastructure-smoke")
    clicks = []

    @app.get("/")
    def index():
        return (
            "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Essai</title>"
            "</head><body><h1>Passerelle</h1><form method='post' action='/clic'>"
            "<input name='who' value='docteur'><button id='go' type='submit'>Envoyer</button>"
            "</form></body></html>"
        )

    @app.post("/clic")
    def clicked():
        clicks.append(request.form["who"])
        return f"<!doctype html><p id='done'>Reçu : {len(clicks)} clic de {clicks[-1]}</p>"

    app.config["clicks"] = clicks
    return app


def test_browser_live_server_click_and_screenshot(page, live_server):
    app = make_flask_app()
    base_url = live_server(app)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
    page.goto(base_url + "/")
    assert page.title() == "Essai"
    page.fill("input[name=who]", "Dr Martin")
    page.click("#go")
    page.wait_for_selector("#done")
    assert page.inner_text("#done") == "Reçu : 1 clic de Dr Martin"
    assert app.config["clicks"] == ["Dr Martin"]

    path = screenshot(page, "infrastructure/after click")
    assert path == SCREENSHOT_DIR / "infrastructure_after_click.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the suite tests the source tree ---------------------------------------------------------


def test_the_suite_imports_the_host_and_every_plugin_from_the_source_tree():
    """An edit under plugins/ must be what the tests run: a stale non-editable install would
    let the suite pass against the old code (scripts/test installs editable)."""
    from importlib.metadata import entry_points

    import medshake_bridge

    repo = TESTS_DIR.parent
    assert Path(medshake_bridge.__file__).resolve().is_relative_to(repo / "medshake_bridge")
    found = entry_points(group="medshake_bridge")
    assert {e.name for e in found} >= {"apicrypt_v1", "apicrypt_v2", "pop3", "imap",
                                        "maildir", "keys"}
    for entry in found:
        module = sys.modules.get(entry.module) or __import__(entry.module, fromlist=["_"])
        where = Path(module.__file__).resolve()
        assert where.is_relative_to(repo / "plugins"), (entry.name, where)


def test_scripts_test_installs_editable():
    script = (TESTS_DIR.parent / "scripts" / "test").read_text()
    assert '--editable ".[test]"' in script and "--no-deps ." not in script
