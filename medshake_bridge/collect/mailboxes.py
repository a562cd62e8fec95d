"""Which mailboxes to collect, and for whom.

Every active user whose effective ``apicryptAdresse`` is set (and whose inbox is switched on)
owns a mailbox. Users whose settings point at the same mailbox (same collector, host, port and
login) share one: it is collected once and its mail goes to each of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from medshake_bridge.backends import collector_spec_for
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import CollectorSpec, MailboxIdentity
from medshake_bridge.models import User


@dataclass
class MailboxPlan:
    identity: MailboxIdentity
    spec: CollectorSpec
    settings: dict[str, Any]
    owners: list[int] = field(default_factory=list)


@dataclass
class PlanProblem:
    user_id: int
    message: str


def plan_mailboxes(state: BridgeState, *, user_id: int | None = None
                   ) -> tuple[list[MailboxPlan], list[PlanProblem]]:
    """The mailboxes to collect (optionally only the one of ``user_id``) and the users whose
    settings are incomplete."""
    query = select(User).where(User.active.is_(True)).order_by(User.id)
    if user_id is not None:
        query = query.where(User.id == user_id)
    plans: dict[str, MailboxPlan] = {}
    problems: list[PlanProblem] = []
    for user in db.session.scalars(query):
        settings = state.settings.values_for_user(user.id)
        if not settings.get("apicryptAdresse") or not settings.get("optionGeActiverInboxApicrypt"):
            continue
        try:
            spec = collector_spec_for(state, settings)
            identity = spec.identity(settings)
        except ConfigurationError as exc:
            problems.append(PlanProblem(user.id, str(exc)))
            continue
        if identity is None:
            problems.append(PlanProblem(
                user.id, f"the {spec.label} mailbox settings of user {user.login} are "
                "incomplete (host, login or folder missing)"))
            continue
        plan = plans.setdefault(identity.key, MailboxPlan(identity, spec, settings))
        plan.owners.append(user.id)
    return list(plans.values()), problems
