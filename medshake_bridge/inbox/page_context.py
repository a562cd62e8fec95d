"""What the inbox pages show beyond the documents themselves: who each line is for and who
saw it, the triage filters and counts, the last and next collection, the results with their
previous values, the neighbours for keyboard triage, whether the reader may send.

Kept out of the views so each view adds one line to its template context.
"""

from __future__ import annotations

from typing import Any

from medshake_bridge.access import can_admin, readable_mail_owner_ids
from medshake_bridge.inbox import delegation, readstate, service
from medshake_bridge.inbox import results as lab
from medshake_bridge.inbox.collection_status import collection_status
from medshake_bridge.inbox.filters import InboxFilter
from medshake_bridge.inbox.navigation import neighbours
from medshake_bridge.models import User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.urls import id_url_builder


def list_context(user: User, page: Any, states: tuple[str, ...], chosen: InboxFilter,
                 where: Any, state: str = "",
                 tabs: dict[str, tuple[int, bool]] | None = None) -> dict[str, Any]:
    """Extra context of the inbox list (one page of documents already chosen; the current
    tab's count is the list's own; ``tabs``: the tabs' counts when already counted, see
    :func:`medshake_bridge.inbox.service.inbox_counts`)."""
    ids = [document.id for document in page.items]
    owner_ids = readable_mail_owner_ids(user)
    delegated = delegation.delegated_owner_ids(user)
    mine = owner_ids if not can_admin(user) else {user.id, *delegated}
    page_owners = {document.owner_user_id for document in page.items}
    names = readstate.owner_names(page_owners | mine, user)  # one query for both uses
    read_ids, readers = readstate.page_reads(user.id, ids)
    mailboxes = service.mailboxes_with_waiting()  # the last collections and the banner
    return {
        "read_ids": read_ids,
        "readers": readers,
        "owners": {owner: name for owner, name in names.items() if owner in page_owners},
        "filters": chosen, "filter_args": chosen.args(),
        "counts": {name: _label(page.total, page.capped) if name == state else
                   _label(*tabs[name]) if tabs is not None else _tab_count(user, name, where)
                   for name in states},
        "collection": collection_status(
            mine, {owner: name for owner, name in names.items() if owner in mine},
            [mailbox for mailbox, *_waiting in mailboxes]),
        "waiting": service.waiting_mail(owner_ids, mailboxes),
        "collects_for_others": bool(delegated),
        "view_url": id_url_builder("bridge_inbox.view", "document_id"),
        "restore_url": id_url_builder("bridge_inbox.restore", "document_id"),
    }


def document_context(user: User, document: InboxDocument) -> dict[str, Any]:
    """Extra context of one document's page."""
    rows = lab.result_rows(user, document)
    return {
        "readers": readstate.other_readers([document.id], user.id).get(document.id, []),
        "owner_name": readstate.owner_names([document.owner_user_id]).get(
            document.owner_user_id, ""),
        "can_send": bool(delegation.send_as_choices(user)),
        "result_rows": rows, "critical": lab.has_critical(rows),
        "exam_date": lab.exam_date(document),
        "neighbours": neighbours(user, document),
    }


def _tab_count(user: User, state: str, where: Any) -> str:
    return _label(*service.count_documents(user, state=state, where=where))


def _label(count: int, capped: bool) -> str:
    return f"{count}+" if capped else str(count)
