"""Filing a bridge document into ``medshakeehr:<id>`` exactly as "classer dans le dossier".

Per attachment (or, without attachments, for the message text itself) MedShakeEHR creates a
``docPorteur`` row (value = the message text, ``titre`` = the title), its ``docOriginalName``
and ``docType`` children (``instance`` = the porteur's id), and copies the file to
``<storage>/<A>/<B>/<id>.<ext>``; lab results become ``hprim`` rows pointing at the last
porteur. ``fromID`` is the MedShakeEHR account linked to the acting bridge user.

Everything happens in one transaction whose first statement inserts the bridge document's key
into ``bridge_filings``: a second filing (retry, double click, another process) waits on that
key, then finds it and returns the first record without writing anything. Files written before
a failed commit are removed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from medshake_bridge.api import (
    ActingUser,
    DocumentToFile,
    FiledRecord,
    PatientError,
    PatientRef,
    host_identity_of,
)
from medshake_medshakeehr import settings as names
from medshake_medshakeehr.config import ConnectorConfig, storage_folder
from medshake_medshakeehr.database import DOCUMENT_TYPES, engine_for, type_ids, unreachable
from medshake_medshakeehr.identity import SOURCE
from medshake_medshakeehr.schema import missing_table, tables_missing
from medshake_medshakeehr.storage import extension_for, path_for, write_file

_CLOSED_TYPES = ("deleted", "destroyed")


def ehr_account_of(user: ActingUser) -> int:
    """The MedShakeEHR ``people.id`` linked to a bridge user (its ``fromID``)."""
    key = host_identity_of(user.id) or ""
    source, _, ident = key.partition(":")
    if source != SOURCE or not ident.isdigit():
        raise PatientError(f"{user.login} is linked to no MedShakeEHR account",
                           fix=f"run medshake-bridge medshakeehr link-user {user.login} "
                           "PEOPLE_ID")
    return int(ident)


def file_document(config: ConnectorConfig, document: DocumentToFile, patient_id: str, *,
                  user: ActingUser) -> FiledRecord:
    if not config.filing:
        raise PatientError("filing into MedShakeEHR is turned off",
                           fix=f"turn {names.FILING} on once medshake-bridge medshakeehr check "
                           "passes")
    if not str(patient_id).isdigit():
        raise PatientError(f"{patient_id!r} is not a MedShakeEHR people id",
                           fix="choose the patient again")
    from_id = ehr_account_of(user)
    storage = storage_folder(config)
    written: list[Path] = []
    try:
        with engine_for(config, write=True).connect() as connection:
            done = _existing(connection, document.key)
            if done is not None:
                return _record(config, done, created=False)
            try:
                with connection.begin():
                    _claim(connection, document.key, int(patient_id), from_id)
                    objet_id = _write(connection, config, document, int(patient_id), from_id,
                                      storage, written)
                    connection.execute(text(
                        "UPDATE `bridge_filings` SET objetID=:o WHERE documentKey=:k"),
                        {"o": objet_id, "k": document.key})
                    if config.write_back:
                        _mark_inbox_row(connection, document.key, int(patient_id))
            except IntegrityError:
                done = _existing(connection, document.key)
                if done is None:
                    raise
                return _record(config, done, created=False)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if missing_table(exc):
            raise tables_missing() from None
        if isinstance(exc, SQLAlchemyError):
            raise unreachable(exc, config) from None
        raise
    return _record(config, (int(patient_id), objet_id), created=True)


def _mark_inbox_row(connection: Connection, key: str, patient: int) -> None:
    """The inbox row written back for this document becomes "classé" for this patient (what
    MedShakeEHR v8's own filing means to do and cannot, §3.7 of the schema notes)."""
    connection.execute(text(
        "UPDATE inbox i JOIN bridge_inbox_copies c ON c.inboxID = i.id SET i.archived='c', "
        "i.assoToID=:p WHERE c.documentKey=:k AND i.archived='n'"), {"p": patient, "k": key})


def _existing(connection: Connection, key: str) -> tuple[int, int] | None:
    row = connection.execute(text(
        "SELECT toID, objetID FROM `bridge_filings` WHERE documentKey=:k"), {"k": key}).first()
    connection.rollback()
    return (int(row[0]), int(row[1])) if row else None


def _record(config: ConnectorConfig, done: tuple[int, int], *, created: bool) -> FiledRecord:
    patient, objet_id = done
    return FiledRecord(patient=PatientRef(SOURCE, str(patient)), record_id=str(objet_id),
                       url=config.patient_url(patient), created=created)


def _claim(connection: Connection, key: str, patient: int, from_id: int) -> None:
    """Insert the key first: a concurrent filing of the same document blocks here until this
    transaction ends, then fails on the primary key and returns the first record."""
    connection.execute(text("INSERT INTO `bridge_filings` (documentKey, toID, fromID) "
                            "VALUES (:k, :t, :f)"), {"k": key, "t": patient, "f": from_id})
    kind = connection.execute(text("SELECT type FROM people WHERE id=:i"),
                              {"i": patient}).scalar()
    if kind is None or kind in _CLOSED_TYPES:
        raise PatientError(f"MedShakeEHR has no open record {patient}"
                           + (f" (it is {kind})" if kind else ""),
                           fix="choose another patient")


def _parts(document: DocumentToFile) -> list[tuple[str, str, bytes]]:
    """(original name, docType, content) per stored file; text becomes UTF-8."""
    parts = []
    for attachment in document.attachments:
        data = Path(attachment.path).read_bytes()
        ext = extension_for(attachment.name, attachment.media_type)
        if ext == "txt":
            data = _utf8(data)
        parts.append((attachment.name, ext, data))
    if not parts:
        name = f"{document.received_at:%Y%m%d-%H%M%S}-{document.document_id}.txt"
        parts.append((name, "txt", document.text.encode("utf-8")))
    return parts


def _title(document: DocumentToFile) -> str:
    """The title given, else the HPRIM sender (MedShakeEHR's own default), else the sender."""
    identity = document.identity
    fallback = str(getattr(identity, "sender_name", "") or "") or document.sender
    return (document.title.strip() or fallback)[:255]


def _utf8(data: bytes) -> bytes:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding).encode("utf-8")
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1").encode("utf-8")


