"""The connector's checks: ``medshake-bridge medshakeehr check``, the system information page
and ``doctor`` all show these lines.

Each failure is one line naming the fix; a failing check never raises, so the rest of the
bridge (collection into its own inbox included) goes on whatever MedShakeEHR's state.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import BridgeError, CheckResult
from medshake_medshakeehr import settings as names
from medshake_medshakeehr.config import ConnectorConfig, read_ehr_files, storage_folder
from medshake_medshakeehr.database import engine_for, safe_url, type_ids, unreachable
from medshake_medshakeehr.schema import BRIDGE_TABLES

CATEGORY = "medshakeehr"
COPIES = "MedShakeEHR inbox copies"


def _line(name: str, ok: bool | None, detail: str = "", fix: str = "") -> CheckResult:
    return CheckResult(name=name, ok=ok, detail=detail, fix=fix, category=CATEGORY)


def connector_checks(config: ConnectorConfig) -> list[CheckResult]:
    """Reachability, schema version, data types, bridge tables, config.yml and storage."""
    if not config.configured:
        return [_line("MedShakeEHR database", False, "not configured",
                      f"set {names.DATABASE_URL} (mysql+pymysql://USER:PASSWORD@HOST/DB)"),
                *_copies_line(config)]
    results = _database_checks(config)
    results.extend(_file_checks(config))
    results.extend(_copies_line(config))
    return results


def _copies_line(config: ConnectorConfig) -> list[CheckResult]:
    """Write-back documents whose copy failed: counted until a retry copies them."""
    from medshake_medshakeehr.pending import pending, pending_summary

    waiting = pending()
    if not waiting:
        return [_line(COPIES, True, "every collected document was copied")] \
            if config.write_back else []
    last_fix = max(waiting, key=lambda item: item.last_failed).fix
    return [_line(COPIES, False, pending_summary(waiting),
                  (f"{last_fix}, then " if last_fix else "fix the cause, then ")
                  + "run medshake-bridge medshakeehr retry-copies (or Retry on the "
                  "MedShakeEHR copies page)")]


def _database_checks(config: ConnectorConfig) -> list[CheckResult]:
    where = safe_url(config.database_url)
    try:
        engine = engine_for(config)
        with engine.connect() as connection:
            version = connection.execute(text(
                "SELECT value FROM `system` WHERE name='base' AND groupe='module'")).scalar()
            results = [_line("MedShakeEHR database", True, where)]
            results.append(_line("MedShakeEHR version", True if version else None,
                                 str(version or "unknown"),
                                 "" if version else "the system table has no 'base' module row"))
            try:
                type_ids(connection)
                results.append(_line("MedShakeEHR data types", True, "all found by name"))
            except BridgeError as exc:
                results.append(_line("MedShakeEHR data types", False, exc.message, exc.fix))
            tables = set(connection.execute(text("SHOW TABLES")).scalars())
            if config.write_back:
                results.append(_inbox_line(connection, config))
    except BridgeError as exc:
        return [_line("MedShakeEHR database", False, exc.message, exc.fix)]
    except SQLAlchemyError as exc:
        error = unreachable(exc, config)
        return [_line("MedShakeEHR database", False, error.message, error.fix)]
    missing = [name for name in BRIDGE_TABLES if name not in tables]
    if config.writable:
        results.append(_line(
            "MedShakeEHR bridge tables", not missing,
            f"missing: {', '.join(missing)}" if missing else ", ".join(BRIDGE_TABLES),
            "run medshake-bridge medshakeehr install-tables" if missing else ""))
    return results


def _inbox_line(connection: Any, config: ConnectorConfig) -> CheckResult:
    """Write-back needs MedShakeEHR's inbox folder (its default apicryptCheminInbox)."""
    from medshake_medshakeehr.writeback import inbox_folder

    try:
        folder = inbox_folder(connection, config.inbox_user)
    except BridgeError as exc:
        return _line("MedShakeEHR inbox folder", False, exc.message, exc.fix)
    line = _storage_line(str(folder))
    return CheckResult(name="MedShakeEHR inbox folder", ok=line.ok, detail=line.detail,
                       fix=line.fix.replace("check stockageLocation or set "
                                            f"{names.STORAGE}", "check apicryptCheminInbox in "
                                            "MedShakeEHR's parameters"), category=CATEGORY)


def _file_checks(config: ConnectorConfig) -> list[CheckResult]:
    try:
        files = read_ehr_files(config.config_file)
    except BridgeError as exc:
        return [_line("MedShakeEHR config.yml", False if config.writable or config.sso else None,
                      exc.message, exc.fix)]
    lacking = [key for key, value in (("sqlVarPassword", files.sql_var_password),
                                      ("fingerprint", files.fingerprint),
                                      ("stockageLocation", files.storage)) if not value]
    results = [_line("MedShakeEHR config.yml", None if lacking else True, config.config_file
                     + (f" (no {', '.join(lacking)})" if lacking else ""),
                     "check that this is the config.yml MedShakeEHR runs with" if lacking
                     else "")]
    if not config.filing:
        return results
    try:
        folder = storage_folder(config)
    except BridgeError as exc:
        return [*results, _line("MedShakeEHR storage", False, exc.message, exc.fix)]
    results.append(_storage_line(str(folder)))
    return results


def _storage_line(folder: str) -> CheckResult:
    if not os.path.isdir(folder):
        return _line("MedShakeEHR storage", False, f"{folder} does not exist",
                     f"check stockageLocation or set {names.STORAGE}")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".bridge-check-"):
            pass
    except OSError as exc:
        return _line("MedShakeEHR storage", False, f"{folder}: {exc.strerror}",
                     "give the bridge's account write access (e.g. add it to the web "
                     "server's group and make the folder group-writable)")
    return _line("MedShakeEHR storage", True, f"{folder} (writable)")
