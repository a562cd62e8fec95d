"""Moving from one document to the next without going back to the list (triage by keyboard).

"Next" is the document under this one in the list (newest first, same state), "previous" the
one above; only documents the reader may see are considered.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.mail import InboxDocument


def neighbours(user: User, document: InboxDocument) -> tuple[int | None, int | None]:
    """``(previous_id, next_id)`` of ``document`` in its list."""
    owners = sorted(readable_mail_owner_ids(user))
    base = and_(InboxDocument.owner_user_id.in_(owners), InboxDocument.state == document.state,
                InboxDocument.id != document.id)
    created, ident = InboxDocument.created_at, InboxDocument.id
    below = or_(created < document.created_at,
                and_(created == document.created_at, ident < document.id))
    above = or_(created > document.created_at,
                and_(created == document.created_at, ident > document.id))
    following = db.session.scalar(select(ident).where(base, below)
                                  .order_by(created.desc(), ident.desc()).limit(1))
    preceding = db.session.scalar(select(ident).where(base, above)
                                  .order_by(created.asc(), ident.asc()).limit(1))
    return preceding, following
