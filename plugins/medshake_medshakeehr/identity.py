"""Reading people's identity as MedShakeEHR stores it: one ``people`` row plus current
``objets_data`` rows (``outdated=''``, ``deleted=''``) per identity type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medshake_bridge.api import PatientRef, PatientSummary

SOURCE = "medshakeehr"
PERSON_TYPES = ("patient", "externe", "pro")
"""Whom the connector offers: MedShakeEHR's own search offers patients and pros; ``deleted``,
``destroyed``, ``service``, ``groupe`` and ``registre`` rows are never offered."""


def parse_ehr_date(value: str | None) -> dt.date | None:
    """``dd/mm/YYYY`` as MedShakeEHR stores it (the format is not enforced: parse defensively)."""
    text_value = (value or "").strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text_value, fmt).date()
        except ValueError:
            continue
    return None


def identities(connection: Connection, ids: Iterable[int], types: dict[str, int]
               ) -> dict[int, dict[str, str]]:
    """Current identity values of people ``ids`` by type name (the newest current row wins)."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    by_id = {ident: name for name, ident in types.items()}
    rows = connection.execute(text(
        "SELECT toID, typeID, value FROM objets_data WHERE toID IN :ids AND typeID IN :types "
        "AND outdated='' AND deleted='' AND instance=0 ORDER BY updateDate, id").bindparams(
        bindparam("ids", expanding=True), bindparam("types", expanding=True)),
        {"ids": wanted, "types": sorted(by_id)}).all()
    found: dict[int, dict[str, str]] = {ident: {} for ident in wanted}
    for to_id, type_id, value in rows:
        found[int(to_id)][by_id[int(type_id)]] = str(value or "")
    return found


def people_types(connection: Connection, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    rows = connection.execute(text("SELECT id, type FROM people WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)), {"ids": wanted}).all()
    return {int(ident): str(kind) for ident, kind in rows}


def summary(people_id: int, values: dict[str, str], *, url: str = "",
            kind: str = "patient") -> PatientSummary:
    """A :class:`PatientSummary` from current values; the usual name is lastname, else
    birthname (MedShakeEHR's own display rule)."""
    birth_name = values.get("birthname", "").strip()
    last_name = values.get("lastname", "").strip() or birth_name
    extra: dict[str, str] = {"type": kind}
    if values.get("deathdate"):
        extra["deathdate"] = values["deathdate"]
    return PatientSummary(
        ref=PatientRef(SOURCE, str(people_id)), last_name=last_name,
        first_name=values.get("firstname", "").strip(), birth_name=birth_name,
        birth_date=parse_ehr_date(values.get("birthdate")),
        sex=values.get("administrativeGenderCode", "").strip().upper()[:1],
        nir=values.get("nss", "").replace(" ", ""), postcode=values.get("postalCodePerso", ""),
        city=values.get("city", ""), url=url, extra=extra)
