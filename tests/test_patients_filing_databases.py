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


_CHILD = """
import json, sys
from medshake_bridge import create_app, patients
from medshake_bridge.db import db
from medshake_bridge.models import User
args = json.loads(sys.argv[1])
app = create_app(args["config"])
with app.test_request_context():
    user = db.session.get(User, args["user"])
    record = patients.file_document(args["document"], args["ref"], user=user)
    print(json.dumps({"created": record.created, "record": record.record_id}))
"""


def test_two_processes_filing_one_document_make_one_record(db_app, tmp_path, monkeypatch):
    """Two gunicorn workers, or a worker and the API: separate processes and connections."""
    import json
    import subprocess
    import sys

    from conftest import TEST_SECRET_KEY

    world, document_id = _collected(db_app, tmp_path, monkeypatch)
    with db_app.test_request_context():
        bob = db.session.get(User, world.bob)
        ref = patients.create_patient("bridge", NewPatient(last_name="DUPONT"), user=bob).ref
    config = {"INSTANCE_PATH": db_app.instance_path, "TESTING": True,
              "MEDSHAKE_BRIDGE_SECRET_KEYS": [TEST_SECRET_KEY],
              "MEDSHAKE_BRIDGE_DATABASE_URL": db_app.config["MEDSHAKE_BRIDGE_DATABASE_URL"]}
    argument = json.dumps({"config": config, "user": world.bob, "document": document_id,
                           "ref": str(ref)})
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, argument],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    answers = []
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(a["created"] for a in answers) == [False, True]
    assert answers[0]["record"] == answers[1]["record"]
    with db_app.app_context():
        db.session.expire_all()
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        assert db.session.get(InboxDocument, document_id).filed_patient_ref == str(ref)
