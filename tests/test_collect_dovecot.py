"""Collection from a real dovecot over POP3 and IMAP (TLS verified), with the sandbox crypto."""

from __future__ import annotations

import pytest
from mailbuild import HPRIM_LAB
from mailworld import PDF_1

from medshake_bridge import bridge_state


def _use_mailbox(world, *, collector: str, host: str, port: int, tls: str, login: str,
                 password: str, ca_file: str) -> None:
    prefix = "apicryptPop" if collector == "pop3" else "apicryptImap"
    with world.app.app_context():
        store = bridge_state().settings
        for name, value in {
            "apicryptCollector": collector, f"{prefix}Host": host, f"{prefix}Port": str(port),
            f"{prefix}Tls": tls, "apicryptPopUser": login, "apicryptPopPassword": password,
            "apicryptTlsCaFile": ca_file,
        }.items():
            store.set(name, value, level="user", user_id=world.bob)


@pytest.mark.parametrize(("collector", "tls"), [("pop3", "tls"), ("pop3", "starttls"),
                                                ("imap", "tls"), ("imap", "starttls")])
def test_sandbox_mail_in_dovecot_reaches_the_inbox(world, dovecot, collector, tls):
    user = dovecot.add_user()
    port = {("pop3", "tls"): dovecot.pop3s, ("pop3", "starttls"): dovecot.pop3,
            ("imap", "tls"): dovecot.imaps, ("imap", "starttls"): dovecot.imap}[collector, tls]
    _use_mailbox(world, collector=collector, host="localhost", port=port, tls=tls,
                 login=user.login, password=user.password, ca_file=str(dovecot.ca_file))
    raw = world.mail(attachments=[("cr.pdf", PDF_1)])
    dovecot.seed(user.login, raw)
    report = world.collect()
    assert report.ok, report
    assert report.total("documents") == 1 and report.total("deleted") == 1
    (document,) = world.documents()
    assert document.patient_last_name == "DUPONT" and document.abnormal
    assert dovecot.messages(user.login) == []
    (message,) = world.messages()
    assert message.sha256 and message.size == len(raw)


def test_wrong_password_and_untrusted_certificate_are_reported_nothing_lost(
        world, dovecot, dovecot_untrusted):
    user = dovecot.add_user()
    dovecot.seed(user.login, world.mail(text=HPRIM_LAB))
    _use_mailbox(world, collector="pop3", host="localhost", port=dovecot.pop3s, tls="tls",
                 login=user.login, password="wrong-password", ca_file=str(dovecot.ca_file))
    report = world.collect()
    assert report.mailboxes[0].outcome == "error"
    assert "wrong-password" not in report.mailboxes[0].error
    _use_mailbox(world, collector="pop3", host="localhost", port=dovecot_untrusted.pop3s,
                 tls="tls", login=user.login, password=user.password,
                 ca_file=str(dovecot.ca_file))
    report = world.collect()
    assert report.mailboxes[0].outcome == "error"
    assert "certificate" in report.mailboxes[0].error.lower()
    assert world.messages() == [] and len(dovecot.messages(user.login)) == 1


def test_connection_dropped_mid_message_loses_nothing(world, dovecot, drop_proxy):
    user = dovecot.add_user()
    dovecot.seed(user.login, world.mail(text=HPRIM_LAB, attachments=[("cr.pdf", PDF_1)]))
    proxy = drop_proxy(dovecot.pop3, cut_after=2000)
    _use_mailbox(world, collector="pop3", host=proxy.ip, port=proxy.port, tls="none",
                 login=user.login, password=user.password, ca_file="")
    first = world.collect()
    assert first.mailboxes[0].outcome == "error" and proxy.cuts_done == 1
    assert world.messages() == [] and len(dovecot.messages(user.login)) == 1
    second = world.collect()  # the proxy lets the next connection through
    assert second.ok and second.total("documents") == 1
    assert dovecot.messages(user.login) == []
