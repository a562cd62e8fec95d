"""API tokens: create (the text shown once), find by text, list, revoke.

A token's text is ``msb_`` followed by 43 URL-safe characters (256 random bits); only its
SHA-256 is stored. A token acts as its user, within its scopes, until it expires or is revoked;
the ``admin`` scope may only be given to an admin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.models import ApiToken, User
from medshake_bridge.models.api import SCOPES
from medshake_bridge.models.settings import utcnow

TOKEN_PREFIX = "msb_"  # noqa: S105 - the public prefix of every token
_TOKEN_TEXT = re.compile(r"^msb_[A-Za-z0-9_-]{20,100}$")
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([dhm])\s*$")
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)  # no write per request


class TokenError(BridgeError):
    """A token could not be created or revoked as asked."""


@dataclass(frozen=True)
class NewToken:
    """A created token: its row and its text (never stored, shown once)."""

    row: ApiToken
    text: str


def token_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_expiry(text: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """``"90d"``, ``"12h"``, ``"30m"`` from now; ``None``, ``""`` or ``"never"``: no expiry."""
    if text is None or text.strip().lower() in ("", "never"):
        return None
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise TokenError(f"expiry {text!r} is not understood",
                         fix="write a duration such as 90d, 12h or 30m, or never")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return (now or utcnow()) + dt.timedelta(**{unit: int(match.group(1))})


def check_scopes(user: User, scopes: list[str]) -> list[str]:
    """The scopes, checked and de-duplicated in the canonical order."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise TokenError(f"unknown or missing scope(s): {', '.join(unknown) or '-'}",
                         fix=f"give one or more of: {', '.join(SCOPES)}")
    if "admin" in scopes and user.role != "admin":
        raise TokenError(f"user {user.login} is not an administrator, so a token of theirs "
                         "cannot have the admin scope", fix="leave the admin scope out")
    return [scope for scope in SCOPES if scope in scopes]


def create_token(user: User, scopes: list[str], *, name: str = "",
                 expires: str | None = "90d") -> NewToken:
    """Create a token for ``user``; commits. The text is in the answer and nowhere else."""
    if not user.active:
        raise TokenError(f"user {user.login} is disabled", fix="enable the user first")
    checked = check_scopes(user, scopes)
    expires_at = parse_expiry(expires)
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:200], prefix=text[:12],
                   token_hash=token_digest(text), scopes=" ".join(checked),
                   expires_at=expires_at)
    db.session.add(row)
    db.session.commit()
    return NewToken(row, text)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_usable(row: ApiToken, *, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or _aware(row.expires_at) > now)


def find_token(text: str) -> ApiToken | None:
    """The usable token with this text (its user active), or ``None``; notes its use."""
    if not _TOKEN_TEXT.match(text or ""):
        return None
    digest = token_digest(text)
    row = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest) or not is_usable(row):
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - _aware(row.last_used_at) > LAST_USED_GRANULARITY:
        row.last_used_at = now
        db.session.commit()
    return row


def list_tokens(user_id: int | None = None) -> list[ApiToken]:
    """Tokens of one user (``user_id``) or of everyone, newest first (revoked included)."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(db.session.scalars(query))


def revoke_token(token_id: int, *, owner_id: int | None = None) -> ApiToken:
    """Revoke a token (of ``owner_id`` only, when given); idempotent; commits."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise TokenError(f"no token {token_id}", fix="list the tokens to find its number")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
    return row


def token_state(row: ApiToken) -> str:
    """``active``, ``expired`` or ``revoked``: what lists show."""
    if row.revoked_at is not None:
        return "revoked"
    return "active" if is_usable(row) else "expired"
