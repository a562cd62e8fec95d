"""Inbox actions on collected mail: listing, access rules, filing once, removing, archives."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from mailworld import PDF_1
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from medshake_bridge import bridge_state, clock
from medshake_bridge.db import db
from medshake_bridge.default_plugins.standalone_patients import create_patient_from_identity
from medshake_bridge.inbox import service
from medshake_bridge.inbox.identity import header_from_document
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.models.patients import FiledDocument, Patient
from medshake_bridge.users import create_user


def _collect_one(world):
    world.deliver(world.mail(attachments=[("cr.pdf", PDF_1)]))
    world.collect()
    with world.app.app_context():
        create_user("sophie", "password for tests", role="secretary")
        create_user("carol", "password for tests", role="practitioner")
        create_user("root", "password for tests", role="admin")
    return world


@pytest.fixture
def collected(world):
    return _collect_one(world)


@pytest.fixture
def db_collected(db_world):
    """One collected document, on SQLite, PostgreSQL and MariaDB."""
    return _collect_one(db_world)


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
                       lambda: service.file_document(carol, document_id, "1"),
                       lambda: service.remove_document(carol, document_id),
                       lambda: service.get_document(carol, 999_999)):
            with pytest.raises(NotFound):
                action()
        denied = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "access.denied")).all()
        assert len(denied) == 4
        assert service.get_document(_user("bob"), document_id).state == "new"


def test_candidates_rank_the_standalone_patients(collected):
    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        identity = header_from_document(document)
        same = create_patient_from_identity(identity)
        db.session.add(Patient(last_name="DUPONT", first_name="Marc",
                               birth_date=dt.date(1950, 1, 1)))
        db.session.add(Patient(last_name="AUTRE", first_name="Jeanne",
                               birth_date=identity.birth_date))
        db.session.commit()
        found = service.candidates(document)
        assert found[0].patient_id == str(same.id)
        assert {"last_name", "first_name", "birth_date"} <= set(found[0].matched)
        assert all(candidate.score >= 2 for candidate in found)
        assert "Marc" not in " ".join(c.display_name for c in found)  # one criterion only


def test_filing_twice_files_once_and_archives_a_copy(collected):
    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        patient = create_patient_from_identity(header_from_document(document))
        # the last instant of a year (UTC): the folder is that day's, whatever the wall clock
        last_instant = dt.datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
        with clock.frozen(last_instant):
            first = service.file_document(bob, document.id, str(patient.id))
        second = service.file_document(bob, document.id, str(patient.id))
        assert first.state == second.state == "filed"
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        folder = Path(first.archive_path)
        assert folder.parts[-5:] == ("bob", "2030", "12", "31", f"document-{document.id}")
        assert first.filed_at.replace(tzinfo=dt.UTC) == last_instant
        assert (folder / "00-cr.pdf").read_bytes() == PDF_1
        assert "hémoglobine" in (folder / "document.txt").read_text("utf-8")
        assert service.list_documents(bob).total == 0
        assert service.list_documents(bob, state="filed").total == 1


def test_concurrent_double_click_files_once(db_collected):
    app = db_collected.app
    with app.app_context():
        bob_id = _user("bob").id
        document_id = db.session.scalars(select(service.InboxDocument.id)).one()
        patient_id = create_patient_from_identity(
            header_from_document(db.session.get(service.InboxDocument, document_id))).id
    errors: list[BaseException] = []
    clicks = 4
    together = threading.Barrier(clicks, timeout=60)

    def click() -> None:
        with app.test_request_context():
            try:
                user = db.session.get(User, bob_id)  # connected before the barrier
                together.wait()  # every click reaches file_document at the same moment
                service.file_document(user, document_id, str(patient_id))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 1
        document = db.session.get(service.InboxDocument, document_id)
        assert document.state == "filed" and document.filed_patient_id == str(patient_id)
        filed_events = [e for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "inbox.file"))]
        assert [e.outcome for e in filed_events] == ["ok"]  # filed once, audited once


def test_filing_into_an_unknown_patient_leaves_the_document_in_the_inbox(collected):
    from medshake_bridge.inbox.service import InboxError

    with collected.app.test_request_context():
        bob = _user("bob")
        document = service.list_documents(bob).items[0]
        with pytest.raises(InboxError, match="no plugin filed"):
            service.file_document(bob, document.id, "424242")
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
