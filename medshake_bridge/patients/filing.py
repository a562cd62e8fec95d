"""Filing an inbox document into a patient's record, exactly once, in the right source.

The host asks only the provider of the chosen patient's source (``ref.source``): a document is
never filed into another source's patient. Once per document, whatever happens:

- one request at a time *claims* the document (``new`` -> ``filing`` with a claim token, a
  conditional UPDATE every database serialises); a double click or a second process waits for
  the first one and answers its record;
- the provider receives a stable ``DocumentToFile.key`` (``bridge-document:<id>``) and must
  answer a second call with the same key with the first record, so a retry after a failure
  (the provider filed, then the archive copy failed; the process died) files nothing twice;
- a claim older than :data:`STALE_CLAIM` (a process that died while filing) may be taken over;
- the host records the filing on the document once (UPDATE guarded by the claim token).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import or_, update

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError, PatientError
from medshake_bridge.models.mail import FILED, NEW, REMOVED, InboxDocument
from medshake_bridge.models.settings import utcnow
from medshake_bridge.patient_ref import (
    DocumentToFile,
    FiledRecord,
    FilingAttachment,
    PatientRef,
    PatientSummary,
)
from medshake_bridge.patients.lookup import acting_user, provider_failures
from medshake_bridge.patients.registry import provider_for

FILING = "filing"
STALE_CLAIM = dt.timedelta(minutes=10)
WAIT_FOR_OTHER = 30.0  # seconds a second request waits for the one filing the same document
KEY_PREFIX = "bridge-document:"


class FilingError(BridgeError):
    """The document could not be filed (it was removed, or another request is still at it)."""


def document_key(document_id: int) -> str:
    """The stable key a provider stores with what it files (``bridge-document:<id>``)."""
    return f"{KEY_PREFIX}{int(document_id)}"


def filed_record(document: InboxDocument) -> FiledRecord | None:
    """The filing recorded on a document, or ``None`` when it is not filed."""
    if document.state != FILED or not document.filed_patient_ref:
        return None
    return FiledRecord(patient=PatientRef.parse(document.filed_patient_ref),
                       record_id=document.filed_record, url=document.filed_url, created=False)


def file_document(document_id: int, ref: PatientRef | str, *, user: Any) -> FiledRecord:
    """File the inbox document into ``ref``'s record through the provider of ``ref.source``.

    Idempotent per document: a second call (same or another process, a retry) answers the
    first filing's record with ``created=False``. Raises :class:`PatientError` for an unknown
    source or patient, :class:`FilingError` for a removed document; on any failure the document
    goes back to the inbox as it was.
    """
    from medshake_bridge.inbox.service import get_document

    ref = ref if isinstance(ref, PatientRef) else PatientRef.parse(ref)
    document = get_document(user, document_id)
    provider = provider_for(ref)
    if not provider.can_file:
        raise PatientError(f"{provider.label or ref.source} does not accept documents",
                           fix="choose a patient of another source")
    token = _claim_or_wait(document)
    if token is None:
        return filed_record(document)  # type: ignore[return-value]
    try:
        with provider_failures(provider):
            patient = provider.get(ref.id)
        if not isinstance(patient, PatientSummary) or patient.ref != ref:
            raise PatientError(f"there is no patient {ref} in {provider.label or ref.source}",
                               fix="search for the patient again")
        with provider_failures(provider):
            record = provider.file_document(_to_file(document), ref.id,
                                            user=acting_user(user))
        if not isinstance(record, FiledRecord) or record.patient != ref:
            raise PatientError(
                f"the provider of {ref.source!r} answered {record!r} for patient {ref}",
                fix="report this to the plugin's author; the document stays in the inbox")
        from medshake_bridge.inbox.service import archive_document

        folder = archive_document(document)
    except BaseException:
        db.session.rollback()
        db.session.execute(update(InboxDocument).where(
            InboxDocument.id == document.id, InboxDocument.filing_claim == token)
            .values(state=NEW, filing_claim="", filing_claimed_at=None)
            .execution_options(synchronize_session=False))
        db.session.commit()
        audit("inbox.file", target=f"document {document.id}", outcome="failed",
              detail=f"patient {ref}", actor=user)
        raise
    done = db.session.execute(update(InboxDocument).where(
        InboxDocument.id == document.id, InboxDocument.filing_claim == token,
        InboxDocument.state == FILING).values(
        state=FILED, filed_at=utcnow(), filed_by_user_id=user.id, filed_patient_ref=str(ref),
        filed_patient_name=_name(patient)[:300], filed_patient_birth_date=patient.birth_date,
        filed_patient_sex=patient.sex if patient.sex in ("F", "M") else "",
        filed_record=str(record.record_id)[:255],
        filed_url=(record.url or patient.url or "")[:1000], archive_path=str(folder),
        filing_claim="", filing_claimed_at=None).execution_options(synchronize_session=False))
    if done.rowcount == 1:  # announced in the same commit as the filing (webhook outbox)
        from medshake_bridge.webhooks import outbox

        outbox.document_filed(document, str(ref))
    db.session.commit()
    db.session.refresh(document)
    if done.rowcount != 1:  # our claim went stale and another request filed it meanwhile
        return filed_record(document) or record
    audit("inbox.file", target=f"document {document.id}", detail=f"patient {ref}",
          actor=user)
    return FiledRecord(patient=ref, record_id=document.filed_record, url=document.filed_url,
                       created=True)


def _name(patient: PatientSummary) -> str:
    return " ".join(part for part in (patient.last_name, patient.first_name) if part)


def _claim_or_wait(document: InboxDocument) -> str | None:
    """Claim the document for this request (its token), or ``None`` once another request
    filed it; raises :class:`FilingError` when it was removed or the other one takes too long.
    """
    deadline = time.monotonic() + WAIT_FOR_OTHER
    while True:
        token = secrets.token_hex(16)
        now = utcnow()
        claimed = db.session.execute(update(InboxDocument).where(
            InboxDocument.id == document.id,
            or_(InboxDocument.state == NEW,
                (InboxDocument.state == FILING) & or_(
                    InboxDocument.filing_claimed_at.is_(None),  # left by a version before 0012
                    InboxDocument.filing_claimed_at < now - STALE_CLAIM)))
            .values(state=FILING, filing_claim=token, filing_claimed_at=now)
            .execution_options(synchronize_session=False))
        db.session.commit()
        if claimed.rowcount == 1:
            db.session.refresh(document)
            return token
        db.session.refresh(document)
        if document.state == FILED:
            return None
        if document.state == REMOVED:
            raise FilingError("this document can no longer be filed (it was removed)",
                              fix="look for it in the removed documents")
        if time.monotonic() > deadline:
            raise FilingError("another request is still filing this document",
                              fix="reload the page in a minute")
        time.sleep(0.1)


def _to_file(document: InboxDocument) -> DocumentToFile:
    from medshake_bridge.inbox import service as inbox
    from medshake_bridge.inbox.identity import header_from_document

    header = header_from_document(document)
    message = document.message
    return DocumentToFile(
        key=document_key(document.id), document_id=document.id,
        title=message.subject or "", text=document.body,
        received_at=document.created_at, sender=message.from_address or "",
        exam_date=header.exam_date if header else None, identity=header,
        lab_results=tuple(inbox.results(document)),
        attachments=tuple(FilingAttachment(name=item.name, path=Path(item.path),
                                           media_type=item.content_type)
                          for item in inbox.attachments(document) if item.path.is_file()))
