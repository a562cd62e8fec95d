"""Where a message's patient and attachments come from: the standalone patient store or an
inbox document ("Répondre / Transmettre"), always through the access rules.

Attachments picked from a patient's filed documents or from an inbox document are the decrypted
files the collection stored; the user must be allowed to read that mail
(:func:`medshake_bridge.access.require_mail_access`, 404 otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from medshake_bridge.access import may_read_mail_of
from medshake_bridge.db import db
from medshake_bridge.hprim import PatientIdentity
from medshake_bridge.inbox import service as inbox
from medshake_bridge.inbox.identity import header_from_document
from medshake_bridge.models import User
from medshake_bridge.models.mail import FILED, InboxDocument
from medshake_bridge.models.patients import Patient
from medshake_bridge.patient_ref import PatientRef, PatientSummary
from medshake_bridge.send.service import AttachmentFile


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment of a received document the user may forward; ``key`` is what the form
    posts (``<document id>:<index>``)."""

    key: str
    name: str
    size: int
    document_label: str


def identity_from_patient(patient: PatientSummary | Patient) -> PatientIdentity:
    """The HPRIM identity of a patient (a provider's summary, or a row of the bridge's store);
    the patient code is the id within its source."""
    code = patient.ref.id if isinstance(patient, PatientSummary) else str(patient.id)
    return PatientIdentity(last_name=patient.last_name, first_name=patient.first_name,
                           birth_name=patient.birth_name, birth_date=patient.birth_date,
                           nir=patient.nir, postcode=patient.postcode, city=patient.city,
                           code=code[:20])


def identity_from_document(document: InboxDocument) -> PatientIdentity | None:
    header = header_from_document(document)
    if header is None or not header.last_name:
        return None
    return PatientIdentity(last_name=header.last_name, first_name=header.first_name,
                           birth_date=header.birth_date,
                           nir=str(header.nir) if header.nir else "",
                           address_line1=header.address_line1,
                           address_line2=header.address_line2, postcode=header.postcode,
                           city=header.city, code=header.patient_code[:20])


def document_label(document: InboxDocument) -> str:
    subject = document.message.subject or ""
    return f"{document.created_at:%d/%m/%Y} · {subject}".strip(" ·")


def attachments_of_documents(user: User, documents: list[InboxDocument]
                             ) -> list[StoredAttachment]:
    found: list[StoredAttachment] = []
    for document in documents:
        if not may_read_mail_of(user, document.owner_user_id):
            continue
        for item in inbox.attachments(document):
            if item.path.is_file():
                found.append(StoredAttachment(f"{document.id}:{item.index}", item.name,
                                              item.size, document_label(document)))
    return found


def patient_documents(ref: PatientRef | str) -> list[InboxDocument]:
    """The received documents filed into a patient (of any source), newest first."""
    return list(db.session.scalars(
        select(InboxDocument).where(InboxDocument.state == FILED,
                                    InboxDocument.filed_patient_ref == str(ref))
        .order_by(InboxDocument.created_at.desc(), InboxDocument.id.desc())))


def stored_attachment(user: User, key: str) -> AttachmentFile:
    """The file behind ``<document id>:<index>``, or a 404 (audited) when not allowed."""
    document_id, _, index = key.partition(":")
    if not document_id.isdigit() or not index.isdigit():
        from medshake_bridge.access import deny

        deny(f"attachment {key}", detail="malformed attachment key")
    document = inbox.get_document(user, int(document_id))
    item = inbox.attachment(document, int(index))
    return AttachmentFile(item.name, item.path)
