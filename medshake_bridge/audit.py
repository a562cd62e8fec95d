"""Writing and reading the audit log.

Every security-relevant action calls :func:`audit` once it knows the outcome: logins, refusals,
setting and user changes, and (from later features) key operations, restarts, filing and
deletions. The helper fills in who and from where from the current request, so callers only say
what happened. It never raises for a value that is too long, and it passes ``detail`` through the
secret redaction, so a caller's mistake cannot put a password in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Select, func, select

from medshake_bridge import redaction
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.models.audit import OUTCOMES

_FROM_REQUEST: Any = object()  # sentinel: take the actor from the current request


def audit(action: str, *, target: str = "", outcome: str = "ok", detail: str = "",
          actor: User | None = _FROM_REQUEST, actor_login: str = "",
          source_address: str | None = None, commit: bool = True) -> AuditEvent:
    """Record one event and commit it.

    Call it after the audited change is committed (or rolled back): it commits the session.
    ``actor`` defaults to the bridge user of the current request; pass ``actor_login`` for an
    actor that is not a user (``"cli"``, ``"scheduler"``) or a login that failed. With
    ``commit=False`` the row is only flushed (it has its id) and commits with the caller's
    transaction (:mod:`medshake_bridge.audit_noise` writes it together with its counter).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}, not {outcome!r}")
    if actor is _FROM_REQUEST:
        actor = _request_user()
    if source_address is None:
        source_address = (request.remote_addr or "") if has_request_context() else ""
    event = AuditEvent(
        created_at=datetime.now(UTC),
        actor_id=actor.id if actor is not None else None,
        actor_login=(actor.login if actor is not None else actor_login)[:80],
        action=action[:80],
        target=redaction.redact(target)[:255],
        outcome=outcome,
        source_address=source_address[:64],
        detail=redaction.redact(detail),
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return event


def setting_target(name: str, level: str, *, user_id: int | None = None,
                   module: str | None = None) -> str:
    """The audit target of a setting at one level: ``name@default``, ``name@user:3``,
    ``name@module:cardio`` (the same from the pages and the CLI, so one filter finds both)."""
    if level == "user":
        return f"{name}@user:{user_id}"
    if level == "module":
        return f"{name}@module:{module}"
    return f"{name}@default"


def _request_user() -> User | None:
    if not has_request_context():
        return None
    from medshake_bridge.access import current_bridge_user

    return current_bridge_user()


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page filters on; empty fields do not filter."""

    action: str = ""
    actor: str = ""
    outcome: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> Select[tuple[AuditEvent]]:
        query = select(AuditEvent)
        if self.action:
            query = query.where(AuditEvent.action.startswith(self.action, autoescape=True))
        if self.actor:
            query = query.where(AuditEvent.actor_login == self.actor)
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.target:
            query = query.where(AuditEvent.target.contains(self.target, autoescape=True))
        if self.since is not None:
            query = query.where(AuditEvent.created_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.created_at < self.until)
        return query


def search(criteria: AuditFilter, *, page: int = 1,
           per_page: int = 50) -> tuple[list[AuditEvent], int]:
    """One page of events, newest first, and the total number matching."""
    query = criteria.query()
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset(max(page - 1, 0) * per_page).limit(per_page)
    )
    return list(rows), int(total)


def known_actions() -> list[str]:
    """Distinct actions present in the log (for the filter's choices)."""
    return sorted(db.session.scalars(select(AuditEvent.action).distinct()))
