"""Inbox write-back (migration mode): each document the bridge collects also becomes a row of
MedShakeEHR's ``inbox`` table, with its ``.txt`` file and ``.f/`` attachment folder in
MedShakeEHR's inbox folder, in the layout ``cron/inbox.php`` leaves and its inbox page reads.

A clinic can then stop MedShakeEHR's cron and let the bridge collect, while its users keep
MedShakeEHR's screens. The row and the key ``bridge-document:<id>`` in ``bridge_inbox_copies``
are written in one transaction (files first, removed if it fails), so a retry never makes a
second row. A failure never touches the bridge's own copy; it is logged with the fix and the
document kept for a retry (:mod:`.pending`): ``medshake-bridge medshakeehr check`` counts those
not copied and ``medshakeehr retry-copies`` copies them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from medshake_bridge.api import BridgeError, PatientError, host_identity_of
from medshake_medshakeehr import settings as names
from medshake_medshakeehr.config import ConnectorConfig
from medshake_medshakeehr.database import engine_for, unreachable
from medshake_medshakeehr.identity import SOURCE
from medshake_medshakeehr.phpserialize import php_serialize
from medshake_medshakeehr.schema import missing_table, tables_missing

log = logging.getLogger(__name__)
DOCUMENT_KEY = "bridge-document:{}"


def document_key(document_id: int) -> str:
    return DOCUMENT_KEY.format(document_id)


def inbox_account(config: ConnectorConfig, owner_user_id: int) -> int:
    """The MedShakeEHR account whose inbox receives a bridge user's mail."""
    source, _, ident = (host_identity_of(owner_user_id) or "").partition(":")
    if source == SOURCE and ident.isdigit():
        return int(ident)
    return config.inbox_user


def inbox_folder(connection: Connection, account: int) -> Path:
    """``apicryptCheminInbox`` as MedShakeEHR resolves it for that user (user over default)."""
    rows = dict(connection.execute(text(
        "SELECT level, value FROM configuration WHERE name='apicryptCheminInbox' AND "
        "((level='user' AND toID=:u) OR level='default')"), {"u": account}).all())
    folder = (rows.get("user") or rows.get("default") or "").strip()
    if not folder:
        raise PatientError("MedShakeEHR has no inbox folder (apicryptCheminInbox)",
                           fix="set apicryptCheminInbox in MedShakeEHR's parameters")
    return Path(folder)


def hprim_text(header: dict[str, Any], body: str, results: list[dict[str, Any]]) -> str:
    """The document as an HPRIM text again: 12 header lines, the body, the ``****LAB****``
    section (``RES`` lines) and the end markers, as MedShakeEHR's files hold them."""
    lines: list[str] = []
    if header:
        born = header.get("birth_date_raw") or _dmy(header.get("birth_date"))
        lines = [header.get("patient_code", ""), header.get("last_name", ""),
                 header.get("first_name", ""), header.get("address_line1", ""),
                 header.get("address_line2", ""),
                 f"{header.get('postcode', '')} {header.get('city', '')}".strip(), born,
                 header.get("nir", "") or header.get("nir_raw", ""),
                 header.get("file_number", ""),
                 header.get("exam_date_raw") or _dmy(header.get("exam_date")),
                 f"{header.get('sender_code', ''):<10} {header.get('sender_name', '')}".rstrip(),
                 f"{header.get('recipient_code', ''):<10} "
                 f"{header.get('recipient_name', '')}".rstrip()]
    text_lines = [*lines, body.rstrip("\n")]
    if results:
        text_lines.append("****LAB****")
        for item in results:
            text_lines.append("RES|" + "|".join(str(item.get(key) or "") for key in (
                "label", "code", "kind", "value", "unit", "normal_low", "normal_high", "flag",
                "status", "value2", "normal_low2", "normal_high2")))
    text_lines += ["****FIN****", "****FINFICHIER****"]
    return "\n".join(text_lines) + "\n"


