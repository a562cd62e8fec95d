"""Mail server reachability (TCP + verified TLS, no login) against the real dovecot and aiosmtpd
fixtures, and the admin's *test login* button."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sysinfo_helpers import store_settings
from web_helpers import events, login, make_people, post

from medshake_bridge.sysinfo import run_system_checks
from medshake_bridge.sysinfo.reachability import ServerTarget, probe_server, try_smtp_login

LONG_BEFORE_EXPIRY = datetime(2000, 1, 1, tzinfo=UTC)
PREFIX = {"POP3": "apicryptPop", "IMAP": "apicryptImap", "SMTP": "apicryptSmtp"}


def _target(protocol: str, port: int, tls: str, ca_file: Path | str = "",
            host: str = "localhost") -> ServerTarget:
    return ServerTarget(protocol, host, port, tls, str(ca_file), PREFIX[protocol])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_pop3_and_imap_reachable_with_verified_tls_and_no_login(dovecot) -> None:
    cases = [("POP3", dovecot.pop3s, "tls"), ("POP3", dovecot.pop3, "starttls"),
             ("IMAP", dovecot.imaps, "tls"), ("IMAP", dovecot.imap, "starttls")]
    for protocol, port, tls in cases:
        check = probe_server(_target(protocol, port, tls, dovecot.ca_file), timeout=3,
                             now=LONG_BEFORE_EXPIRY)
        assert check.ok is True, check
        assert "certificate trusted" in check.detail and "valid until" in check.detail
        assert ("STARTTLS" if tls == "starttls" else "implicit TLS") in check.detail
    log = dovecot.log_text()
    assert "no auth attempts" in log  # the probes never logged in


def test_certificate_expiring_soon_is_a_warning(dovecot) -> None:
    """The throwaway certificate lives two days: close enough to expiry to be flagged."""
    check = probe_server(_target("POP3", dovecot.pop3s, "tls", dovecot.ca_file), timeout=3)
    assert check.ok is None and "days left" in check.detail
    assert "expires soon" in check.fix


def test_refused_port_untrusted_certificate_and_plaintext(dovecot, dovecot_untrusted) -> None:
    refused = probe_server(_target("POP3", _closed_port(), "tls", dovecot.ca_file), timeout=2)
    assert refused.ok is False and "refused the connection" in refused.detail
    assert "apicryptPopHost" in refused.fix and "apicryptPopPort" in refused.fix

    untrusted = probe_server(_target("POP3", dovecot_untrusted.pop3s, "tls", dovecot.ca_file),
                             timeout=3)
    assert untrusted.ok is False and "not trusted" in untrusted.detail
    assert "apicryptTlsCaFile" in untrusted.fix
    untrusted_imap = probe_server(_target("IMAP", dovecot_untrusted.imap, "starttls",
                                          dovecot.ca_file), timeout=3)
    assert untrusted_imap.ok is False and "not trusted" in untrusted_imap.detail

    wrong_name = probe_server(_target("POP3", dovecot.pop3s, "tls", dovecot.ca_file,
                                      host="127.0.0.1"), timeout=3)
    assert wrong_name.ok is False and "not trusted" in wrong_name.detail

    clear = probe_server(_target("POP3", dovecot.pop3, "none", host=dovecot.ip), timeout=3)
    assert clear.ok is None and "WITHOUT TLS" in clear.detail
    assert "apicryptPopTls" in clear.fix

    tls_on_plain_port = probe_server(_target("IMAP", dovecot.imap, "tls", dovecot.ca_file),
                                     timeout=2)
    assert tls_on_plain_port.ok is False and "apicryptImapTls" in tls_on_plain_port.fix


def test_smtp_reachable_starttls_and_implicit_tls_and_login_on_request(
        smtp_server, smtp_server_factory) -> None:
    check = probe_server(_target("SMTP", smtp_server.port, "starttls", smtp_server.ca_file),
                         timeout=3, now=LONG_BEFORE_EXPIRY)
    assert check.ok is True and "STARTTLS" in check.detail
    implicit = smtp_server_factory(implicit_tls=True)
    assert probe_server(_target("SMTP", implicit.port, "tls", implicit.ca_file),
                        timeout=3, now=LONG_BEFORE_EXPIRY).ok is True
    assert smtp_server.auth_attempts == []  # a probe never logs in

    target = _target("SMTP", smtp_server.port, "starttls", smtp_server.ca_file)
    good = try_smtp_login(target, smtp_server.login, smtp_server.password, timeout=3)
    assert good.ok is True
    bad = try_smtp_login(target, smtp_server.login, "Wrong-Pass-123", timeout=3)
    assert bad.ok is False and "refused the login" in bad.detail
    assert "Wrong-Pass-123" not in bad.detail + bad.fix
    attempts = smtp_server.auth_attempts
    assert attempts[0] == (smtp_server.login, True)  # smtplib tries each mechanism in turn
    assert attempts[1:] and all(ok is False for _login, ok in attempts[1:])
    assert smtp_server.messages == []  # nothing was sent


@pytest.fixture
def mail_site(app, dovecot, smtp_server_factory):
    people = make_people(app)
    user = dovecot.add_user()
    smtp = smtp_server_factory(users={"alice.MARTIN": user.password})
    store_settings(app, {
        "apicryptAdresse": "alice.MARTIN@medical69.apicrypt.org",
        "apicryptUtilisateur": "alice.MARTIN",
        "apicryptCollector": "pop3", "apicryptPopHost": "localhost",
        "apicryptPopPort": str(dovecot.pop3s), "apicryptPopTls": "tls",
        "apicryptPopUser": user.login, "apicryptPopPassword": user.password,
        "apicryptTlsCaFile": str(dovecot.ca_file),  # the same throwaway CA signs both
        "apicryptSmtpHost": "localhost", "apicryptSmtpPort": str(smtp.port),
        "apicryptSmtpTls": "starttls",
    }, user_id=people.alice)
    return app, people, user, smtp


def test_configured_mailbox_and_smtp_server_are_probed_through_the_checks(mail_site) -> None:
    app, _people, _user, smtp = mail_site
    checks = {c.name: c for c in run_system_checks(app).checks if c.category == "mail"}
    pop = next(c for name, c in checks.items() if name.startswith("POP3 server localhost:"))
    assert pop.ok is not False and "certificate trusted" in pop.detail  # a 2-day certificate:
    assert pop.name.endswith("(alice)")                                 # a warning at most
    smtp_check = checks[f"SMTP server localhost:{smtp.port} (alice)"]
    assert smtp_check.ok is not False and "STARTTLS" in smtp_check.detail
    assert smtp.auth_attempts == []


def test_test_login_button_logs_in_audits_and_never_shows_the_password(mail_site,
                                                                       dovecot) -> None:
    app, people, user, smtp = mail_site
    dovecot.seed(user.login, b"Subject: kept\r\n\r\nstays on the server\r\n")
    client = app.test_client()
    login(client, "admin")
    key = f"pop3://{user.login}@localhost:"
    page = client.get("/admin/system/").get_data(as_text=True)
    assert key in page and "Tester la connexion" in page
    mailbox = page.split('name="mailbox" value="')[1].split('"')[0]
    done = post(client, "/admin/system/test-login", {"mailbox": mailbox},
                page="/admin/system/", follow_redirects=True)
    assert "Connexion acceptée" in done.get_data(as_text=True)
    assert smtp.auth_attempts == [("alice.MARTIN", True)] and smtp.messages == []
    assert events(app, "system.test_login")[-1].outcome == "ok"

    store_settings(app, {"apicryptPopPassword": "Not-The-Password-42"}, user_id=people.alice)
    failed = post(client, "/admin/system/test-login", {"mailbox": mailbox},
                  page="/admin/system/", follow_redirects=True).get_data(as_text=True)
    assert "refused the login" in failed and "Not-The-Password-42" not in failed
    event = events(app, "system.test_login")[-1]
    assert event.outcome == "failed" and "Not-The-Password-42" not in event.detail
    assert len(dovecot.messages(user.login)) == 1  # nothing read away, nothing deleted

    unknown = post(client, "/admin/system/test-login", {"mailbox": "pop3://x@y:1"},
                   page="/admin/system/")
    assert unknown.status_code == 404
