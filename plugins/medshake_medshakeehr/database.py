"""MedShakeEHR's database: the connector's own engine and pool, and ``data_types`` by name.

One engine per (URL, writable) pair, kept for the process: the bridge's database and session
are never used for MedShakeEHR. Until filing or write-back is on, every connection is opened
``READ ONLY``, so a bug cannot write into the EHR. Type ids differ between installations
(legacy ≤ v5.4 ids, fresh v5.5+ ids, modules), so they are always looked up by name.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from medshake_bridge.api import TRANSIENT, ConfigurationError, PatientError
from medshake_medshakeehr import settings as names
from medshake_medshakeehr.config import ConnectorConfig

IDENTITY_TYPES = ("birthname", "lastname", "firstname", "othersfirstname", "birthdate",
                  "administrativeGenderCode", "nss", "postalCodePerso", "city", "deathdate")
DOCUMENT_TYPES = ("docPorteur", "docOriginalName", "docType")
NEEDED_TYPES = IDENTITY_TYPES + DOCUMENT_TYPES

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def engine_for(config: ConnectorConfig, *, write: bool = False) -> Engine:
    """The connector's engine; ``write`` needs filing or write-back turned on."""
    if not config.configured:
        raise ConfigurationError("MedShakeEHR's database is not set",
                                 fix=f"set {names.DATABASE_URL} (mysql+pymysql://…)")
    if write and not config.writable:
        raise PatientError("writing into MedShakeEHR is turned off",
                           fix=f"turn {names.FILING} on (or {names.WRITE_BACK})")
    key = (config.database_url, write)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _new_engine(config.database_url, read_only=not write)
            for old in [k for k in _engines if k[0] != config.database_url]:
                _engines.pop(old).dispose()  # the URL changed: close the old pool
            _engines[key] = engine
    return engine


def _new_engine(url: str, *, read_only: bool) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("the MedShakeEHR database URL is not a URL",
                                 fix=f"write {names.DATABASE_URL} as "
                                 "mysql+pymysql://USER:PASSWORD@HOST/DATABASE") from None
    if not parsed.drivername.startswith(("mysql", "mariadb")):
        raise ConfigurationError(f"{safe_url(url)} is not a MariaDB/MySQL URL",
                                 fix="MedShakeEHR runs on MariaDB: use mysql+pymysql://…")
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    parsed = parsed.set(query=query)
    try:
        engine = create_engine(parsed, pool_pre_ping=True, pool_recycle=3600, pool_size=3,
                               max_overflow=2, connect_args={"connect_timeout": 5,
                                                             "read_timeout": 30,
                                                             "write_timeout": 30})
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(f"cannot use {safe_url(url)}: {exc}",
                                 fix="install the connector's extra: pip install "
                                 "'medshake-bridge[medshakeehr]'") from None

    @event.listens_for(engine, "connect")
    def _session(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if read_only:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        cursor.close()

    return engine


def unreachable(exc: SQLAlchemyError, config: ConnectorConfig) -> PatientError:
    """A database failure turned into an error naming the fix (without the password)."""
    cause = getattr(exc, "orig", None)
    # the driver's own message only: SQLAlchemy's text would carry the statement's parameters
    # (patients' names) into pages and logs
    said = str(cause).splitlines()[0][:200] if cause is not None and str(cause) else ""
    return PatientError(f"MedShakeEHR's database {safe_url(config.database_url)} failed: "
                        f"{said or type(exc).__name__}",
                        fix="check that MariaDB runs and that the URL, user and password in "
                        f"{names.DATABASE_URL} are right; see medshake-bridge medshakeehr check",
                        cause=TRANSIENT)


def type_ids(connection: Connection, wanted: tuple[str, ...] = NEEDED_TYPES) -> dict[str, int]:
    """``data_types`` ids by name; raises :class:`ConfigurationError` naming any missing."""
    rows = connection.execute(
        text("SELECT name, id FROM data_types WHERE name IN :names").bindparams(
            _expanding("names")), {"names": list(wanted)}).all()
    found = {str(name): int(ident) for name, ident in rows}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ConfigurationError(
            f"MedShakeEHR's data_types has no row named {', '.join(missing)}",
            fix="this is not a complete MedShakeEHR database: restore these rows from its "
            "upgrade/base/sqlInstall.sql (or point the URL at the right database)")
    return found


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)
