"""A second patient source for tests: the "clinic" provider, a plugin like any EHR's.

It keeps its patients and filed records in memory (it stands for another application's
database) and follows the contract: idempotent on ``DocumentToFile.key``. ``fail_after_filing``
makes the next call file and then fail (a lost answer), ``wrong_patient`` makes it answer for
another patient (a buggy plugin), ``broken`` makes search and candidates raise a PatientError
(an outage it foresaw), ``down`` makes ``get`` raise a ConnectionError (one it did not).
"""

from __future__ import annotations

import datetime as dt
import threading

from medshake_bridge.api import (
    FiledRecord,
    PatientError,
    PatientRef,
    PatientSummary,
    hookimpl,
)


class ClinicPatients:
    source, label, can_create, can_file = "clinic", "Dossiers de la clinique", False, True

    def __init__(self) -> None:
        self.people = {
            "1": PatientSummary(ref=PatientRef("clinic", "1"), last_name="DUPONT",
                                first_name="Jeanne", birth_date=dt.date(1961, 3, 12),
                                sex="F", url="/clinic/patients/1"),
            "2": PatientSummary(ref=PatientRef("clinic", "2"), last_name="DUPONT",
                                first_name="Marc", birth_date=dt.date(1950, 1, 1)),
            "3": PatientSummary(ref=PatientRef("clinic", "3"), last_name="MARTIN",
                                first_name="Paul", birth_date=dt.date(1961, 3, 12)),
        }
        self.filed: dict[str, FiledRecord] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_after_filing = False
        self.wrong_patient = False
        self.broken = False
        self.down = False  # every call raises what a dead database connection raises
        self.lock = threading.Lock()

    def search(self, query, *, limit):
        if self.broken:
            raise PatientError("the clinic's server does not answer", fix="try again later")
        words = query.lower().split()
        return [p for p in self.people.values()
                if all(w in f"{p.last_name} {p.first_name}".lower() for w in words)][:limit]

    def get(self, patient_id):
        if self.down:
            raise ConnectionError("connection refused by clinic-db:5432")
        return self.people.get(patient_id)

    def candidates(self, identity, *, limit):
        if self.broken:
            raise PatientError("the clinic's server does not answer", fix="try again later")
        return list(self.people.values())  # everyone: the host must score them

    def create(self, patient, *, user):
        raise PatientError("the clinic creates its patients itself", fix="use the clinic")

    def file_document(self, document, patient_id, *, user):
        with self.lock:
            self.calls.append((document.key, patient_id))
            record = self.filed.get(document.key)
            if record is None:
                record = FiledRecord(patient=PatientRef("clinic", patient_id),
                                     record_id=f"R{len(self.filed) + 1}",
                                     url=f"/clinic/patients/{patient_id}#R{len(self.filed) + 1}")
                self.filed[document.key] = record
            else:
                record = FiledRecord(patient=record.patient, record_id=record.record_id,
                                     url=record.url, created=False)
            if self.fail_after_filing:
                self.fail_after_filing = False
                raise PatientError("the clinic's answer was lost", fix="try again")
            if self.wrong_patient:
                return FiledRecord(patient=PatientRef("clinic", "2"), record_id="X")
            return record


class ClinicPlugin:
    """Offers one :class:`ClinicPatients` (kept on the plugin so tests can look inside)."""

    def __init__(self) -> None:
        self.provider = ClinicPatients()

    @hookimpl
    def medshake_patient_providers(self, app):
        return [self.provider]


def clinic_world(make_app, tmp_path, monkeypatch):
    """Bob's mailbox with one collected lab report (``world.document_id``) and the clinic
    source beside the bridge's own store (``world.clinic``): what the patient tests share."""
    from mailworld import World
    from sqlalchemy import select

    from medshake_bridge import migrate
    from medshake_bridge.db import db
    from medshake_bridge.models.mail import InboxDocument
    from medshake_bridge.sandbox import SANDBOX_ENV_VARS

    plugin = ClinicPlugin()
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    world.deliver(world.mail())
    world.collect()
    world.clinic = plugin.provider
    with app.app_context():
        world.document_id = db.session.scalars(select(InboxDocument.id)).one()
    return world
