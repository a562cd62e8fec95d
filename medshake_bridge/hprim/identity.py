"""One view of "who is this patient" over a received header or an outgoing identity.

Matching and the subject check accept either a parsed :class:`HprimHeader` (receiving) or a
:class:`PatientIdentity` (sending); this module reduces both to the same comparable fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .build import PatientIdentity
from .header import HprimHeader
from .nir import parse_nir

__all__ = ["IdentityFields", "identity_fields"]


@dataclass(frozen=True)
class IdentityFields:
    """Identity items as written (not folded); ``nir`` is the 13-character number or ``""``."""

    last_name: str
    birth_name: str
    first_name: str
    birth_date: dt.date | None
    nir: str
    postcode: str


def identity_fields(identity: HprimHeader | PatientIdentity) -> IdentityFields:
    """The comparable fields of a header or an outgoing identity."""
    if isinstance(identity, HprimHeader):
        return IdentityFields(
            last_name=identity.last_name,
            birth_name="",
            first_name=identity.first_name,
            birth_date=identity.birth_date,
            nir=identity.nir.number if identity.nir else "",
            postcode=identity.postcode,
        )
    nir = parse_nir(identity.nir)
    return IdentityFields(
        last_name=identity.last_name,
        birth_name=identity.birth_name,
        first_name=identity.first_name,
        birth_date=identity.birth_date,
        nir=nir.number if nir else "",
        postcode=identity.postcode.strip(),
    )
