"""The bridge's own patient store: candidates and filing when no EHR plugin answers.

``medshake_file_to_patient`` is implemented ``trylast`` so a host EHR's implementation, which
answers first, always wins; this one files only into the bridge's own tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from medshake_bridge.db import db
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.hprim import HprimHeader, PatientRecord, rank_candidates
from medshake_bridge.interfaces import PatientCandidate
from medshake_bridge.models.patients import FiledDocument, Patient

SOURCE = "bridge"


def _record(patient: Patient) -> PatientRecord:
    return PatientRecord(
        patient_id=str(patient.id), last_name=patient.last_name, first_name=patient.first_name,
        birth_name=patient.birth_name, birth_date=patient.birth_date, nir=patient.nir,
        postcode=patient.postcode,
    )


def _nearby(identity: HprimHeader) -> list[Patient]:
    """A small set worth ranking: same birth date, NIR or (case-insensitive) name."""
    clauses = []
    if identity.birth_date:
        clauses.append(Patient.birth_date == identity.birth_date)
    if identity.nir:
        clauses.append(Patient.nir == identity.nir.number)
    if identity.last_name:
        clauses.append(func.lower(Patient.last_name) == identity.last_name.lower())
        clauses.append(func.lower(Patient.birth_name) == identity.last_name.lower())
    if not clauses:
        return []
    return list(db.session.scalars(select(Patient).where(or_(*clauses)).limit(500)))


@hookimpl
def medshake_patient_candidates(identity: Any, limit: int) -> list[PatientCandidate]:
    patients = {str(p.id): p for p in _nearby(identity)}
    ranked = rank_candidates(identity, [_record(p) for p in patients.values()], limit=limit)
    return [
        PatientCandidate(patient_id=match.patient.patient_id,
                         display_name=patients[match.patient.patient_id].display_name,
                         score=match.score, matched=tuple(match.matched), source=SOURCE)
        for match in ranked
    ]


@hookimpl(trylast=True)
def medshake_file_to_patient(document: Any, patient_id: str, user: Any) -> Any:
    if not str(patient_id).isdigit() or db.session.get(Patient, int(patient_id)) is None:
        return None
    existing = db.session.scalars(select(FiledDocument).where(
        FiledDocument.inbox_document_id == document.id)).first()
    if existing is not None:
        return existing
    filed = FiledDocument(patient_id=int(patient_id), inbox_document_id=document.id,
                          filed_by_user_id=user.id, title=document.message.subject or "")
    db.session.add(filed)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return db.session.scalars(select(FiledDocument).where(
            FiledDocument.inbox_document_id == document.id)).one()
    return filed


def create_patient_from_identity(identity: HprimHeader) -> Patient:
    """A new standalone patient from a received identity (the inbox's "new patient")."""
    patient = Patient(last_name=identity.last_name, first_name=identity.first_name,
                      birth_date=identity.birth_date,
                      nir=identity.nir.number if identity.nir else "",
                      postcode=identity.postcode, city=identity.city)
    db.session.add(patient)
    db.session.commit()
    return patient
