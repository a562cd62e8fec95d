"""The portal's plugin for the bridge: who is signed in, and the portal's patients.

It imports only ``medshake_bridge.api`` (the bridge's public plugin API).
"""

from __future__ import annotations

import unicodedata

from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from clinic_portal.models import Patient, PatientDocument, db
from medshake_bridge.api import (
    FiledRecord,
    HostIdentity,
    PatientError,
    PatientRef,
    PatientSummary,
    hookimpl,
)

SOURCE = "portal"
ROLES = {"doctor": "practitioner", "assistant": "secretary", "manager": "admin"}


@hookimpl
def medshake_current_user(app, request):
    """The portal's signed-in staff member (verified by the portal's own login)."""
    if not current_user.is_authenticated:
        return None
    return HostIdentity(key=f"portal:{current_user.id}", login=current_user.username,
                        display_name=current_user.full_name, role=ROLES.get(current_user.job))


@hookimpl
def medshake_host_user_role(identity):
    return None  # the identity's role (from the staff member's job) is the portal's answer


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold())
                   if not unicodedata.combining(c))


class PortalPatients:
    """The portal's patient records as a bridge patient provider."""

    source, label, can_create, can_file = SOURCE, "Dossiers du portail", False, True

    def search(self, query, *, limit):
        """Every word in the last name, first name or birth date (dd/mm/yyyy)."""
        words = [_folded(word) for word in query.split() if word]
        rows = db.session.scalars(select(Patient).order_by(Patient.last_name)).all()

        def text(row):
            born = f"{row.birth_date:%d/%m/%Y}" if row.birth_date else ""
            return _folded(f"{row.last_name} {row.first_name} {born}")

        found = [row for row in rows if all(word in text(row) for word in words)]
        return [self._summary(row) for row in found[:limit]]

    def get(self, patient_id):
        row = db.session.get(Patient, int(patient_id)) if patient_id.isdigit() else None
        return self._summary(row) if row else None

    def candidates(self, identity, *, limit):
        clauses = [Patient.last_name.ilike(identity.last_name)] if identity.last_name else []
        if identity.birth_date:
            clauses.append(Patient.birth_date == identity.birth_date)
        if not clauses:
            return []
        rows = db.session.scalars(select(Patient).where(or_(*clauses)).limit(50)).all()
        return [self._summary(row) for row in rows]

    def create(self, patient, *, user):
        raise PatientError("the portal creates its patients itself",
                           fix="create the patient in the portal, then file")

    def file_document(self, document, patient_id, *, user):
        patient = self.get(patient_id)
        if patient is None:
            raise PatientError(f"no portal patient {patient_id}",
                               fix="choose the patient again")
        existing = db.session.scalar(select(PatientDocument).where(
            PatientDocument.source_key == document.key))
        if existing is None:
            row = PatientDocument(patient_id=int(patient_id), source_key=document.key,
                                  title=document.title, text=document.text,
                                  filed_by=user.login)
            db.session.add(row)
            try:
                db.session.commit()
            except IntegrityError:  # filed by a concurrent request: that one counts
                db.session.rollback()
                existing = db.session.scalar(select(PatientDocument).where(
                    PatientDocument.source_key == document.key))
            else:
                return FiledRecord(patient=patient.ref, record_id=str(row.id),
                                   url=f"/patients/{patient_id}", created=True)
        return FiledRecord(patient=PatientRef(SOURCE, str(existing.patient_id)),
                           record_id=str(existing.id),
                           url=f"/patients/{existing.patient_id}", created=False)

    @staticmethod
    def _summary(row):
        return PatientSummary(ref=PatientRef(SOURCE, str(row.id)), last_name=row.last_name,
                              first_name=row.first_name, birth_date=row.birth_date,
                              url=f"/patients/{row.id}")


@hookimpl
def medshake_patient_providers(app):
    return [PortalPatients()]
