"""Patients through their providers: the one door pages, the CLI, the API and plugins use.

Every patient is named by a :class:`~medshake_bridge.patient_ref.PatientRef` (``source:id``);
each source belongs to one provider (hook ``medshake_patient_providers``; the bridge's own store
is the ``bridge`` source). This package searches them all, asks the right one to fetch, create
and file, and scores candidates itself. See ``docs/patients.md``.
"""

from medshake_bridge.patient_ref import PatientCandidate
from medshake_bridge.patients.filing import (
    FilingError,
    document_key,
    file_document,
    filed_record,
)
from medshake_bridge.patients.lookup import (
    acting_user,
    candidates_for_document,
    creatable_sources,
    create_patient,
    get_patient,
    provider_problems,
    search_patients,
)
from medshake_bridge.patients.registry import build_registry, patient_providers, provider_for

__all__ = [
    "FilingError",
    "PatientCandidate",
    "acting_user",
    "build_registry",
    "candidates_for_document",
    "creatable_sources",
    "create_patient",
    "document_key",
    "file_document",
    "filed_record",
    "get_patient",
    "patient_providers",
    "provider_for",
    "provider_problems",
    "search_patients",
]
