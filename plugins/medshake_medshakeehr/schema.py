"""The connector's own tables inside MedShakeEHR's database, made by
``medshake-bridge medshakeehr install-tables``.

MedShakeEHR has no column that says "this document came from bridge document N", and its own
filing marks nothing reliably (v8 defect), so idempotency lives in these tables: their primary
key is the bridge's document key, inserted in the same transaction as the documents, so a
retry, a double click or a second process files (or copies to the inbox) once.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from medshake_bridge.api import PatientError

FILINGS = "bridge_filings"
INBOX_COPIES = "bridge_inbox_copies"
BRIDGE_TABLES = (FILINGS, INBOX_COPIES)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS `{FILINGS}` (
  `documentKey` VARCHAR(100) NOT NULL,
  `toID` INT(10) UNSIGNED NOT NULL,
  `fromID` INT(10) UNSIGNED NOT NULL,
  `objetID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `filedAt` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`documentKey`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
    f"""CREATE TABLE IF NOT EXISTS `{INBOX_COPIES}` (
  `documentKey` VARCHAR(100) NOT NULL,
  `inboxID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `copiedAt` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`documentKey`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
)


def install_tables(connection: Connection) -> None:
    """Create the connector's tables when missing (never alters MedShakeEHR's own)."""
    for statement in _DDL:
        connection.execute(text(statement))


def missing_table(exc: BaseException) -> bool:
    """MariaDB error 1146 (no such table) about one of the connector's own tables."""
    if not isinstance(exc, ProgrammingError | OperationalError):
        return False
    args = getattr(getattr(exc, "orig", None), "args", ())
    return bool(args) and args[0] == 1146 and any(t in str(args[1:]) for t in BRIDGE_TABLES)


def tables_missing() -> PatientError:
    return PatientError(f"MedShakeEHR's database lacks the connector's tables "
                        f"({', '.join(BRIDGE_TABLES)})",
                        fix="run medshake-bridge medshakeehr install-tables")
