"""Finding patients through the providers: search, fetch, candidates for a document, create.

Providers only return people; the host ranks candidates itself with the HPRIM matching rules
(:func:`medshake_bridge.hprim.rank_candidates`) so every source is scored the same way and a
provider cannot push its own patients up the list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_app_context

from medshake_bridge.audit import audit
from medshake_bridge.errors import TRANSIENT, BridgeError, PatientError
from medshake_bridge.hprim import PatientRecord, rank_candidates
from medshake_bridge.patient_ref import (
    ActingUser,
    NewPatient,
    PatientCandidate,
    PatientRef,
    PatientSummary,
)
from medshake_bridge.patients.registry import patient_providers, provider_for

log = logging.getLogger(__name__)
PROBLEMS_KEY = "_bridge_patient_provider_problems"


def acting_user(user: Any) -> ActingUser:
    """The bridge user as providers see them (no password hash, no session)."""
    return ActingUser(id=int(user.id), login=str(user.login),
                      display_name=str(getattr(user, "display_name", "") or ""),
                      role=str(getattr(user, "role", "") or ""))


def provider_problems() -> list[str]:
    """Providers that failed during this request or command (pages show them instead of
    hiding them)."""
    return list(g.get(PROBLEMS_KEY, [])) if has_app_context() else []


def _problem(label: str, exc: Exception) -> None:
    log.warning("patient provider %s failed: %s", label, exc)
    if has_app_context():
        g.setdefault(PROBLEMS_KEY, []).append(f"{label}: {exc}")


def _checked(summary: Any, source: str) -> PatientSummary | None:
    """Keep a provider's answer only when it is a summary of its own source."""
    if summary is None:
        return None
    if not isinstance(summary, PatientSummary) or summary.ref.source != source:
        log.warning("patient provider %s returned %r, not one of its PatientSummary", source,
                    summary)
        return None
    return summary


def search_patients(query: str, *, user: Any, limit: int = 20) -> list[PatientSummary]:
    """Patients of every source matching ``query`` (words of the names, ``dd/mm/yyyy``, or a
    ``source:id`` reference), at most ``limit``, sorted by name within the answer.

    ``user`` is who searches (``None`` for the command line, run by the server's admin).
    A provider that fails is skipped and named in :func:`provider_problems`.
    """
    query = " ".join(str(query or "").split())[:200]
    if not query:
        return []
    if ":" in query and " " not in query:
        try:
            found = get_patient(PatientRef.parse(query))
        except BridgeError:
            found = None
        if found is not None:
            return [found]
    results: list[PatientSummary] = []
    for source, provider in patient_providers().items():
        try:
            answers = provider.search(query, limit=limit)
        except Exception as exc:  # noqa: BLE001 - one failing source must not hide the others
            _problem(provider.label or source, exc)
            continue
        results.extend(s for s in (_checked(a, source) for a in answers or []) if s)
    results.sort(key=lambda s: (s.last_name.casefold(), s.first_name.casefold(), str(s.ref)))
    return results[:limit]


def get_patient(ref: PatientRef | str) -> PatientSummary | None:
    """One patient from the provider of its source, or ``None`` when it has no such patient.

    Raises :class:`PatientError` for an unknown source or a provider that failed.
    """
    ref = ref if isinstance(ref, PatientRef) else PatientRef.parse(ref)
    provider = provider_for(ref)
    with provider_failures(provider):
        found = _checked(provider.get(ref.id), ref.source)
    return found if found is not None and found.ref == ref else None


@contextmanager
def provider_failures(provider: Any) -> Iterator[None]:
    """Turn a provider's unforeseen exception (its database or server down) into a
    :class:`PatientError` naming the source, so pages show a message instead of a crash."""
    try:
        yield
    except BridgeError:
        raise
    except Exception as exc:
        log.exception("patient provider %s failed", provider.source)
        raise PatientError(f"{provider.label or provider.source} did not answer ({exc})",
                           fix="try again in a moment; if it goes on, tell the administrator",
                           cause=TRANSIENT) from exc


def rank_summaries(identity: Any, offered: list[tuple[PatientSummary, str]], *,
                   limit: int) -> list[PatientCandidate]:
    """Score people offered by providers against a received identity (host-side rules)."""
    by_key = {str(summary.ref): (summary, label) for summary, label in offered}
    records = [PatientRecord(patient_id=key, last_name=summary.last_name,
                             first_name=summary.first_name, birth_name=summary.birth_name,
                             birth_date=summary.birth_date, nir=summary.nir,
                             postcode=summary.postcode)
               for key, (summary, _label) in by_key.items()]
    ranked = rank_candidates(identity, records, limit=limit)
    return [PatientCandidate(summary=by_key[match.patient.patient_id][0], score=match.score,
                             reasons=tuple(match.matched),
                             source_label=by_key[match.patient.patient_id][1],
                             url=by_key[match.patient.patient_id][0].url)
            for match in ranked]


def candidates_for_document(document_id: int, *, user: Any,
                            limit: int = 5) -> list[PatientCandidate]:
    """The patients a received document may belong to, best first, from every provider.

    The document is loaded through the inbox access rule (404 for someone else's mail).
    """
    from medshake_bridge.inbox.identity import header_from_document
    from medshake_bridge.inbox.service import get_document

    document = get_document(user, document_id)
    identity = header_from_document(document)
    if identity is None:
        return []
    offered: list[tuple[PatientSummary, str]] = []
    for source, provider in patient_providers().items():
        try:
            answers = provider.candidates(identity, limit=max(limit * 10, 50))
        except Exception as exc:  # noqa: BLE001 - one failing source must not hide the others
            _problem(provider.label or source, exc)
            continue
        offered.extend((s, provider.label or source)
                       for s in (_checked(a, source) for a in answers or []) if s)
    return rank_summaries(identity, offered, limit=limit)


def creatable_sources() -> dict[str, str]:
    """Sources where a patient can be created, with their labels (for the "new patient" form)."""
    return {source: provider.label or source
            for source, provider in patient_providers().items() if provider.can_create}


def create_patient(source: str, patient: NewPatient, *, user: Any) -> PatientSummary:
    """Create a patient in ``source`` (its provider must say ``can_create``); audited."""
    ref_source = PatientRef(source, "0").source  # validates the name
    provider = patient_providers().get(ref_source)
    if provider is None:
        raise PatientError(f"no patient provider for the source {source!r}",
                           fix="choose one of: " + ", ".join(patient_providers()))
    if not provider.can_create:
        raise PatientError(f"patients cannot be created in {provider.label or source}",
                           fix="create the patient in that application, then search for it")
    if not (patient.last_name or "").strip():
        raise PatientError("a patient needs a last name", fix="fill in the last name")
    with provider_failures(provider):
        created = _checked(provider.create(patient, user=acting_user(user)), source)
    if created is None:
        raise PatientError(f"the provider of {source!r} did not return the created patient",
                           fix="report this to the plugin's author")
    audit("patient.create", target=str(created.ref), actor=user)
    return created
