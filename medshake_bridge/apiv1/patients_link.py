"""The patient a message is about, from the reference an API caller gives."""

from __future__ import annotations

from typing import Any

from medshake_bridge.apiv1.problems import ApiProblem
from medshake_bridge.db import db
from medshake_bridge.i18n import _
from medshake_bridge.models import User
from medshake_bridge.models.patients import Patient


def _unknown(reference: str) -> ApiProblem:
    return ApiProblem(422, _("Unknown patient %(ref)s.", ref=reference), errors=[{
        "field": "patient", "in": "body", "message": "unknown patient",
        "fix": _("Give a reference found with GET /patients?q=, such as standalone:12.")}])


def draft_patient(user: User, reference: str) -> tuple[Any, str, str]:
    """``(identity, patient id, label)`` for a send; a 422 problem for an unknown patient."""
    from medshake_bridge.send.sources import identity_from_patient

    source, _sep, local = reference.rpartition(":")
    if source not in ("", "standalone") or not local.isdigit():
        raise _unknown(reference)
    patient = db.session.get(Patient, int(local))
    if patient is None:
        raise _unknown(reference)
    return identity_from_patient(patient), str(patient.id), patient.display_name
