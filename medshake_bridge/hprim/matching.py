"""Propose the patients a received document may belong to.

Each candidate earns one criterion per identity item that agrees with the header: last name
(or birth name), first name, birth date, NIR, postcode, compared without accents, case or
punctuation. One agreeing item is coincidence (many Martins, many people born on a given day),
so only candidates with two or more are proposed; the clinician still chooses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .build import PatientIdentity
from .header import HprimHeader
from .identity import identity_fields
from .nir import parse_nir
from .normalise import fold

__all__ = ["CRITERIA", "MIN_CRITERIA", "PatientMatch", "PatientRecord", "rank_candidates"]

CRITERIA = ("last_name", "first_name", "birth_date", "nir", "postcode")
"""Criterion names, as reported in :attr:`PatientMatch.matched`."""

MIN_CRITERIA = 2
"""Criteria a candidate needs to be proposed."""

# Tie-break between candidates with as many criteria: a NIR or a birth date is rarer to share
# by chance than a first name or a postcode.
_WEIGHTS = {"nir": 8, "birth_date": 4, "last_name": 3, "first_name": 2, "postcode": 1}

# "DUPONT EP MARTIN", "MARTIN NEE DUPONT": a header's last name may hold both names.
_NAME_LINKS = re.compile(r"\b(?:nee|ne|ep|epse|epouse|veuve|vve|dite?)\b")


@dataclass(frozen=True, kw_only=True)
class PatientRecord:
    """A patient of the host EHR, as far as matching needs it."""

    patient_id: str
    last_name: str = ""
    first_name: str = ""
    birth_name: str = ""
    birth_date: dt.date | None = None
    nir: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class PatientMatch:
    """A proposed patient and the criteria (names from :data:`CRITERIA`) that agreed."""

    patient: PatientRecord
    matched: tuple[str, ...]

    @property
    def score(self) -> int:
        """Number of agreeing criteria."""
        return len(self.matched)


def _name_variants(*names: str) -> set[str]:
    variants: set[str] = set()
    for name in names:
        folded = fold(name)
        if not folded:
            continue
        variants.add(folded)
        for part in _NAME_LINKS.split(folded):
            if part.strip():
                variants.add(part.strip())
    return variants


def _nir_number(raw: str) -> str:
    nir = parse_nir(raw)
    return nir.number if nir else ""


@dataclass(frozen=True)
class _Query:
    """The identity folded once, compared with every candidate."""

    last_names: frozenset[str]
    first_name: str
    birth_date: dt.date | None
    nir: str
    postcode: str


def _matched(query: _Query, patient: PatientRecord) -> tuple[str, ...]:
    checks = {
        "last_name": bool(query.last_names & _name_variants(patient.last_name, patient.birth_name)),
        "first_name": bool(query.first_name) and query.first_name == fold(patient.first_name),
        "birth_date": query.birth_date is not None and query.birth_date == patient.birth_date,
        "nir": bool(query.nir) and query.nir == _nir_number(patient.nir),
        "postcode": bool(query.postcode) and query.postcode == patient.postcode.strip(),
    }
    return tuple(name for name in CRITERIA if checks[name])


def rank_candidates(
    identity: HprimHeader | PatientIdentity,
    patients: Iterable[PatientRecord],
    *,
    limit: int = 5,
) -> list[PatientMatch]:
    """The best ``limit`` patients with at least two agreeing criteria, best first.

    Order: more criteria first, then rarer criteria (NIR, birth date) first, then the order
    ``patients`` came in, so the result is stable.
    """
    if limit <= 0:
        return []
    fields = identity_fields(identity)
    query = _Query(
        last_names=frozenset(_name_variants(fields.last_name, fields.birth_name)),
        first_name=fold(fields.first_name),
        birth_date=fields.birth_date,
        nir=fields.nir,
        postcode=fields.postcode,
    )
    ranked: list[tuple[int, int, int, PatientMatch]] = []
    for position, patient in enumerate(patients):
        matched = _matched(query, patient)
        if len(matched) >= MIN_CRITERIA:
            weight = sum(_WEIGHTS[name] for name in matched)
            ranked.append((-len(matched), -weight, position, PatientMatch(patient, matched)))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:limit]]
