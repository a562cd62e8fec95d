"""Alice -> FAKE relay -> Bob's real dovecot mailbox -> POP3 (TLS verified) -> Bob's inbox."""

from __future__ import annotations

import json
from pathlib import Path

from mailworld import BOB, PDF_1, PDF_2
from sendworld import SendWorld

from medshake_bridge import bridge_state
from medshake_bridge.models.sending import SENT

LETTER = ("Cher confrère,\n\nMme Hélène DUPONT-ÉTIENNE, 65 ans, présente une dyspnée "
          "d'effort. Échographie et ECG ci-joints.\nÀ votre disposition,\nDr Alice Martin\n")


def test_round_trip_through_the_relay_into_dovecot_and_back_over_pop3(world, dovecot,
                                                                       throwaway_pki):
    mailbox = dovecot.add_user()
    sw = SendWorld(world, throwaway_pki,
                   mailbox_for=lambda local: dovecot.maildir(mailbox.login) if local == BOB
                   else None)
    try:
        with world.app.app_context():
            store = bridge_state().settings
            for name, value in {
                "apicryptCollector": "pop3", "apicryptPopHost": "localhost",
                "apicryptPopPort": str(dovecot.pop3s), "apicryptPopTls": "tls",
                "apicryptPopUser": mailbox.login, "apicryptPopPassword": mailbox.password,
                "apicryptTlsCaFile": str(dovecot.ca_file),
            }.items():
                store.set(name, value, level="user", user_id=world.bob)
        files = sw.attachments(("échographie cardiaque.pdf", PDF_1), ("ECG.pdf", PDF_2))
        outcome = sw.send(sw.draft(body=LETTER, attachments=files))
        assert outcome.record.state == SENT
        assert len(dovecot.messages(mailbox.login)) == 1
        report = world.collect(user_id=world.bob)
        assert report.ok, report
        (document,) = world.documents()
        assert document.body.strip() == LETTER.strip()
        assert (document.patient_last_name, document.patient_first_name,
                str(document.patient_birth_date)) == ("DUPONT-ÉTIENNE", "Hélène", "1961-03-12")
        (message,) = world.messages()
        assert message.message_id_header == outcome.record.message_id_header
        assert message.subject == "Avis cardiologique"
        received = {item["name"]: Path(item["file"]).read_bytes()
                    for item in json.loads(message.attachments_json)}
        assert received == {"échographie cardiaque.pdf": PDF_1, "ECG.pdf": PDF_2}
        assert dovecot.messages(mailbox.login) == []  # collected, then deleted on the server
        assert sw.work_files() == []
    finally:
        sw.relay.stop()
