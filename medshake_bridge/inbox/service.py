"""Listing, reading and removing inbox documents, with access checks and audit.

Filing goes through the patient providers: :func:`medshake_bridge.patients.file_document`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import g, has_request_context
from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload

from medshake_bridge.access import readable_mail_owner_ids, require_mail_access
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.inbox import readstate
from medshake_bridge.models import User
from medshake_bridge.models.mail import (
    FAILED,
    NEW,
    REMOVED,
    InboxDocument,
    Mailbox,
    ReceivedMessage,
)
from medshake_bridge.models.settings import utcnow
from medshake_bridge.paths import ensure_private_dir


class InboxError(BridgeError):
    """An inbox action could not be done."""


@dataclass(frozen=True)
class Attachment:
    index: int
    name: str
    size: int
    content_type: str
    path: Path
    origin: str
    signature: str = ""  # valid / invalid / unsigned (v2), "" when the back-end says nothing
    signer: str = ""

    @property
    def signature_invalid(self) -> bool:
        return self.signature == "invalid"

    @property
    def previewable(self) -> bool:
        return self.content_type == "application/pdf" or self.content_type.startswith(
            ("image/", "text/plain"))


LIST_COUNT_CAP = 10_000
FILTERED_COUNT_CAP = 999
UNREAD_COUNT_CAP = 999
TAB_COUNT_CAP = 999


@dataclass(frozen=True)
class Page:
    """One page of a list. ``total`` stops counting at a cap (``capped``): counting 100,000
    rows on every page view costs more than the page itself, and nobody pages that far."""

    items: list[InboxDocument]
    page: int
    per_page: int
    total: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def count_capped(condition: Any, cap: int) -> tuple[int, bool]:
    """``count(*)`` of the matching documents, stopping at ``cap`` (True when it did)."""
    inner = select(InboxDocument.id).where(condition).limit(cap + 1).subquery()
    found = int(db.session.scalar(select(func.count()).select_from(inner)) or 0)
    return min(found, cap), found > cap


def list_documents(user: User, *, state: str = NEW, newest_first: bool = True, page: int = 1,
                   per_page: int = 50, where: Any = None,
                   counted: tuple[int, bool] | None = None) -> Page:
    """The documents ``user`` may see in one state, a page at a time (indexed query);
    ``where`` narrows them further (the inbox's filters). ``counted``: their capped count
    when the caller already has it (:func:`inbox_counts`), so it is not asked again.
    The texts a list never shows (the letter, the parsed header and results, the search
    text) are loaded only if something reads them."""
    owners = sorted(readable_mail_owner_ids(user))
    if not owners:
        return Page([], page, per_page, 0)
    condition = _listed(owners, state, where)
    total, capped = counted if counted is not None else count_capped(
        condition, _list_cap(where))
    items = list(db.session.scalars(_page_query(condition, newest_first, page, per_page)))
    return Page(items, page, per_page, total, capped)


def inbox_page(user: User, *, state: str, states: tuple[str, ...], newest_first: bool = True,
               page: int = 1, per_page: int = 50,
               where: Any = None) -> tuple[Page, InboxCounts]:
    """One page of the inbox list and every count it shows (:func:`inbox_counts`), the first
    page in one statement.

    On the first page the counts are uncorrelated sub-queries added to the lines' ``SELECT``,
    computed once by the database: one round trip fewer than asking them apart (on a shared
    machine every round trip waits for the database server's turn on a core, issue 18); a
    first page without lines (an empty tab) asks them apart. Further pages ask them apart
    first: PostgreSQL computes such sub-queries on the rows the ``OFFSET`` skips too, so a
    page past the end (no line comes back) would count twice, and counting a search is the
    expensive part of it (a trigram scan). Choosing the lines in a sub-query and counting
    outside it avoids that, but the ORM's aliased entity cost every page ~1,400 function
    calls more."""
    owners = sorted(readable_mail_owner_ids(user))
    if not owners or page > 1:
        counts = inbox_counts(user, state=state, states=states, where=where)
        return list_documents(user, state=state, newest_first=newest_first, page=page,
                              per_page=per_page, where=where, counted=counts.listed), counts
    columns, cached = _count_columns(user, owners, state=state, states=states, where=where)
    rows = db.session.execute(_page_query(_listed(owners, state, where), newest_first, page,
                                          per_page)
                              .add_columns(*(column for _, _, column in columns))).all()
    if not rows:
        counts = inbox_counts(user, state=state, states=states, where=where)
    else:
        counts = _read_counts(user, state, states, columns, cached, rows[0][1:])
    return Page([row[0] for row in rows], page, per_page, *counts.listed), counts


def _listed(owners: list[int], state: str, where: Any) -> Any:
    condition = (InboxDocument.owner_user_id.in_(owners)) & (InboxDocument.state == state)
    return condition if where is None else condition & where


def _page_query(condition: Any, newest_first: bool, page: int, per_page: int) -> Any:
    order = InboxDocument.created_at.desc() if newest_first else InboxDocument.created_at.asc()
    return (select(InboxDocument).where(condition).order_by(order, InboxDocument.id.desc())
            .options(joinedload(InboxDocument.message), defer(InboxDocument.body),
                     defer(InboxDocument.header_json), defer(InboxDocument.results_json),
                     defer(InboxDocument.search_text))
            .limit(per_page).offset((max(page, 1) - 1) * per_page))


def _list_cap(where: Any) -> int:
    # a filtered list is read, not paged through 200 pages
    return LIST_COUNT_CAP if where is None else FILTERED_COUNT_CAP


def _capped_column(condition: Any, cap: int, name: str) -> Any:
    inner = select(InboxDocument.id).where(condition).limit(cap + 1).subquery()
    return select(func.count()).select_from(inner).scalar_subquery().label(name)


@dataclass(frozen=True)
class InboxCounts:
    """Every count the inbox list shows, as ``(count, capped)``: the listed state's (with the
    filters), each tab's (with the filters) and the unread documents (without)."""

    listed: tuple[int, bool]
    tabs: dict[str, tuple[int, bool]]
    unread: int


def inbox_counts(user: User, *, state: str, states: tuple[str, ...],
                 where: Any = None) -> InboxCounts:
    """The counts of one inbox page in one statement.

    Asked one by one they were five statements per page (the list, two other tabs, the
    unread badge); each is cheap with the listing index, but on PostgreSQL every statement
    is a round trip, a plan and SQLAlchemy's work, which cost more than the counting itself.
    The caps and conditions are those of :func:`list_documents`, :func:`count_documents`
    and :func:`unread_count` (whose per-request cache this fills).
    """
    owners = sorted(readable_mail_owner_ids(user))
    if not owners:
        return InboxCounts((0, False), {name: (0, False) for name in states}, 0)
    columns, cached = _count_columns(user, owners, state=state, states=states, where=where)
    row = db.session.execute(select(*(column for _, _, column in columns))).one()
    return _read_counts(user, state, states, columns, cached, row)


def _count_columns(user: User, owners: list[int], *, state: str, states: tuple[str, ...],
                   where: Any) -> tuple[list[tuple[str, int, Any]], bool]:
    """The capped counts as labelled scalar sub-queries ``(tab or "", cap, column)``, and
    whether the unread count was already in this request's cache (then not asked)."""
    columns = []
    for index, name in enumerate(states):
        cap = _list_cap(where) if name == state else TAB_COUNT_CAP
        columns.append((name, cap, _capped_column(_listed(owners, name, where), cap,
                                                  f"tab_{index}")))
    cached = has_request_context() and readstate.unread_memo_key(user.id) in g
    if not cached:
        columns.append(("", UNREAD_COUNT_CAP, _capped_column(
            _unread(owners, user.id), UNREAD_COUNT_CAP, "unread")))
    return columns, cached


def _unread(owners: list[int], user_id: int) -> Any:
    """New documents of ``owners`` not yet opened by ``user_id`` (the unread badge)."""
    return (InboxDocument.owner_user_id.in_(owners) & (InboxDocument.state == NEW)
            & readstate.unread_by(user_id))


def _read_counts(user: User, state: str, states: tuple[str, ...],
                 columns: list[tuple[str, int, Any]], cached: bool,
                 values: Any) -> InboxCounts:
    found = {name: (min(int(value or 0), cap), int(value or 0) > cap)
             for (name, cap, _), value in zip(columns, values, strict=True)}
    cache_key = readstate.unread_memo_key(user.id)
    if cached:
        unread = g.get(cache_key)
    else:
        unread = found.pop("")[0]
        if has_request_context():
            setattr(g, cache_key, unread)
    tabs = {name: found[name] for name in states}
    return InboxCounts(tabs.get(state, (0, False)), tabs, unread)


def unread_count(user: User) -> int:
    """Unread new documents the user may see (unread *by this user*: a delegate's reading
    never changes the owner's count), counted up to 999 (shown as "999+" past it);
    computed once per request (the menu and the page both show it)."""
    cache_key = readstate.unread_memo_key(user.id)
    if has_request_context() and cache_key in g:
        return g.get(cache_key)
    owners = sorted(readable_mail_owner_ids(user))
    count = 0
    if owners:
        count, _ = count_capped(_unread(owners, user.id), UNREAD_COUNT_CAP)
    if has_request_context():
        setattr(g, cache_key, count)
    return count


@dataclass(frozen=True)
class WaitingMail:
    """Mail of one mailbox kept for a retry because of an outage or a setting (a banner)."""

    mailbox: str
    count: int
    reason: str
    fix: str
    since: datetime | None


def mailboxes_with_waiting() -> list[tuple[Mailbox, int, datetime | None, int | None]]:
    """Every mailbox (by id) with its messages waiting for an outage or a setting: ``(mailbox,
    count, waiting since, id of the last one)``, count 0 when none waits; one statement.

    The inbox list shows both the mailboxes' last collection and the waiting-mail banner:
    read together they are one round trip, not two (issue 18, PostgreSQL at 1,000,000
    documents)."""
    failed = ReceivedMessage.state == FAILED
    if db.session.get_bind().dialect.name == "sqlite":
        # Statistics from an ANALYZE see one state ("processed") in all the messages and no
        # rarer one, so SQLite read all 1,000,000 for this banner (1 s a page): it is told
        # that failed messages are rare, and reads them through the state's index.
        failed = func.unlikely(failed)
    waiting = (select(ReceivedMessage.mailbox_id, func.count().label("count"),
                      func.min(ReceivedMessage.waiting_since).label("since"),
                      func.max(ReceivedMessage.id).label("last_id"))
               .where(failed, ReceivedMessage.error_cause.in_(("transient", "configuration")))
               .group_by(ReceivedMessage.mailbox_id).subquery())
    rows = db.session.execute(
        select(Mailbox, waiting.c.count, waiting.c.since, waiting.c.last_id)
        .outerjoin(waiting, waiting.c.mailbox_id == Mailbox.id).order_by(Mailbox.id))
    return [(mailbox, int(count or 0), since, last_id)
            for mailbox, count, since, last_id in rows]


def waiting_mail(owner_ids: set[int] | None = None,
                 mailboxes: list[tuple[Mailbox, int, datetime | None, int | None]]
                 | None = None) -> list[WaitingMail]:
    """Mailboxes (of ``owner_ids``, or all) with messages waiting for an outage or a setting
    (``mailboxes``: :func:`mailboxes_with_waiting` when the caller already has it).

    A waiting message has no document yet, so its readers are found through the mailbox's
    last collection report, which lists the users it was collected for.
    """
    found = []
    for mailbox, count, since, last_id in (mailboxes if mailboxes is not None
                                           else mailboxes_with_waiting()):
        if not count:
            continue
        if owner_ids is not None:
            owners = set(json.loads(mailbox.last_counts or "{}").get("owners") or [])
            if not owners & owner_ids:
                continue
        last = db.session.get(ReceivedMessage, last_id)
        reason = last.last_error.partition(": ")[2] or last.last_error
        found.append(WaitingMail(mailbox.key, count, reason, last.error_fix, since))
    return found


def get_document(user: User, document_id: int) -> InboxDocument:
    """The document, or a 404 (audited) when it does not exist or is not ``user``'s to see."""
    document = db.session.get(InboxDocument, document_id)
    require_mail_access(user, document.owner_user_id if document else -1,
                        target=f"inbox document {document_id}")
    return document


def mark_read(document: InboxDocument, user: User | None = None, *, via: str = "") -> None:
    """Record that ``user`` (default: the owner) opened the document; audited (``via``: the
    channel when it is not the pages, e.g. ``"api"``)."""
    reader = user or db.session.get(User, document.owner_user_id)
    readstate.record_read(document, reader, via=via)


def attachments(document: InboxDocument) -> list[Attachment]:
    items = json.loads(document.message.attachments_json or "[]")
    return [Attachment(index, item["name"], int(item.get("size", 0)),
                       item.get("content_type", "application/octet-stream"),
                       Path(item["file"]), item.get("from", ""),
                       str(item.get("signature") or ""), str(item.get("signer") or ""))
            for index, item in enumerate(items)]


def invalid_parts(document: InboxDocument) -> list[str | None]:
    """Names of the parts with an invalid signature (``None`` for the text), for the banner."""
    names: list[str | None] = [item.name for item in attachments(document)
                               if item.signature_invalid]
    if document.message.signature_status == "invalid":
        names.insert(0, None)
    return names


def attachment(document: InboxDocument, index: int) -> Attachment:
    found = attachments(document)
    if not 0 <= index < len(found) or not found[index].path.is_file():
        from medshake_bridge.access import deny

        deny(f"attachment {index} of inbox document {document.id}")
    return found[index]


def header(document: InboxDocument) -> dict[str, Any]:
    return json.loads(document.header_json or "{}")


def results(document: InboxDocument) -> list[dict[str, Any]]:
    return json.loads(document.results_json or "[]")



def count_documents(user: User, *, state: str, where: Any = None,
                    cap: int = TAB_COUNT_CAP) -> tuple[int, bool]:
    """How many documents of one state ``user`` may see, stopping at ``cap`` (for the tabs:
    "999+" is as useful as the exact number and costs a tenth of it); ``(count, capped)``."""
    owners = sorted(readable_mail_owner_ids(user))
    if not owners:
        return 0, False
    condition = (InboxDocument.owner_user_id.in_(owners)) & (InboxDocument.state == state)
    if where is not None:
        condition = condition & where
    return count_capped(condition, cap)


def restore_document(user: User, document_id: int) -> InboxDocument:
    """Undo a removal: the document goes back to the documents to process; idempotent.
    Its archived copy stays where it is (the archive never loses anything)."""
    document = get_document(user, document_id)
    if document.state != REMOVED:
        return document
    document.state, document.removed_at = NEW, None
    db.session.commit()
    audit("inbox.restore", target=f"document {document.id}", actor=user)
    return document


def remove_document(user: User, document_id: int) -> InboxDocument:
    """Take a document out of the inbox (archived, never destroyed); idempotent."""
    document = get_document(user, document_id)
    if document.state == REMOVED:
        return document
    folder = document.archive_path or str(archive_document(document))
    document.state, document.removed_at, document.archive_path = REMOVED, utcnow(), folder
    db.session.commit()
    audit("inbox.remove", target=f"document {document.id}", actor=user)
    return document


def archive_document(document: InboxDocument, when: datetime | None = None) -> Path:
    """Copy the document's text and attachments under ``<archive>/<user>/<YYYY>/<MM>/<DD>/``."""
    when = when or utcnow()
    owner = db.session.get(User, document.owner_user_id)
    settings = bridge_state().settings.values_for_user(document.owner_user_id)
    root = Path(settings["apicryptCheminArchivesInbox"])
    folder = ensure_private_dir(root / (owner.login if owner else str(document.owner_user_id))
                                / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
                                / f"document-{document.id}")
    (folder / "document.txt").write_text(document.body, encoding="utf-8")
    (folder / "document.txt").chmod(0o600)
    for item in attachments(document):
        if item.path.is_file():
            target = folder / f"{item.index:02d}-{item.name}"
            shutil.copyfile(item.path, target)
            target.chmod(0o600)
    return folder
