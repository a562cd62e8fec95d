"""Inbox actions on collected mail: listing, access rules, filing once, removing, archives."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from mailworld import PDF_1
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from medshake_bridge import bridge_state, patients
from medshake_bridge.db import db
from medshake_bridge.inbox import service
from medshake_bridge.inbox.identity import header_from_document
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.models.patients import FiledDocument, Patient
from medshake_bridge.patient_ref import PatientRef
from medshake_bridge.users import create_user


@pytest.fixture
def collected(world):
    world.deliver(world.mail(attachments=[("cr.pdf", PDF_1)]))
    world.collect()
    with world.app.app_context():
        create_user("sophie", "password for tests", role="secretary")
        create_user("carol", "password for tests", role="practitioner")
        create_user("root", "password for tests", role="admin")
    return world


def _user(login: str) -> User:
    return db.session.scalars(select(User).where(User.login == login)).one()


def test_listing_and_unread_counter_follow_the_access_rule(collected):
    with collected.app.test_request_context():
        bob, sophie, carol, root = (_user(n) for n in ("bob", "sophie", "carol", "root"))
        assert service.list_documents(bob).total == 1
        assert service.unread_count(bob) == 1
        assert service.list_documents(carol).total == 0
        assert service.list_documents(sophie).total == 0
        bridge_state().settings.set("apicryptInboxMailForUserID", str(bob.id), level="user",
                                    user_id=sophie.id)
        assert service.list_documents(sophie).total == 1
        assert service.list_documents(root).total == 1
        document = service.list_documents(bob).items[0]
        service.mark_read(document)
        assert service.unread_count(bob) == 0


def test_every_action_refuses_another_users_mail_with_404_and_audits(collected):
    with collected.app.test_request_context():
        carol = _user("carol")
        document_id = db.session.scalars(select(service.InboxDocument.id)).one()
        for action in (lambda: service.get_document(carol, document_id),
                       lambda: patients.file_document(document_id, "bridge:1", user=carol),
                       lambda: service.remove_document(carol, document_id),
                       lambda: service.get_document(carol, 999_999)):
            with pytest.raises(NotFound):
                action()
        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "access.denied")).all()
        assert len(denied) == 4
        assert service.get_document(_user("bob"), document_id).state == "new"


def _create_from(document, user):
    from medshake_bridge.views.inbox import new_patient_from_identity

    return patients.create_patient(
        "bridge", new_patient_from_identity(header_from_document(document)), user=user)


def test_candidates_rank_the_standalone_patients(collected):
    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        identity = header_from_document(document)
        same = _create_from(document, bob)
        db.session.add(Patient(last_name="DUPONT", first_name="Marc",
                               birth_date=dt.date(1950, 1, 1)))
        db.session.add(Patient(last_name="AUTRE", first_name="Jeanne",
                               birth_date=identity.birth_date))
        db.session.commit()
        found = patients.candidates_for_document(document.id, user=bob)
        assert found[0].ref == same.ref
        assert {"last_name", "first_name", "birth_date"} <= set(found[0].reasons)
        assert found[0].strong and found[0].source_label == "Patients du bridge"
        assert all(candidate.score >= 2 for candidate in found)
        assert "Marc" not in " ".join(c.display_name for c in found)  # one criterion only


def test_filing_twice_files_once_and_archives_a_copy(collected):
    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        patient = _create_from(document, bob)
        first = patients.file_document(document.id, patient.ref, user=bob)
        second = patients.file_document(document.id, str(patient.ref), user=bob)
        assert first.created and not second.created
        assert first.patient == second.patient == patient.ref
        assert first.record_id == second.record_id
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        filed = service.get_document(bob, document.id)
        assert filed.state == "filed" and filed.filed_patient_ref == str(patient.ref)
        assert filed.filed_patient_name == "DUPONT Jeanne"
        assert filed.filed_patient_birth_date == dt.date(1961, 3, 12)
        folder = Path(filed.archive_path)
        today = dt.datetime.now(dt.UTC)
        assert folder.parts[-5:] == ("bob", f"{today:%Y}", f"{today:%m}", f"{today:%d}",
                                     f"document-{document.id}")
        assert (folder / "00-cr.pdf").read_bytes() == PDF_1
        assert "hémoglobine" in (folder / "document.txt").read_text("utf-8")
        assert service.list_documents(bob).total == 0
        assert service.list_documents(bob, state="filed").total == 1


def test_concurrent_double_click_files_once(collected):
    app = collected.app
    with app.test_request_context():
        bob_id = _user("bob").id
        document_id = db.session.scalars(select(service.InboxDocument.id)).one()
        ref = _create_from(db.session.get(service.InboxDocument, document_id), _user("bob")).ref
    errors: list[BaseException] = []
    records = []

    def click() -> None:
        with app.test_request_context():
            try:
                records.append(patients.file_document(document_id, ref,
                                                      user=db.session.get(User, bob_id)))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.created for r in records].count(True) == 1
    assert len({r.record_id for r in records}) == 1
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        assert db.session.get(service.InboxDocument, document_id).state == "filed"


def test_filing_into_an_unknown_patient_leaves_the_document_in_the_inbox(collected):
    from medshake_bridge.errors import PatientError

    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        with pytest.raises(PatientError, match="no patient bridge:424242"):
            patients.file_document(document.id, PatientRef("bridge", "424242"), user=bob)
        with pytest.raises(PatientError, match="no patient provider for the source 'nowhere'"):
            patients.file_document(document.id, "nowhere:1", user=bob)
        assert service.get_document(bob, document.id).state == "new"


def test_remove_archives_and_is_idempotent(collected):
    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        removed = service.remove_document(bob, document.id)
        again = service.remove_document(bob, document.id)
        assert removed.state == again.state == "removed"
        assert (Path(removed.archive_path) / "document.txt").is_file()
        assert service.list_documents(bob, state="removed").total == 1
        attachment = service.attachment(removed, 0)
        assert attachment.path.read_bytes() == PDF_1 and attachment.previewable
        with pytest.raises(NotFound):
            service.attachment(removed, 7)