def _dmy(iso: Any) -> str:
    if not iso:
        return ""
    try:
        return dt.date.fromisoformat(str(iso)).strftime("%d/%m/%Y")
    except ValueError:
        return str(iso)


def header_array(header: dict[str, Any]) -> dict[str, str]:
    """``msHprim::getHprimHeaderData``'s array, in its key order."""
    address = str(header.get("address_line1", ""))
    data = {"codePatient": header.get("patient_code", ""), "nom": header.get("last_name", ""),
            "prenom": header.get("first_name", ""), "adresse1": address}
    if address[:1].isdigit() and " " in address:
        data["streetNumber"], data["street"] = address.split(" ", 1)
    nir = str(header.get("nir", "") or header.get("nir_raw", ""))
    data.update({
        "adresse2": header.get("address_line2", ""), "cp": header.get("postcode", ""),
        "ville": header.get("city", ""),
        "ddn": _dmy(header.get("birth_date")) or header.get("birth_date_raw", ""),
        "nss": nir, "administrativeGenderCode": {"1": "M", "2": "F"}.get(nir[:1], "U"),
        "numDossier": header.get("file_number", ""),
        "dateDossier": _dmy(header.get("exam_date")) or header.get("exam_date_raw", ""),
        "codeExp": header.get("sender_code", ""), "expediteur": header.get("sender_name", ""),
        "codeDest": header.get("recipient_code", ""),
        "destinataire": header.get("recipient_name", "")})
    return {key: str(value or "") for key, value in data.items()}


def copy_document(config: ConnectorConfig, document: Any, message: Any) -> int | None:
    """Copy one bridge inbox document into MedShakeEHR's inbox; returns the inbox id (the
    existing one on a retry), ``None`` when no MedShakeEHR account receives it."""
    account = inbox_account(config, int(document.owner_user_id))
    if not account:
        log.info("bridge document %s not copied into MedShakeEHR's inbox: its owner is linked "
                 "to no MedShakeEHR account and %s is 0", document.id, names.INBOX_USER)
        return None
    key = document_key(int(document.id))
    header = json.loads(document.header_json or "{}")
    results = json.loads(document.results_json or "[]")
    attachments = json.loads(message.attachments_json or "[]")
    received = received_at(document, message)
    txt_name = f"{received:%Y%m%d-%H%M%S}-{int(document.id)}.txt"
    written: list[Path] = []
    try:
        with engine_for(config, write=True).connect() as connection:
            done = connection.execute(text(
                "SELECT inboxID FROM bridge_inbox_copies WHERE documentKey=:k"), {"k": key}
            ).scalar()
            connection.rollback()
            if done is not None:
                return int(done)
            folder = inbox_folder(connection, account)
            connection.rollback()
            try:
                with connection.begin():
                    connection.execute(text("INSERT INTO bridge_inbox_copies (documentKey) "
                                            "VALUES (:k)"), {"k": key})
                    names_on_disk = _write_files(folder, txt_name, hprim_text(
                        header, document.body or "", results), attachments, written)
                    inbox_id = _insert_row(connection, account, txt_name, received, document,
                                           header, names_on_disk)
                    connection.execute(text("UPDATE bridge_inbox_copies SET inboxID=:i WHERE "
                                            "documentKey=:k"), {"i": inbox_id, "k": key})
            except IntegrityError:
                for path in reversed(written):
                    _remove(path)
                written.clear()
                return int(connection.execute(text(
                    "SELECT inboxID FROM bridge_inbox_copies WHERE documentKey=:k"),
                    {"k": key}).scalar() or 0)
    except BaseException as exc:
        for path in reversed(written):
            _remove(path)
        if missing_table(exc):
            raise tables_missing() from None
        if isinstance(exc, SQLAlchemyError):
            raise unreachable(exc, config) from None
        raise
    return inbox_id


def received_at(document: Any, message: Any) -> dt.datetime:
    """When the bridge stored the message, in the server's local time as MedShakeEHR's
    ``txtDatetime`` and file names hold it (the bridge keeps UTC; SQLite returns it naive)."""
    when = getattr(message, "stored_at", None) or getattr(document, "created_at", None)
    if not isinstance(when, dt.datetime):
        return dt.datetime.now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().replace(tzinfo=None)


