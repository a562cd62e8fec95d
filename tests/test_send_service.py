"""Sending through the FAKE sandbox relay: the round trip and every refusal and fault.

Real parts only: Alice's v1 sandbox programs as subprocesses, the relay (aiosmtpd, STARTTLS
verified against the throwaway CA, AUTH), Bob's Maildir collected by the real pipeline. Each
fault case checks the message is clear, nothing reached Bob, nothing was recorded as sent and
no work file is left.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from mailworld import BOB, PDF_1, PDF_2
from sendworld import ALICE_SMTP_PASSWORD, DOMAIN
from sqlalchemy import select

from medshake_bridge import bridge_state, hookimpl
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, SentMessage
from medshake_bridge.models.sending import FAILED, SENT
from medshake_bridge.send.service import SendFailed, SendRefused

BOB_ADDRESS = f"{BOB}@{DOMAIN}"
LATIN_LETTER = ("Chère consœur,\n\nJe vous adresse Mme Hélène DUPONT-ÉTIENNE, âgée, pour un avis "
                "cardiologique : dyspnée d'effort à 100 m, ECG ci-joint.\nÇa ne presse pas.\n"
                "Bien à vous,\nDr Alice Martin\n").replace("consœur", "consoeur")


def _rows(app) -> list[SentMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(SentMessage).order_by(SentMessage.id)))
        db.session.expunge_all()
        return rows


def _nothing_sent(sw) -> None:
    assert sw.delivered() == []
    assert all(row.state != SENT for row in _rows(sw.app))
    assert sw.work_files() == []


def test_letter_with_accents_and_two_attachments_reaches_bob_identical(send_world):
    sw = send_world
    files = sw.attachments(("compte rendu échographie.pdf", PDF_1), ("ECG 12 dérivations.pdf",
                                                                     PDF_2))
    outcome = sw.send(sw.draft(body=LATIN_LETTER, attachments=files))
    record = outcome.record
    assert record.state == SENT and record.message_id_header.endswith(f"@{DOMAIN}>")
    assert outcome.notice == ""  # everything fits ISO-8859-1
    assert record.recipient_list == [BOB_ADDRESS]
    assert record.attachment_names == [name for name, _ in
                                       [("compte rendu échographie.pdf", 0),
                                        ("ECG 12 dérivations.pdf", 0)]]
    assert len(sw.delivered()) == 1 and sw.work_files() == []
    raw = sw.delivered()[0].read_bytes()
    assert b"DUPONT" not in raw and b"FAKE" in raw  # identity only inside the armour

    report = sw.world.collect()
    assert report.ok, report
    (document,) = sw.world.documents()
    assert document.body.strip() == LATIN_LETTER.strip()
    assert (document.patient_last_name, document.patient_first_name) == ("DUPONT-ÉTIENNE",
                                                                         "Hélène")
    assert str(document.patient_birth_date) == "1961-03-12"
    assert json.loads(document.header_json)["nir"].replace(" ", "").startswith("2610369123456")
    (message,) = sw.world.messages()
    assert message.message_id_header == record.message_id_header
    received = {item["name"]: Path(item["file"]).read_bytes()
                for item in json.loads(message.attachments_json)}
    assert received == {"compte rendu échographie.pdf": PDF_1, "ECG 12 dérivations.pdf": PDF_2}
    with sw.app.app_context():
        audited = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "mail.send")).all()
        assert [event.outcome for event in audited] == ["ok"]
        assert ALICE_SMTP_PASSWORD not in audited[0].detail


def test_characters_outside_latin1_are_transliterated_and_the_user_is_told(send_world):
    outcome = send_world.send(send_world.draft(body="Chère consœur, voici le bilan.\n"))
    assert "œ → oe" in outcome.notice
    assert outcome.record.state == SENT


@pytest.mark.parametrize(("recipient", "expected"), [
    ("bob.DURAND@gmail.com", "n'est pas une adresse Apicrypt"),
    ("bob.DURAND@apicrypt.org.evil.com", "n'est pas une adresse Apicrypt"),
    ("bob DURAND", "n'est pas une adresse électronique"),
    ("-d@medical69.apicrypt.org", "n'est pas un nom d'utilisateur Apicrypt"),
    ("", "Aucun destinataire"),
])
def test_invalid_or_non_apicrypt_recipient_is_refused_before_anything(send_world, recipient,
                                                                      expected):
    with pytest.raises(SendRefused) as refused:
        send_world.send(send_world.draft(recipients=[recipient]))
    assert expected in refused.value.errors["recipients"]
    assert _rows(send_world.app) == []
    _nothing_sent(send_world)


@pytest.mark.parametrize("subject", ["Avis pour Mme Dupont-Etienne", "HÉLÈNE, bilan",
                                     "née le 12/03/1961", "NIR 2 61 03 69 123 456"])
def test_subject_with_identity_data_is_refused(send_world, subject):
    with pytest.raises(SendRefused) as refused:
        send_world.send(send_world.draft(subject=subject))
    assert "circule en clair" in refused.value.errors["subject"]
    assert _rows(send_world.app) == []
    _nothing_sent(send_world)


def test_attachment_over_the_size_limit_is_refused(send_world):
    send_world.configure(apicryptSendMaxAttachmentMo="1")
    big = send_world.attachments(("scanner.dcm", b"\0" * (1024 * 1024 + 1)))
    with pytest.raises(SendRefused) as refused:
        send_world.send(send_world.draft(attachments=big))
    assert "scanner.dcm" in refused.value.errors["attachments"]
    assert "1 Mo" in refused.value.errors["attachments"]
    _nothing_sent(send_world)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("fault", ["server down", "wrong password", "untrusted certificate"])
def test_smtp_faults_are_explained_and_recorded_as_not_sent(send_world, throwaway_pki, fault):
    sw = send_world
    if fault == "server down":
        sw.configure(apicryptSmtpPort=str(_free_port()))
        expected = "refused the connection"
    elif fault == "wrong password":
        sw.configure(apicryptPopPassword="not-the-password")
        expected = "refused the login alice.MARTIN"
    else:
        sw.configure(apicryptTlsCaFile=str(throwaway_pki.untrusted_ca_file))
        expected = "certificate that is not trusted"
    with pytest.raises(SendFailed) as failed:
        sw.send()
    assert expected in str(failed.value)
    assert "not-the-password" not in str(failed.value)
    (row,) = _rows(sw.app)
    assert row.state == FAILED and expected in row.error and row.message_id_header == ""
    _nothing_sent(sw)


def test_relay_rejecting_one_recipient_sends_to_nobody(send_world):
    stranger = f"inconnu.PERSONNE@{DOMAIN}"
    with pytest.raises(SendFailed) as failed:
        send_world.send(send_world.draft(recipients=[BOB_ADDRESS, stranger]))
    text = str(failed.value)
    assert "refused 1 recipient" in text and stranger in text and "550" in text
    assert "unknown recipient" in text and "nothing was sent" in text
    _nothing_sent(send_world)


def test_encryption_failure_sends_nothing_and_leaves_no_work_files(send_world, monkeypatch):
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apicryptpj:exit1")
    attachment = send_world.attachments(("cr.pdf", PDF_1))
    with pytest.raises(SendFailed) as failed:
        send_world.send(send_world.draft(attachments=attachment))
    assert "apicryptpj" in str(failed.value)
    (row,) = _rows(send_world.app)
    assert row.state == FAILED
    _nothing_sent(send_world)


def test_same_token_sends_once_and_a_failed_send_can_be_retried(send_world):
    sw = send_world
    good_port = str(sw.relay.port)
    sw.configure(apicryptSmtpPort=str(_free_port()))
    with pytest.raises(SendFailed):
        sw.send(token="form-42")
    sw.configure(apicryptSmtpPort=good_port)
    first = sw.send(token="form-42")
    again = sw.send(token="form-42")
    assert not first.already and again.already
    assert again.record.id == first.record.id
    (row,) = _rows(sw.app)
    assert row.state == SENT and row.attempts == 2 and row.error == ""
    assert len(sw.delivered()) == 1


def test_clicks_racing_with_one_token_send_once_on_every_database(db_send_world):
    """Several requests with the same form token at the same moment (a double click reaching
    two workers): one sends, the others see it sent or being sent; never two messages."""
    import threading

    from medshake_bridge.models import User
    from medshake_bridge.send.service import SendInProgress, send_message

    sw = db_send_world
    draft = sw.draft()
    clicks = 4
    together = threading.Barrier(clicks, timeout=60)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def click() -> None:
        with sw.app.app_context():
            try:
                user = db.session.get(User, sw.alice)
                together.wait()
                outcome = send_message(user, draft, token="form-race")
                outcomes.append("already" if outcome.already else "sent")
            except SendInProgress:
                outcomes.append("in progress")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert outcomes.count("sent") == 1 and len(outcomes) == clicks, outcomes
    (row,) = _rows(sw.app)
    assert row.state == SENT and row.attempts == 1
    assert len(sw.delivered()) == 1


class Veto:
    def __init__(self) -> None:
        self.sent: list[str] = []

    @hookimpl
    def medshake_before_send(self, message, user):
        if "secret" in message.text:
            return "the word 'secret' may not leave the practice"
        return None

    @hookimpl
    def medshake_message_sent(self, message, user):
        # a public SentRecord and BridgeUser, not the session's rows
        assert message.user == user and message.recipients
        self.sent.append(message.message_id)


def test_hooks_may_refuse_a_message_and_hear_about_sent_ones(send_world):
    plugin = Veto()
    bridge_state(send_world.app).pm.register(plugin)
    with pytest.raises(SendRefused) as refused:
        send_world.send(send_world.draft(body="un secret\n"), token="a")
    assert "may not leave the practice" in refused.value.errors["form"]
    assert send_world.delivered() == [] and plugin.sent == []
    outcome = send_world.send(token="b")
    assert plugin.sent == [outcome.record.message_id_header]


def test_a_veto_that_raises_refuses_the_message(send_world):
    """A veto plugin that cannot answer fails closed: the message may be one it refuses."""

    class BrokenVeto:
        @hookimpl
        def medshake_before_send(self, message, user):
            raise RuntimeError("policy server down")

    bridge_state(send_world.app).pm.register(BrokenVeto(), name="broken_veto")
    with pytest.raises(SendRefused) as refused:
        send_world.send(token="c")
    assert "broken_veto" in refused.value.errors["form"]
    assert send_world.delivered() == []
