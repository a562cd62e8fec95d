"""Patient references and the contract of patient providers.

A patient lives in exactly one *source*: the bridge's own store (``bridge``), MedShakeEHR
(``medshakeehr``), a portal (``portal``)... A bare number is ambiguous as soon as two sources
exist (patient 1 of the portal is not patient 1 of the bridge), so every page, hook, API call
and table names a patient by a :class:`PatientRef` (text form ``source:id``). A *provider* is
the plugin object that owns one source: it searches, fetches, creates and files; the host picks
the provider by the reference's source and never asks another one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from medshake_bridge.errors import PatientError

SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
"""A source name: lower-case ASCII, digits, ``_`` and ``-``; it is used in URLs and forms."""

_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
"""A patient id within its source: URL-safe characters only, at most 64."""


@dataclass(frozen=True, order=True)
class PatientRef:
    """Which patient, in which source: ``PatientRef("bridge", "12")`` is ``bridge:12``."""

    source: str
    id: str

    def __post_init__(self) -> None:
        if not SOURCE_PATTERN.match(self.source or ""):
            raise PatientError(f"invalid patient source {self.source!r}",
                               fix="use a lower-case name such as 'bridge' or 'medshakeehr'")
        if not _ID_PATTERN.match(str(self.id or "")):
            raise PatientError(f"invalid patient id {self.id!r}",
                               fix="a patient id is 1 to 64 letters, digits or . _ ~ -")

    def __str__(self) -> str:
        return f"{self.source}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> PatientRef:
        """Read ``source:id``; raises :class:`PatientError` naming the expected form."""
        source, sep, ident = str(text or "").strip().partition(":")
        if not sep:
            raise PatientError(f"{text!r} is not a patient reference",
                               fix="write it as source:id, for example bridge:12")
        return cls(source, ident)


@dataclass(frozen=True, kw_only=True)
class PatientSummary:
    """What a provider says about one patient: enough to show, match and confirm.

    ``url`` is an optional link to the patient in the source's own screens (an EHR page);
    ``deceased`` and other details a provider knows may go in ``extra``.
    """

    ref: PatientRef
    last_name: str
    first_name: str = ""
    birth_name: str = ""
    birth_date: dt.date | None = None
    sex: str = ""
    nir: str = ""
    postcode: str = ""
    city: str = ""
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """``LAST First (dd/mm/yyyy)`` for lists and confirmations."""
        name = " ".join(part for part in (self.last_name, self.first_name) if part)
        if self.birth_name and self.birth_name.lower() != self.last_name.lower():
            name += f" (née {self.birth_name})" if self.sex == "F" else f" ({self.birth_name})"
        born = f" ({self.birth_date:%d/%m/%Y})" if self.birth_date else ""
        return name + born


@dataclass(frozen=True, kw_only=True)
class NewPatient:
    """The identity of a patient to create (from a received HPRIM header or a form)."""

    last_name: str
    first_name: str = ""
    birth_name: str = ""
    birth_date: dt.date | None = None
    sex: str = ""
    nir: str = ""
    postcode: str = ""
    city: str = ""


@dataclass(frozen=True, kw_only=True)
class FilingAttachment:
    """One attachment of a document being filed: its original name and a readable path."""

    name: str
    path: Path
    media_type: str = "application/octet-stream"


@dataclass(frozen=True, kw_only=True)
class DocumentToFile:
    """An inbox document handed to a provider for filing.

    ``key`` identifies the document for ever (``bridge-document:<id>``): a provider stores it
    with what it files and answers a second request with the same key by returning the first
    record (a retry, a double click or two processes file once).
    """

    key: str
    document_id: int
    title: str
    text: str
    received_at: dt.datetime
    sender: str = ""
    exam_date: dt.date | None = None
    identity: Any = None
    lab_results: Sequence[Any] = ()
    attachments: Sequence[FilingAttachment] = ()


@dataclass(frozen=True, kw_only=True)
class FiledRecord:
    """What a provider answers after filing: where the document now lives in its source."""

    patient: PatientRef
    record_id: str
    url: str = ""
    created: bool = True


@dataclass(frozen=True, kw_only=True)
class ActingUser:
    """The bridge user on whose behalf a provider acts (for its own audit trail)."""

    id: int
    login: str
    display_name: str = ""
    role: str = ""


@dataclass(frozen=True, kw_only=True)
class PatientCandidate:
    """A patient proposed for a received document, scored by the host (never by a provider).

    ``score`` is the number of identity criteria that agree and ``reasons`` names them
    (``last_name``, ``first_name``, ``birth_date``, ``nir``, ``postcode``); ``source_label`` is
    the provider's label, ``url`` the patient's page in its source (may be empty).
    """

    summary: PatientSummary
    score: int
    reasons: tuple[str, ...] = ()
    source_label: str = ""
    url: str = ""

    @property
    def ref(self) -> PatientRef:
        return self.summary.ref

    @property
    def strong(self) -> bool:
        """Likely the same person: three criteria or more, or the same NIR. Creating a new
        patient beside a strong match needs a second confirmation naming it."""
        return self.score >= 3 or "nir" in self.reasons

    @property
    def display_name(self) -> str:
        return self.summary.display_name


@runtime_checkable
class PatientProvider(Protocol):
    """A source of patients, offered by ``medshake_patient_providers``.

    ``source`` names the source (see :data:`SOURCE_PATTERN`), ``label`` is shown to users.
    ``can_create`` and ``can_file`` say whether :meth:`create` and :meth:`file_document` work.
    Failures raise :class:`medshake_bridge.errors.PatientError` (or any ``BridgeError``) with a
    ``fix``; the host shows it and, for filing, puts the document back as it was.
    """

    source: str
    label: str
    can_create: bool
    can_file: bool

    def search(self, query: str, *, limit: int) -> list[PatientSummary]:
        """Patients whose name (any part, accent- and case-insensitive) or id matches."""
        ...

    def get(self, patient_id: str) -> PatientSummary | None:
        """One patient of this source, or ``None`` when there is none by that id."""
        ...

    def candidates(self, identity: Any, *, limit: int) -> list[PatientSummary]:
        """Patients worth ranking for a received HPRIM identity (the host scores them)."""
        ...

    def create(self, patient: NewPatient, *, user: ActingUser) -> PatientSummary:
        """Create a patient and return it (only when ``can_create``)."""
        ...

    def file_document(self, document: DocumentToFile, patient_id: str, *,
                      user: ActingUser) -> FiledRecord:
        """File a document into a patient's record, once per ``document.key``."""
        ...
