"""``import-settings``: MedShakeEHR's ``apicrypt*`` parameters into the bridge's store.

Rows are read at the three levels MedShakeEHR has (default, module, user); a user-level row
goes to the bridge user linked to its ``toID``. User-level values whose name contains
"password" are ``HEX(AES_ENCRYPT(value, sqlVarPassword))`` and are decrypted here (the bridge
then stores them encrypted with its own keys). A value the bridge already holds differently is
reported as conflicting and left alone; secrets are masked in every report line.
``apicryptInboxMailForUserID`` lists MedShakeEHR people ids: they are translated to the linked
bridge users' ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import BridgeError, linked_user, settings
from medshake_medshakeehr.config import ConnectorConfig, read_ehr_files
from medshake_medshakeehr.database import engine_for, unreachable
from medshake_medshakeehr.identity import SOURCE
from medshake_medshakeehr.mysql_aes import decrypt_hex
from medshake_medshakeehr.report import CONFLICTING, IMPORTED, SKIPPED, ImportLine

MASK = "********"
USER_IDS = "apicryptInboxMailForUserID"


def _rows(config: ConnectorConfig) -> list[Any]:
    try:
        with engine_for(config).connect() as connection:
            return list(connection.execute(text(
                "SELECT name, level, toID, module, value FROM configuration WHERE name LIKE "
                "'apicrypt%' ORDER BY FIELD(level,'default','module','user'), toID, name")))
    except SQLAlchemyError as exc:
        raise unreachable(exc, config) from None


def _is_secret(spec: Any, name: str) -> bool:
    return bool(spec.secret) or "password" in name.lower()


def import_settings(config: ConnectorConfig, *, dry_run: bool = False) -> list[ImportLine]:
    rows = _rows(config)
    store = settings()
    key = None
    lines: list[ImportLine] = []
    for name, level, to_id, module, value in rows:
        where = {"default": "default", "module": f"module {module}",
                 "user": f"MedShakeEHR user {to_id}"}.get(level, level)
        subject = f"{name} ({where})"
        spec = store.declaration(name)
        if spec is None:
            lines.append(ImportLine(SKIPPED, subject, "not a bridge setting"))
            continue
        raw = "" if value is None else str(value)
        if level == "user" and "password" in name.lower() and raw:
            if key is None:
                key = read_ehr_files(config.config_file).sql_var_password.encode()
            plain = decrypt_hex(raw, key)
            if plain is None:
                lines.append(ImportLine(SKIPPED, subject, "does not decrypt: check "
                                        "sqlVarPassword in config.yml"))
                continue
            raw = plain
        if not raw.strip():
            lines.append(ImportLine(SKIPPED, subject, "empty in MedShakeEHR"))
            continue
        scope: dict[str, Any] = {}
        if level == "user":
            user = linked_user(f"{SOURCE}:{to_id}")
            if user is None:
                lines.append(ImportLine(SKIPPED, subject, f"no bridge user is linked to "
                                        f"MedShakeEHR account {to_id} (link-user first)"))
                continue
            scope, subject = {"user_id": user.id}, f"{name} (user {user.login})"
        elif level == "module":
            scope = {"module": module}
        if level not in spec.levels:
            lines.append(ImportLine(SKIPPED, subject, f"the bridge sets it at "
                                    f"{', '.join(spec.levels)} level only"))
            continue
        if name == USER_IDS:
            translated = _bridge_user_ids(raw)
            if translated is None:
                lines.append(ImportLine(SKIPPED, subject, "lists MedShakeEHR accounts not "
                                        "linked to bridge users (link-user first)"))
                continue
            raw = translated
        shown = MASK if _is_secret(spec, name) else raw
        try:
            wanted = store.validate(name, raw, level=level)
            current = store.stored(name, **scope)
        except BridgeError as exc:
            lines.append(ImportLine(SKIPPED, subject, f"refused: {exc}"))
            continue
        if current is not None:
            if current == wanted:
                lines.append(ImportLine(SKIPPED, subject, "the bridge already has this value"))
            else:
                theirs = MASK if _is_secret(spec, name) else current
                lines.append(ImportLine(CONFLICTING, subject, f"bridge has {theirs!s}, "
                                        f"MedShakeEHR has {shown}; kept the bridge's"))
            continue
        if not dry_run:
            store.set(name, raw, **scope)
        lines.append(ImportLine(IMPORTED, subject, shown))
    return lines


def _bridge_user_ids(raw: str) -> str | None:
    ids = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        user = linked_user(f"{SOURCE}:{part}") if part.isdigit() else None
        if user is None:
            return None
        ids.append(str(user.id))
    return ",".join(ids)
