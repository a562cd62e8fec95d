"""The ``medshakeehr`` patient provider: search, fetch, candidates and filing.

Settings are read at each call (``connector_config``), so a change of URL or of the filing
switch applies at once. Every read runs on the connector's read-only engine.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import (
    ActingUser,
    DocumentToFile,
    FiledRecord,
    NewPatient,
    PatientError,
    PatientSummary,
)
from medshake_medshakeehr.config import ConnectorConfig, connector_config
from medshake_medshakeehr.database import IDENTITY_TYPES, engine_for, type_ids, unreachable
from medshake_medshakeehr.identity import PERSON_TYPES, SOURCE, identities, people_types, summary

_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*", re.UNICODE)


def _prefix(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class MedShakeEhrProvider:
    """Patients of an existing MedShakeEHR (source ``medshakeehr``)."""

    source = SOURCE
    label = "MedShakeEHR"
    can_create = False
    can_file = True

    def __init__(self, config: ConnectorConfig | None = None) -> None:
        self._fixed = config

    @property
    def config(self) -> ConnectorConfig:
        return self._fixed or connector_config()

    def _read(self, work: Any, empty: Any) -> Any:
        """Run ``work`` on a read-only connection; an unconfigured connector has no patients
        (``empty``), so a bridge without MedShakeEHR shows no error on its patient pages."""
        config = self.config
        if not config.configured:
            return empty
        try:
            with engine_for(config).connect() as connection:
                return work(connection, config)
        except SQLAlchemyError as exc:
            raise unreachable(exc, config) from None

    # -- reading -----------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 20) -> list[PatientSummary]:
        """Any part of any name (birth, usual, first, other first names), accent- and
        case-insensitive (the columns' utf8mb4_general_ci collation); people without a first
        name included; a number also finds that people id; deleted people never."""
        words = _WORD.findall(query or "")
        digits = (query or "").strip()
        if not words:
            return []

        def work(connection: Connection, config: ConnectorConfig) -> list[PatientSummary]:
            types = type_ids(connection, IDENTITY_TYPES)
            names = ("birthname", "lastname", "firstname", "othersfirstname")
            joins = " ".join(
                f"LEFT JOIN objets_data {n} ON {n}.toID=p.id AND {n}.typeID=:t_{n} "
                f"AND {n}.outdated='' AND {n}.deleted='' AND {n}.instance=0" for n in names)
            params: dict[str, Any] = {f"t_{n}": types[n] for n in names}
            clauses = []
            for index, word in enumerate(words[:6]):
                params[f"w{index}"] = _like(word)
                clauses.append("(" + " OR ".join(f"{n}.value LIKE :w{index}" for n in names)
                               + ")")
            # narrow first to people having the longest word in one of their names: names
            # *starting* with it through the (typeID, value) index, and only when that gives
            # fewer than ``limit`` people, names containing it anywhere (a full pass)
            longest = max(words[:6], key=len)
            rows = []
            for pattern in (_prefix(longest), _like(longest)):
                narrowed = connection.execute(text(
                    "SELECT DISTINCT toID FROM objets_data WHERE typeID IN :types AND "
                    "value LIKE :w AND outdated='' AND deleted='' AND instance=0").bindparams(
                    bindparam("types", expanding=True)),
                    {"types": [types[n] for n in names], "w": pattern}).scalars()
                params["ids"] = sorted({int(i) for i in narrowed}) or [0]
                where = "p.id IN :ids AND " + " AND ".join(clauses)
                if digits.isdigit():
                    where = f"({where}) OR p.id = :pid"
                    params["pid"] = int(digits)
                params["limit"] = int(limit)
                # only constants and placeholders are interpolated: the words are parameters
                sql = ("SELECT DISTINCT p.id, COALESCE(NULLIF(lastname.value,''), "  # noqa: S608
                       "birthname.value) AS usual, firstname.value AS first FROM people p "
                       + joins + " WHERE p.type IN :kinds AND (" + where + ") ORDER BY usual, "
                       "first, p.id LIMIT :limit")
                rows = connection.execute(text(sql).bindparams(
                    bindparam("kinds", expanding=True), bindparam("ids", expanding=True)),
                    {**params, "kinds": list(PERSON_TYPES)}).all()
                if len(rows) >= limit:
                    break
            ids = list(dict.fromkeys(int(row[0]) for row in rows))
            return self._summaries(connection, config, ids, types)

        return self._read(work, [])

    def get(self, patient_id: str) -> PatientSummary | None:
        """One person by ``people.id``; ``None`` when absent or deleted/destroyed."""
        if not str(patient_id).isdigit():
            return None

        def work(connection: Connection, config: ConnectorConfig) -> PatientSummary | None:
            found = self._summaries(connection, config, [int(patient_id)],
                                    type_ids(connection, IDENTITY_TYPES))
            return found[0] if found else None

        return self._read(work, None)

    def candidates(self, identity: Any, *, limit: int = 5) -> list[PatientSummary]:
        """People worth ranking for an HPRIM identity: MedShakeEHR's own lookups (last or
        birth name, first name, birth date ``dd/mm/YYYY``, NSS; exact, case- and
        accent-insensitive), kept when the name or the NSS matches or both the first name
        and birth date do; deleted people are left out (MedShakeEHR's own view offers them)."""
        last = str(getattr(identity, "last_name", "") or "").strip()
        first = str(getattr(identity, "first_name", "") or "").strip()
        born = getattr(identity, "birth_date", None)
        nir_obj = getattr(identity, "nir", None)
        nir = str(getattr(nir_obj, "number", None) or getattr(identity, "nir_raw", "") or "")
        nir = re.sub(r"\s+", "", nir)[:13]

        def work(connection: Connection, config: ConnectorConfig) -> list[PatientSummary]:
            types = type_ids(connection, IDENTITY_TYPES)
            hits: dict[int, int] = {}

            def lookup(type_names: tuple[str, ...], value: str, *, prefix: bool = False
                       ) -> set[int]:
                if not value:
                    return set()
                pattern = (value.replace("\\", "\\\\").replace("%", "\\%")
                           .replace("_", "\\_")) + ("%" if prefix else "")
                rows = connection.execute(text(
                    "SELECT DISTINCT toID FROM objets_data WHERE typeID IN :types AND "
                    "value LIKE :value AND outdated='' AND deleted='' AND instance=0 "
                    "LIMIT 200").bindparams(bindparam("types", expanding=True)),
                    {"types": [types[n] for n in type_names], "value": pattern}).scalars()
                found = {int(r) for r in rows}
                for ident in found:
                    hits[ident] = hits.get(ident, 0) + 1
                return found

            by_name = lookup(("lastname", "birthname"), last)
            by_first = lookup(("firstname",), first)
            by_date = lookup(("birthdate",), born.strftime("%d/%m/%Y") if born else "")
            by_nir = lookup(("nss",), nir, prefix=True) if len(nir) == 13 else set()
            keep = by_name | by_nir | (by_first & by_date)
            ranked = sorted(keep, key=lambda ident: (-hits[ident], ident))[:max(limit, 1) * 4]
            return self._summaries(connection, config, ranked, types)

        return self._read(work, [])

    def _summaries(self, connection: Connection, config: ConnectorConfig, ids: list[int],
                   types: dict[str, int]) -> list[PatientSummary]:
        kinds = people_types(connection, ids)
        offered = [ident for ident in ids if kinds.get(ident) in PERSON_TYPES]
        values = identities(connection, offered, types)
        return [summary(ident, values[ident], url=config.patient_url(ident), kind=kinds[ident])
                for ident in offered]

    # -- writing -----------------------------------------------------------------------------

    def create(self, patient: NewPatient, *, user: ActingUser) -> PatientSummary:
        raise PatientError("the connector does not create MedShakeEHR patients",
                           fix="create the patient in MedShakeEHR, then file into it")

    def file_document(self, document: DocumentToFile, patient_id: str, *,
                      user: ActingUser) -> FiledRecord:
        """File as MedShakeEHR's "classer dans le dossier" does (see :mod:`.filing`)."""
        from medshake_medshakeehr.filing import file_document

        return file_document(self.config, document, patient_id, user=user)
