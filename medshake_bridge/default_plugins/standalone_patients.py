"""The bridge's own patient store as the provider of the ``bridge`` source.

Sites without an EHR (and every site, for patients nobody else knows) keep patients in
``bridge_patients``. Search matches every word of the query against the folded names
(``search_key``: no accents, lower case) or, for ``dd/mm/yyyy``, the birth date, so "Jeanne",
"dupont jeanne" and "helene 12/03/1961" all find Hélène-Jeanne DUPONT. Filing records one row per
document key (``bridge_filed_documents.inbox_document_id`` is unique), so a retry files once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.api import (
    ActingUser,
    DocumentToFile,
    FiledRecord,
    NewPatient,
    PatientError,
    PatientRef,
    PatientSummary,
    hookimpl,
)
from medshake_bridge.db import db
from medshake_bridge.hprim import fold, parse_date
from medshake_bridge.models.patients import FiledDocument, Patient

SOURCE = "bridge"
KEY_PREFIX = "bridge-document:"


def summary(patient: Patient) -> PatientSummary:
    return PatientSummary(
        ref=PatientRef(SOURCE, str(patient.id)), last_name=patient.last_name,
        first_name=patient.first_name, birth_name=patient.birth_name,
        birth_date=patient.birth_date, sex=patient.sex, nir=patient.nir,
        postcode=patient.postcode,
        city=patient.city)


def _like_word(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped}%"


class BridgePatients:
    """The standalone patient store (``bridge:<id>``)."""

    source = SOURCE
    label = "Patients du bridge"
    can_create = True
    can_file = True

    def search(self, query: str, *, limit: int) -> list[PatientSummary]:
        clauses = []
        for raw in query.split():
            day = parse_date(raw) if "/" in raw or raw.isdigit() and len(raw) == 8 else None
            if day is not None:
                clauses.append(Patient.birth_date == day)
                continue
            for word in fold(raw).split():
                clauses.append(Patient.search_key.like(_like_word(word), escape="\\"))
        if not clauses:
            return []
        rows = db.session.scalars(select(Patient).where(*clauses).order_by(
            func.lower(Patient.last_name), func.lower(Patient.first_name), Patient.id)
            .limit(limit))
        return [summary(row) for row in rows]

    def get(self, patient_id: str) -> PatientSummary | None:
        if not str(patient_id).isdigit():
            return None
        row = db.session.get(Patient, int(patient_id))
        return summary(row) if row is not None else None

    def candidates(self, identity: Any, *, limit: int) -> list[PatientSummary]:
        """A small set worth ranking: same birth date, NIR, or a shared name word.

        People sharing two items come first (their own query), so that a common name or a
        busy birthday cannot push the right person past the cap.
        """
        by_name = [Patient.search_key.like(_like_word(word) + " %", escape="\\")
                   for word in fold(identity.last_name or "").split() if len(word) > 2]
        born = [Patient.birth_date == identity.birth_date] if identity.birth_date else []
        nir = [Patient.nir == identity.nir.number] if identity.nir else []
        cap = max(limit, 500)
        queries = []
        if by_name and born:
            queries.append(and_(or_(*by_name), born[0]))
        if nir:
            queries.append(nir[0])
        if by_name or born:
            queries.append(or_(*by_name, *born))
        found: dict[int, Patient] = {}
        for clause in queries:
            for row in db.session.scalars(select(Patient).where(clause).order_by(Patient.id)
                                          .limit(cap)):
                found.setdefault(row.id, row)
            if len(found) >= cap:
                break
        return [summary(row) for row in list(found.values())[:cap]]

    def create(self, patient: NewPatient, *, user: ActingUser) -> PatientSummary:
        row = Patient(last_name=patient.last_name.strip(), first_name=patient.first_name.strip(),
                      birth_name=patient.birth_name.strip(), birth_date=patient.birth_date,
                      sex=patient.sex, nir=patient.nir.replace(" ", ""),
                      postcode=patient.postcode.strip(),
                      city=patient.city.strip())
        db.session.add(row)
        db.session.commit()
        return summary(row)

    def file_document(self, document: DocumentToFile, patient_id: str, *,
                      user: ActingUser) -> FiledRecord:
        patient = db.session.get(Patient, int(patient_id)) if patient_id.isdigit() else None
        if patient is None:
            raise PatientError(f"there is no patient {SOURCE}:{patient_id}",
                               fix="search for the patient again")
        if not document.key.startswith(KEY_PREFIX):
            raise PatientError(f"unexpected document key {document.key!r}",
                               fix="file documents through medshake_bridge.patients")
        existing = self._filed(document.document_id)
        if existing is None:
            db.session.add(FiledDocument(patient_id=patient.id,
                                         inbox_document_id=document.document_id,
                                         filed_by_user_id=user.id, title=document.title))
            try:
                db.session.commit()
            except IntegrityError:  # another process filed it first: that one counts
                db.session.rollback()
            else:
                return self._record(self._filed(document.document_id), created=True)
            existing = self._filed(document.document_id)
        return self._record(existing, created=False)

    @staticmethod
    def _filed(document_id: int) -> FiledDocument | None:
        return db.session.scalars(select(FiledDocument).where(
            FiledDocument.inbox_document_id == document_id)).first()

    @staticmethod
    def _record(row: FiledDocument | None, *, created: bool) -> FiledRecord:
        assert row is not None
        return FiledRecord(patient=PatientRef(SOURCE, str(row.patient_id)),
                           record_id=str(row.id), created=created)


@hookimpl
def medshake_patient_providers(app: Any) -> list[Any]:
    if not app.config.get("MEDSHAKE_BRIDGE_STANDALONE_PATIENTS", True):
        return []  # the host keeps every patient in its own records
    return [BridgePatients()]
