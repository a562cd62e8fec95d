"""Patients for the API: references (``source:id``), search, filing and lab histories.

Everything goes through :mod:`medshake_bridge.patients` (the providers: the bridge's own store
``bridge``, the MedShakeEHR connector, a portal's) and the inbox's access rules, so a document
is filed once, into the provider of its patient, and only by someone who may read it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.apiv1 import schemas
from medshake_bridge.apiv1.problems import ApiProblem
from medshake_bridge.db import db
from medshake_bridge.errors import PatientError
from medshake_bridge.i18n import _
from medshake_bridge.models import InboxDocument, User
from medshake_bridge.models.mail import FILED
from medshake_bridge.patient_ref import PatientRef, PatientSummary


def _unknown(reference: str, status: int = 422, reason: str = "") -> ApiProblem:
    return ApiProblem(status, reason or _("Unknown patient %(ref)s.", ref=reference), errors=[{
        "field": "patient", "in": "body", "message": "unknown patient",
        "fix": _("Give a reference found with GET /patients?q=, such as bridge:12.")}])


def _patient(reference: str, status: int = 422) -> PatientSummary:
    from medshake_bridge.patients import get_patient

    try:
        patient = get_patient(PatientRef.parse(reference))
    except (PatientError, ValueError):
        raise _unknown(reference, status) from None
    if patient is None:
        raise _unknown(reference, status)
    return patient


def draft_patient(user: User, reference: str) -> tuple[Any, str, str]:
    """``(identity, patient ref, label)`` for a send; a 422 problem for an unknown patient."""
    from medshake_bridge.send.sources import identity_from_patient

    patient = _patient(reference)
    return identity_from_patient(patient), str(patient.ref), patient.display_name


def file_into(user: User, document_id: int, reference: str) -> InboxDocument:
    """File once through the patient's provider (a second call answers the first filing)."""
    from medshake_bridge.inbox import service
    from medshake_bridge.patients import FilingError, file_document

    document = service.get_document(user, document_id)  # 404 first: not the caller's to see
    _patient(reference)
    try:
        file_document(document_id, reference, user=user)
    except FilingError as exc:
        raise ApiProblem(409, exc.message, fix=exc.fix) from None
    except PatientError as exc:
        raise ApiProblem(422, exc.message, fix=exc.fix, errors=[{
            "field": "patient", "in": "body", "message": exc.message, "fix": exc.fix}]) from None
    db.session.refresh(document)
    return document


def summary(patient: PatientSummary) -> schemas.PatientOut:
    return schemas.PatientOut(
        ref=str(patient.ref), last_name=patient.last_name, first_name=patient.first_name,
        birth_name=patient.birth_name, birth_date=patient.birth_date, sex=patient.sex,
        postcode=patient.postcode, city=patient.city, url=patient.url)


def search(user: User, query: str, limit: int) -> list[schemas.PatientOut]:
    from medshake_bridge.patients import search_patients

    return [summary(item) for item in search_patients(query, user=user, limit=limit)]


def lab_history(user: User, reference: str, code: str) -> schemas.LabHistory:
    """One analyte over time in the documents filed into the patient that ``user`` may read."""
    from medshake_bridge.apiv1.serialize import aware, lab_result
    from medshake_bridge.inbox import service

    patient = _patient(reference, status=404)
    owners = sorted(readable_mail_owner_ids(user))
    documents = db.session.scalars(select(InboxDocument).where(
        InboxDocument.owner_user_id.in_(owners or [-1]), InboxDocument.state == FILED,
        InboxDocument.filed_patient_ref == str(patient.ref)).order_by(InboxDocument.id))
    points = []
    for document in documents:
        exam = service.header(document).get("exam_date")
        when = dt.date.fromisoformat(exam) if exam else aware(document.created_at).date()
        for item in service.results(document):
            if str(item.get("code", "")).strip().lower() != code.strip().lower():
                continue
            result = lab_result(item)
            points.append(schemas.LabPoint(document=document.id, date=when,
                                           **result.model_dump(exclude={"kind", "status"})))
    points.sort(key=lambda point: (point.date or dt.date.min, point.document))
    return schemas.LabHistory(patient=str(patient.ref), code=code, points=points)
