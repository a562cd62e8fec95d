"""Single sign-on from MedShakeEHR's login cookies (off by default).

MedShakeEHR keeps no server-side session: a request is logged in when the ``userName`` cookie
names an account whose ``lastLogFingerprint`` equals ``sha1(Accept-Language + fingerprint +
User-Agent + lastLogDate)`` and whose decrypted stored bcrypt hash verifies against the
``userPass`` cookie (a bcrypt of that hash). This module repeats that check exactly, then adds
MedShakeEHR's per-request rules (2FA configured → a TOTP secret must exist; maintenance →
admins only). Only accounts linked to a bridge user are recognised (never provisioned), and
``apacheLogUserID`` is never trusted. Threat model: docs/medshakeehr.md.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import BridgeError, HostIdentity, linked_user, settings
from medshake_medshakeehr import settings as names
from medshake_medshakeehr.config import ConnectorConfig, connector_config, read_ehr_files
from medshake_medshakeehr.database import engine_for
from medshake_medshakeehr.identity import SOURCE
from medshake_medshakeehr.mysql_aes import aes_decrypt

log = logging.getLogger(__name__)


def current_user(app: Any, request: Any) -> HostIdentity | None:
    try:
        if not settings(app).get(names.SSO):  # one cheap read on every anonymous request
            return None
        config = connector_config(app)
    except BridgeError:
        return None
    if not (config.sso and config.configured):
        return None
    people_id = recognise(config, request.cookies, request.headers)
    if people_id is None:
        return None
    key = f"{SOURCE}:{people_id}"
    user = linked_user(key)
    if user is None or not user.active:
        return None
    return HostIdentity(key=key, login=user.login, display_name=user.display_name)


_VERIFIED: dict[bytes, bool] = {}
_VERIFIED_MAX = 512


def _verified(bcrypt: Any, hashed: bytes, cookie: bytes) -> bool:
    """``bcrypt.checkpw`` (about 0.1 s at MedShakeEHR's cost 10), remembered: its answer
    depends only on its two inputs, so a password change or a new login (other inputs, or no
    row found above) can never reuse an old answer. Keys are digests, not the hashes."""
    key = hashlib.sha256(hashed + b"\0" + cookie).digest()
    known = _VERIFIED.get(key)
    if known is None:
        try:
            known = bool(bcrypt.checkpw(hashed, cookie))
        except ValueError:
            known = False
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = known
    return known


def recognise(config: ConnectorConfig, cookies: Any, headers: Any) -> int | None:
    """The people.id MedShakeEHR would accept for these cookies and headers, else ``None``."""
    try:
        import bcrypt
    except ImportError:
        log.warning("MedShakeEHR single sign-on needs bcrypt: pip install "
                    "'medshake-bridge[medshakeehr]'")
        return None
    # PHP's setcookie() percent-encodes values and $_COOKIE decodes them (urldecode)
    name = unquote_plus(str(cookies.get("userName") or ""))
    cookie_pass = unquote_plus(str(cookies.get("userPass") or ""))
    if not name or not cookie_pass.startswith("$2"):
        return None
    try:
        files = read_ehr_files(config.config_file)
        browser = (str(headers.get("Accept-Language") or "") + files.fingerprint
                   + str(headers.get("User-Agent") or ""))
        with engine_for(config).connect() as connection:
            row = connection.execute(text(
                "SELECT id, `rank`, pass, secret2fa IS NOT NULL FROM people WHERE name=:n AND "
                "LENGTH(pass)>0 AND type NOT IN ('deleted','destroyed') AND "
                "lastLogFingerprint = SHA1(CONCAT(:b, lastLogDate)) LIMIT 1"),
                {"n": name, "b": browser}).first()
            if row is None:
                return None
            people_id, rank, stored, has_2fa = row
            rules = dict(connection.execute(text(
                "SELECT name, value FROM configuration WHERE name='optionGeLogin2FA' AND "
                "level='default' UNION ALL SELECT CONCAT('state:', name), value FROM `system` "
                "WHERE name='state' AND groupe='system'")).all())
    except (BridgeError, SQLAlchemyError) as exc:
        log.warning("MedShakeEHR single sign-on unavailable: %s", type(exc).__name__)
        return None
    hashed = aes_decrypt(bytes(stored or b""), files.sql_var_password.encode())
    if not hashed:
        return None
    if not _verified(bcrypt, hashed, cookie_pass.encode()):
        return None
    if str(rules.get("optionGeLogin2FA", "")) == "true" and not has_2fa:
        return None
    if str(rules.get("state:state", "")) == "maintenance" and rank != "admin":
        return None
    return int(people_id)
