"""Patients for the API: references (``source:id``), search, filing and lab histories.

The bridge's own store is the ``bridge`` source; everything goes through the same services as
the pages, so a document is filed once and only by someone who may read it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.apiv1 import schemas
from medshake_bridge.apiv1.problems import ApiProblem
from medshake_bridge.db import db
from medshake_bridge.i18n import _
from medshake_bridge.models import InboxDocument, User
from medshake_bridge.models.mail import FILED
from medshake_bridge.models.patients import Patient

SOURCE = "bridge"


def _unknown(reference: str, status: int = 422) -> ApiProblem:
    return ApiProblem(status, _("Unknown patient %(ref)s.", ref=reference), errors=[{
        "field": "patient", "in": "body", "message": "unknown patient",
        "fix": _("Give a reference found with GET /patients?q=, such as bridge:12.")}])


def _patient(reference: str, status: int = 422) -> Patient:
    source, _sep, local = reference.rpartition(":")
    if source != SOURCE or not local.isdigit():
        raise _unknown(reference, status)
    patient = db.session.get(Patient, int(local))
    if patient is None:
        raise _unknown(reference, status)
    return patient


def draft_patient(user: User, reference: str) -> tuple[Any, str, str]:
    """``(identity, patient id, label)`` for a send; a 422 problem for an unknown patient."""
    from medshake_bridge.send.sources import identity_from_patient

    patient = _patient(reference)
    return identity_from_patient(patient), str(patient.id), patient.display_name


def file_into(user: User, document_id: int, reference: str) -> InboxDocument:
    """File once (a second call answers the first filing)."""
    from medshake_bridge.inbox import service

    service.get_document(user, document_id)  # 404 first: not the caller's to see
    patient = _patient(reference)
    try:
        return service.file_document(user, document_id, str(patient.id))
    except service.InboxError as exc:
        raise ApiProblem(409, exc.message, fix=exc.fix) from None


def summary(patient: Patient) -> schemas.PatientOut:
    return schemas.PatientOut(
        ref=f"{SOURCE}:{patient.id}", last_name=patient.last_name,
        first_name=patient.first_name, birth_name=patient.birth_name,
        birth_date=patient.birth_date, sex="", postcode=patient.postcode, city=patient.city,
        url="")


def search(user: User, query: str, limit: int) -> list[schemas.PatientOut]:
    words = [word.lower() for word in query.split() if word]
    statement = select(Patient)
    for word in words:
        try:
            born = dt.datetime.strptime(word, "%d/%m/%Y").date()
        except ValueError:
            statement = statement.where(
                func.lower(Patient.last_name).contains(word, autoescape=True)
                | func.lower(Patient.first_name).contains(word, autoescape=True)
                | func.lower(Patient.birth_name).contains(word, autoescape=True))
        else:
            statement = statement.where(Patient.birth_date == born)
    rows = db.session.scalars(statement.order_by(Patient.last_name, Patient.first_name,
                                                 Patient.id).limit(limit))
    return [summary(row) for row in rows]


def lab_history(user: User, reference: str, code: str) -> schemas.LabHistory:
    """One analyte over time in the documents filed into the patient that ``user`` may read."""
    from medshake_bridge.apiv1.serialize import aware, lab_result
    from medshake_bridge.inbox import service

    patient = _patient(reference, status=404)
    owners = sorted(readable_mail_owner_ids(user))
    documents = db.session.scalars(select(InboxDocument).where(
        InboxDocument.owner_user_id.in_(owners or [-1]), InboxDocument.state == FILED,
        InboxDocument.filed_patient_id == str(patient.id)).order_by(InboxDocument.id))
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
    return schemas.LabHistory(patient=f"{SOURCE}:{patient.id}", code=code, points=points)
