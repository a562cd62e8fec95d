"""Filing once on every database: two threads filing the same document make one record, and
migration 0012 turns the bare patient ids of older rows into ``bridge:<id>`` references."""

from __future__ import annotations

import datetime as dt
import threading

from mailworld import World
from sqlalchemy import select, text

from medshake_bridge import migrate, patients
from medshake_bridge.api import NewPatient
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import FiledDocument
from medshake_bridge.models.sending import SentMessage


def _collected(app, tmp_path, monkeypatch) -> tuple[World, int]:
    world = World(app, tmp_path, monkeypatch)
    world.deliver(world.mail())
    world.collect()
    with app.app_context():
        return world, db.session.scalars(select(InboxDocument.id)).one()


def test_two_threads_filing_one_document_make_one_record(db_app, tmp_path, monkeypatch):
    world, document_id = _collected(db_app, tmp_path, monkeypatch)
    with db_app.test_request_context():
        bob = db.session.get(User, world.bob)
        ref = patients.create_patient("bridge", NewPatient(
            last_name="DUPONT", first_name="Jeanne", birth_date=dt.date(1961, 3, 12)),
            user=bob).ref
    start = threading.Barrier(2)
    records, errors = [], []

    def click() -> None:
        with db_app.test_request_context():
            try:
                user = db.session.get(User, world.bob)
                start.wait(timeout=30)
                records.append(patients.file_document(document_id, ref, user=user))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.created for r in records) == [False, True]
    assert records[0].record_id == records[1].record_id
    with db_app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        document = db.session.get(InboxDocument, document_id)
        assert (document.state, document.filed_patient_ref) == ("filed", str(ref))
        assert db.session.scalar(select(db.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "inbox.file")) == 1


def test_migration_0012_turns_bare_ids_into_bridge_references(db_app, tmp_path, monkeypatch):
    app = db_app
    world, document_id = _collected(app, tmp_path, monkeypatch)
    with app.test_request_context():
        bob = db.session.get(User, world.bob)
        ref = patients.create_patient("bridge", NewPatient(
            last_name="DUPONT-ÉTIENNE", first_name="Hélène", birth_date=dt.date(1961, 3, 12)),
            user=bob).ref
        patients.file_document(document_id, ref, user=bob)
        db.session.add(SentMessage(token="t-0012", user_id=world.bob, patient_id=str(ref),
                                   patient_label="DUPONT-ÉTIENNE Hélène"))
        db.session.commit()
        db.session.remove()
    migrate.downgrade(app, "0007")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SELECT filed_patient_id FROM bridge_inbox_documents"))\
            .scalar() == ref.id
        assert connection.execute(text("SELECT patient_id FROM bridge_sent_messages"))\
            .scalar() == ref.id
        connection.execute(text("UPDATE bridge_patients SET first_name = 'Hélène-Marie'"))
        connection.commit()
    migrate.upgrade(app)
    with app.app_context():
        document = db.session.get(InboxDocument, document_id)
        assert (document.filed_patient_ref, document.filed_patient_name,
                document.filed_patient_birth_date) == (
            str(ref), "DUPONT-ÉTIENNE Hélène-Marie", dt.date(1961, 3, 12))
        assert db.session.execute(text("SELECT patient_id FROM bridge_sent_messages"))\
            .scalar() == str(ref)
        assert db.session.execute(text("SELECT search_key FROM bridge_patients")).scalar() \
            == " dupont etienne helene marie "
