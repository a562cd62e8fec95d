"""A sending world: Alice (v1 sandbox keys) sends through the FAKE sandbox relay (STARTTLS +
AUTH, verified against the throwaway CA) to Bob, whose mailbox is a Maildir (or a dovecot's).

Pytest plugin (listed in ``tests/conftest.py``): the ``send_world`` fixture.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from mailworld import ALICE, BOB, World

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.patients import Patient
from medshake_bridge.sandbox.relay import SandboxRelay, maildirs_under
from medshake_bridge.send.service import AttachmentFile, Draft, send_message
from medshake_bridge.send.sources import identity_from_patient

DOMAIN = "medical69.apicrypt.org"
ALICE_SMTP_PASSWORD = "alice-relay-password"
LETTER = ("Chère consœur,\n\nJe vous adresse Mme Hélène DUPONT-ÉTIENNE pour un avis "
          "cardiologique : dyspnée d'effort, ECG ci-joint.\nBien à vous,\nDr Alice Martin\n")


class SendWorld:
    def __init__(self, world: World, pki, *, mailbox_for=None) -> None:
        self.world = world
        self.app = world.app
        self.maildirs = world.tmp / "maildirs"
        self.relay = SandboxRelay(world.net.network_dir,
                                  mailbox_for or maildirs_under(self.maildirs),
                                  {ALICE: ALICE_SMTP_PASSWORD},
                                  tls_cert=pki.server.cert_file,
                                  tls_key=pki.server.key_file).start()
        for sub in ("cur", "new", "tmp"):
            (self.maildirs / ALICE / sub).mkdir(parents=True, exist_ok=True)
        with self.app.app_context():
            self.alice = world.add_user("alice", ALICE, self.maildirs / ALICE)
            self.configure(apicryptSmtpHost="localhost", apicryptSmtpPort=str(self.relay.port),
                           apicryptSmtpTls="starttls", apicryptTlsCaFile=str(pki.ca_file),
                           apicryptPopPassword=ALICE_SMTP_PASSWORD)
            patient = Patient(last_name="DUPONT-ÉTIENNE", first_name="Hélène",
                              birth_date=dt.date(1961, 3, 12), nir="2610369123456",
                              postcode="69003", city="LYON")
            db.session.add(patient)
            db.session.commit()
            self.patient_id = patient.id

    def configure(self, **settings: str) -> None:
        with self.app.app_context():
            store = bridge_state().settings
            for name, value in settings.items():
                store.set(name, value, level="user", user_id=self.alice)

    def draft(self, **overrides) -> Draft:
        with self.app.app_context():
            patient = db.session.get(Patient, self.patient_id)
            values = dict(recipients=[f"{BOB}@{DOMAIN}"], subject="Avis cardiologique",
                          body=LETTER, identity=identity_from_patient(patient),
                          patient_id=f"bridge:{patient.id}", patient_label=patient.display_name)
        values.update(overrides)
        return Draft(**values)

    def send(self, draft: Draft | None = None, *, token: str = "token-1"):  # noqa: S107 - a form token
        with self.app.app_context():
            user = db.session.get(User, self.alice)
            outcome = send_message(user, draft or self.draft(), token=token)
            db.session.refresh(outcome.record)
            db.session.expunge_all()
            return outcome

    def attachments(self, *files: tuple[str, bytes]) -> list[AttachmentFile]:
        folder = self.world.tmp / "to-attach"
        folder.mkdir(exist_ok=True)
        found = []
        for name, data in files:
            (folder / name).write_bytes(data)
            found.append(AttachmentFile(name, folder / name))
        return found

    def work_files(self) -> list[Path]:
        """Anything left in the working folders (must be nothing after any send)."""
        data = Path(self.app.config["MEDSHAKE_BRIDGE_DATA_DIR"])
        return [path for name in ("work-clear", "work-encrypted") if (data / name).exists()
                for path in (data / name).rglob("*")]

    def delivered(self, local: str = BOB) -> list[Path]:
        folder = self.maildirs / local / "new"
        return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def send_world(world, throwaway_pki):
    sending = SendWorld(world, throwaway_pki)
    yield sending
    sending.relay.stop()


@pytest.fixture
def db_send_world(db_world, throwaway_pki):
    """The sending world on SQLite, PostgreSQL and MariaDB (send once per token)."""
    sending = SendWorld(db_world, throwaway_pki)
    yield sending
    sending.relay.stop()
