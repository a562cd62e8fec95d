"""Acting on behalf: what a delegate (a secretary) may do for the practitioners who chose her.

A delegation is the per-user setting ``apicryptInboxMailForUserID`` (never granted at the
default or module level). It lets the delegate read the owner's mail (:mod:`medshake_bridge.
access`), collect the owner's mailbox and send *as* the owner, always chosen explicitly and
recorded with both names (who acted, for whom). An admin's right to see every inbox is not a
delegation: an admin sends only as themself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.models import User


@dataclass(frozen=True)
class SendAs:
    """A mailbox someone may send from: its owner and the owner's Apicrypt address."""

    user_id: int
    name: str
    address: str
    own: bool  # True for the person's own mailbox


def delegated_owner_ids(user: User | None) -> list[int]:
    """Ids of the users who delegated their mail to ``user`` (per-user setting only).

    The setting exists at the user level only, so its effective value *is* the value stored
    for ``user`` (when its level is ``user``; nothing is stored otherwise). Read that way it
    comes from the request's settings memo, which the access rule already filled: the inbox
    list asked the same row twice (one statement per page fewer on PostgreSQL at 1,000,000
    documents, issue 18)."""
    if user is None or not user.active:
        return []
    found = bridge_state().settings.effective("apicryptInboxMailForUserID", user_id=user.id)
    stored = (found.value if found.level == "user" else None) or []
    return [int(owner) for owner in stored if int(owner) != user.id]


def _address(user_id: int) -> str:
    settings = bridge_state().settings
    address = str(settings.get("apicryptAdresse", user_id=user_id) or "").strip()
    login = str(settings.get("apicryptUtilisateur", user_id=user_id) or "").strip()
    return address if address and login else ""


def send_as_choices(user: User | None) -> list[SendAs]:
    """The mailboxes ``user`` may send from: their own (when set up) and those of the
    practitioners who delegated to them (when set up), own first."""
    if user is None:
        return []
    found: list[SendAs] = []
    own = _address(user.id)
    if own:
        found.append(SendAs(user.id, user.display_name or user.login, own, True))
    owners = delegated_owner_ids(user)
    if owners:
        for owner in db.session.scalars(select(User).where(User.id.in_(owners),
                                                           User.active.is_(True))
                                        .order_by(User.display_name, User.login)):
            address = _address(owner.id)
            if address:
                found.append(SendAs(owner.id, owner.display_name or owner.login, address,
                                    False))
    return found


def needs_explicit_choice(choices: list[SendAs]) -> bool:
    """A delegate always says in whose name she sends; someone with only their own mailbox
    has nothing to choose."""
    return not (len(choices) == 1 and choices[0].own)


def collect_for(user: User, *, retry_now: bool = True) -> tuple[Any, dict[int, str]]:
    """Collect ``user``'s mailbox and those of the practitioners who delegated to them.

    A mailbox shared by several of them is collected once. Returns the pipeline's report and
    the names of the owners (to say whose mailbox each line is about). Audited as
    ``inbox.collect`` with the owners collected for.
    """
    from medshake_bridge.collect.mailboxes import plan_mailboxes
    from medshake_bridge.collect.pipeline import CollectReport, collect_mailbox

    wanted = {user.id, *delegated_owner_ids(user)}
    state = bridge_state()
    plans, problems = plan_mailboxes(state)
    report = CollectReport(problems=[str(problem) for problem in problems
                                     if problem.user_id in wanted])
    for plan in plans:
        if wanted & set(plan.owners):
            report.mailboxes.append(collect_mailbox(state, plan, retry_now=retry_now))
    names = {row.id: row.display_name or row.login for row in db.session.scalars(
        select(User).where(User.id.in_(wanted)))}
    others = sorted(wanted - {user.id})
    audit("inbox.collect", target=", ".join(report_mailboxes(report)) or "-",
          detail=(f"on behalf of {', '.join(names.get(i, str(i)) for i in others)}"
                  if others else ""), actor=user)
    return report, names


def enqueue_for(user: User) -> Any:
    """``celery`` mode: put the collection of ``user``'s mailbox and of those delegated to them
    on the queue and return at once (the pipeline's guarantees hold on the worker). Audited
    as ``inbox.collect`` like a collection done here."""
    from flask import current_app

    from medshake_bridge.scale.dispatch import enqueue_collection

    wanted = {user.id, *delegated_owner_ids(user)}
    report = enqueue_collection(current_app._get_current_object(),  # type: ignore[attr-defined]
                                trigger="page", user_ids=wanted)
    audit("inbox.collect", target=f"{report.mailboxes} mailbox(es) queued",
          detail=f"queued {report.enqueued + report.resent}, already queued "
          f"{report.already_queued}, not sent {report.not_sent}", actor=user)
    return report


def report_mailboxes(report: Any) -> list[str]:
    return [mailbox.mailbox for mailbox in report.mailboxes]