def _write_files(folder: Path, txt_name: str, content: str, attachments: list[dict[str, Any]],
                 written: list[Path]) -> list[str]:
    if not folder.is_dir():
        raise PatientError(f"MedShakeEHR's inbox folder {folder} does not exist",
                           fix="check apicryptCheminInbox in MedShakeEHR's parameters")
    try:
        # this transaction holds the document's key: files already under these names are
        # orphans of an attempt that crashed before its commit, and are replaced
        target = folder / txt_name
        target.write_text(content, encoding="utf-8")
        written.append(target)
        names_on_disk: list[str] = []
        if attachments:
            pieces = folder / (txt_name[:-4] + ".f")
            pieces.mkdir(mode=0o2775, exist_ok=True)
            written.append(pieces)
            for item in attachments:
                name = Path(str(item.get("name") or "piece")).name
                shutil.copyfile(item["file"], pieces / name)
                written.append(pieces / name)
                names_on_disk.append(name)
    except OSError as exc:
        raise PatientError(f"cannot write into MedShakeEHR's inbox folder {folder}: "
                           f"{exc.strerror or exc}",
                           fix="give the bridge's account write access to that folder") from None
    return sorted(names_on_disk)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _insert_row(connection: Connection, account: int, txt_name: str, received: dt.datetime,
                document: Any, header: dict[str, Any], attachment_names: list[str]) -> int:
    array = header_array(header) if header else {}
    return int(connection.execute(text(
        "INSERT INTO inbox (mailForUserID, txtFileName, mailHeaderInfos, txtDatetime, "
        "txtNumOrdre, hprimIdentite, hprimExpediteur, hprimCodePatient, hprimDateDossier, "
        "hprimAllSerialize, pjNombre, pjSerializeName, archived) VALUES (:u, :f, :infos, :d, "
        ":n, :ident, :exp, :code, :date, :all, :pj, :pjnames, 'n')"), {
            "u": account, "f": txt_name, "infos": php_serialize({}), "d": received,
            "n": int(document.id),
            "ident": f"{array.get('prenom', '')} {array.get('nom', '')}".strip()[:250],
            "exp": array.get("expediteur", "")[:250], "code": array.get("codePatient", "")[:250],
            "date": array.get("dateDossier", "")[:30], "all": php_serialize(array),
            "pj": min(len(attachment_names), 255),
            "pjnames": php_serialize({index + 2: name
                                      for index, name in enumerate(attachment_names)}),
        }).lastrowid)


def copy_message(config: ConnectorConfig, message: Any, documents: list[Any]) -> None:
    """The ``medshake_message_stored`` work: copy each document; a failure is logged with the
    fix and the document kept for a retry (:mod:`.pending`: counted by ``check``)."""
    from medshake_medshakeehr.pending import forget, record_failure

    for document in documents:
        try:
            copy_document(config, document, message)  # unconfigured: a ConfigurationError
        except BridgeError as exc:
            log.error("bridge document %s not copied into MedShakeEHR's inbox: %s (fix: %s)",
                      document.id, exc.message, exc.fix or f"check {names.WRITE_BACK}")
            _keep_for_retry(record_failure, document.id, exc.message, exc.fix)
        except Exception as exc:
            _keep_for_retry(record_failure, document.id, f"{type(exc).__name__}: {exc}", "")
            raise
        else:
            forget(document.id)


def _keep_for_retry(record: Any, document_id: int, error: str, fix: str) -> None:
    try:
        record(document_id, error, fix)
    except OSError as exc:  # the count is lost, never the bridge's copy: say so
        log.error("bridge document %s could not be recorded for a retry of its copy into "
                  "MedShakeEHR (%s): retry it with medshake-bridge medshakeehr retry-copies "
                  "--document %s", document_id, exc.strerror or exc, document_id)