def _write(connection: Connection, config: ConnectorConfig, document: DocumentToFile,
           patient: int, from_id: int, storage: Path, written: list[Path]) -> int:
    types = type_ids(connection, DOCUMENT_TYPES)
    insert = text("INSERT INTO objets_data (fromID, toID, typeID, parentTypeID, instance, "
                  "value, titre) VALUES (:f, :t, :ty, 0, :i, :v, :ti)")
    last = 0
    for name, ext, data in _parts(document):
        base = {"f": from_id, "t": patient}
        porteur = connection.execute(insert, {**base, "ty": types["docPorteur"], "i": 0,
                                              "v": document.text, "ti": _title(document)}
                                     ).lastrowid
        connection.execute(insert, {**base, "ty": types["docOriginalName"], "i": porteur,
                                    "v": name, "ti": ""})
        connection.execute(insert, {**base, "ty": types["docType"], "i": porteur, "v": ext,
                                    "ti": ""})
        target = path_for(storage, int(porteur), ext)
        try:
            write_file(target, data)
        except OSError as exc:
            raise PatientError(f"cannot write {target}: {exc.strerror or exc}",
                               fix="give the bridge's account write access to MedShakeEHR's "
                               "storage (see medshake-bridge medshakeehr check)") from None
        written.append(target)
        last = int(porteur)
    _lab_rows(connection, document, patient, from_id, last)
    return last


def _lab_rows(connection: Connection, document: DocumentToFile, patient: int, from_id: int,
              objet_id: int) -> None:
    day = document.exam_date or dt.date.today()
    for result in document.lab_results:
        connection.execute(text(
            "INSERT INTO hprim (fromID, toID, date, objetID, label, labelStandard, "
            "typeResultat, resultat, unite, normaleInf, normaleSup, indicateurAnormal, "
            "statutRes, resAutreU, normaleInfAutreU, normalSupAutreU) VALUES (:f, :t, :d, :o, "
            ":label, :code, :kind, :value, :unit, :low, :high, :flag, :status, :v2, :low2, "
            ":high2)"), {"f": from_id, "t": patient, "d": day, "o": objet_id,
                         **_lab_values(result)})


def _lab_values(result: Any) -> dict[str, str]:
    def field(name: str, size: int) -> str:
        # a LabResult, or its JSON form (the host's inbox keeps results as dicts)
        value = result.get(name) if isinstance(result, dict) else getattr(result, name, "")
        return str(value or "")[:size]

    return {"label": field("label", 255), "code": field("code", 255),
            "kind": field("kind", 2), "value": field("value", 255), "unit": field("unit", 20),
            "low": field("normal_low", 20), "high": field("normal_high", 20),
            "flag": field("flag", 5), "status": field("status", 1),
            "v2": field("value2", 50), "low2": field("normal_low2", 20),
            "high2": field("normal_high2", 20)}
