"""Audit events anyone can cause without logging in, kept from flooding the log.

A visitor without a session can fail the CSRF check or a login as often as they like; one row
per attempt let 300 POSTs add 300 rows in under two seconds, burying the events an
administrator must see. :func:`audit_unauthenticated` records the first
:data:`BURST` events of one kind from one address in a :data:`WINDOW_SECONDS` window as usual,
then one aggregate row (action ``audit.suppressed``) whose count is kept up to date, so the log
still says how much noise there was, from where, and when.

Counters live in the database (``bridge_audit_noise``), one row per (action, address),
incremented by an atomic upsert (``INSERT … ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL,
``ON DUPLICATE KEY UPDATE`` on MariaDB) whose row lock is held until the audit row is written:
every web worker and every host of a site counts in the same window, so N gunicorn workers
flooded together still write at most :data:`BURST` + 1 rows per window, and the aggregate's
count is exact. Events of logged-in users are always recorded one by one.

:func:`login_target` keeps what was typed in the login field out of the log when it is not a
known login: people type their password there by mistake. The row then carries a short keyed
fingerprint, enough to see that the same unknown text came back, and not the text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import BigInteger, case, delete, literal, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, AuditNoiseCounter

BURST = 5
WINDOW_SECONDS = 60
SUPPRESSED = "audit.suppressed"
RETRIES = 5

log = logging.getLogger(__name__)
_COUNTERS = AuditNoiseCounter.__table__


def _upsert(action: str, address: str, now: int) -> Any:
    """The statement that counts one more event (or starts a new window when the row's has
    ended), atomically, on this database."""
    table = _COUNTERS
    ended = table.c.started <= now - WINDOW_SECONDS
    first = dict(action=action, address=address, started=now, count=1, aggregate_id=None)
    # ``started`` last: MariaDB applies the assignments in order, and the others read it
    changes = [("count", case((ended, 1), else_=table.c.count + 1)),
               ("aggregate_id", case((ended, None), else_=table.c.aggregate_id)),
               ("started", case((ended, literal(now, BigInteger)), else_=table.c.started))]
    dialect = db.session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table).values(**first).on_conflict_do_update(
            index_elements=[table.c.action, table.c.address], set_=dict(changes))
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(table).values(**first).on_duplicate_key_update(changes)
    return None


def _tick(action: str, address: str, now: int) -> tuple[int, int | None]:
    """Count one event; returns (count in the window, aggregate row id). The counter row stays
    locked until the caller commits, so the rows it writes follow the counts' order."""
    table = _COUNTERS
    key = (table.c.action == action) & (table.c.address == address)
    statement = _upsert(action, address, now)
    if statement is not None:
        db.session.execute(statement)
    else:  # another database: the portable (slower) way, same result
        found = db.session.execute(select(table.c.started).where(key).with_for_update()).first()
        if found is None:
            try:
                with db.session.begin_nested():
                    db.session.execute(table.insert().values(
                        action=action, address=address, started=now, count=1))
            except IntegrityError:  # another process inserted it first
                db.session.execute(update(table).where(key).values(count=table.c.count + 1))
        elif found.started <= now - WINDOW_SECONDS:
            db.session.execute(update(table).where(key).values(count=1, started=now,
                                                               aggregate_id=None))
        else:
            db.session.execute(update(table).where(key).values(count=table.c.count + 1))
    row = db.session.execute(select(table.c.count, table.c.aggregate_id).where(key)
                             .with_for_update()).one()
    return int(row.count), row.aggregate_id


def _record(action: str, address: str, *, target: str, outcome: str, detail: str,
            actor_login: str) -> None:
    db.session.commit()  # end any read transaction: the upsert opens the writing one
    now = int(time.time())
    count, aggregate_id = _tick(action[:80], address, now)
    if count <= BURST:
        audit(action, target=target, outcome=outcome, detail=detail, actor=None,
              actor_login=actor_login)  # commits the counter with it
        if count == 1:  # a new window: forget the ended ones (every address's)
            db.session.execute(delete(_COUNTERS).where(
                _COUNTERS.c.started <= now - WINDOW_SECONDS))
            db.session.commit()
        return
    text = (f"{count - BURST} more {action} events from {address or 'an unknown address'} "
            f"within {WINDOW_SECONDS} s were not recorded one by one")
    if aggregate_id is not None and db.session.execute(
            update(AuditEvent).where(AuditEvent.id == aggregate_id)
            .values(detail=text)).rowcount:
        db.session.commit()
        return
    event = audit(SUPPRESSED, target=action, outcome="denied", detail=text, actor=None,
                  commit=False)
    db.session.execute(update(_COUNTERS).where(
        (_COUNTERS.c.action == action[:80]) & (_COUNTERS.c.address == address))
        .values(aggregate_id=event.id))
    db.session.commit()


def audit_unauthenticated(action: str, *, target: str = "", outcome: str = "denied",
                          detail: str = "", actor_login: str = "") -> None:
    """Record ``action`` caused by a visitor without a session, rate-limited per address
    across every process of the site."""
    address = ((request.remote_addr or "") if has_request_context() else "")[:64]
    for attempt in range(RETRIES):
        try:
            _record(action, address, target=target, outcome=outcome, detail=detail,
                    actor_login=actor_login)
            return
        except OperationalError as exc:  # a deadlock or a busy database: count again
            db.session.rollback()
            log.info("audit noise counter busy (%s), try %d", type(exc).__name__, attempt + 1)
            time.sleep(0.02 * (attempt + 1))
    # the counter stayed busy: the event is still recorded, one row, never lost
    audit(action, target=target, outcome=outcome, detail=detail, actor=None,
          actor_login=actor_login)


def login_target(typed: str, *, known: bool) -> str:
    """What the audit log keeps of the login field: the login when it names a user, else a
    keyed fingerprint (never the typed text, which may be a password)."""
    if known:
        return typed
    if not typed:
        return ""
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    digest = hmac.new(key, typed.encode("utf-8", "replace"), hashlib.sha256).hexdigest()
    return f"unknown login #{digest[:10]}"
