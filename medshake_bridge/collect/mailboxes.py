"""Which mailboxes to collect, and for whom.

Every active user whose effective ``apicryptAdresse`` is set (and whose inbox is switched on)
owns a mailbox. Users whose settings point at the same mailbox (same collector, host, port and
login) share one: it is collected once and its mail goes to each of them.

One user's bad setting (a row that cannot be read, a timeout that is not a number, a command
prefix that is not a program) is reported as a problem naming the user and the setting, and
that user is left out; everyone else is still collected (issue 17, fault isolation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from medshake_bridge.backends import collector_spec_for
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError, ConfigurationError
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import CollectorSpec, MailboxIdentity
from medshake_bridge.models import User
from medshake_bridge.settings.checks import check_effective_settings


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
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


def plan_mailboxes(state: BridgeState, *, user_id: int | None = None
                   ) -> tuple[list[MailboxPlan], list[PlanProblem]]:
    """The mailboxes to collect (optionally only the one of ``user_id``) and the users whose
    settings are incomplete or unusable."""
    query = select(User).where(User.active.is_(True)).order_by(User.id)
    if user_id is not None:
        query = query.where(User.id == user_id)
    plans: dict[str, MailboxPlan] = {}
    problems: list[PlanProblem] = []
    for user in db.session.scalars(query):
        try:
            plan_for = _plan_for_user(state, user)
        except BridgeError as exc:
            problems.append(PlanProblem(user.id, exc.message, exc.fix))
            continue
        except Exception as exc:  # noqa: BLE001 - a collector's identity() bug: this user only
            problems.append(PlanProblem(
                user.id, f"the mailbox of user {user.login} could not be planned: "
                f"{type(exc).__name__}: {exc}",
                "report it to the collector plugin's authors (Extensions page)"))
            continue
        if plan_for is None:
            continue
        identity, spec, settings = plan_for
        plan = plans.setdefault(identity.key, MailboxPlan(identity, spec, settings))
        plan.owners.append(user.id)
    return list(plans.values()), problems


def _plan_for_user(state: BridgeState, user: User
                   ) -> tuple[MailboxIdentity, CollectorSpec, dict[str, Any]] | None:
    settings = check_effective_settings(state.settings, user.id, who=f"user {user.login}")
    if not settings.get("apicryptAdresse") or not settings.get("optionGeActiverInboxApicrypt"):
        return None
    spec = collector_spec_for(state, settings)
    assert spec.identity is not None  # noqa: S101 - CollectorSpec refuses a missing identity
    identity = state.hooks.run(spec.plugin or spec.key, f"collector {spec.key} identity",
                               spec.identity, settings)
    if identity is None:
        missing = [name for name in spec.required if not str(settings.get(name) or "").strip()]
        names = ", ".join(missing) or "the mailbox settings"
        raise ConfigurationError(
            f"the {spec.label} mailbox of user {user.login} is not collected: {names} "
            f"{'is' if len(missing) == 1 else 'are'} empty",
            fix=f"set {names} for user {user.login} (user settings page, or "
            f"`medshake-bridge config set NAME VALUE --level user --user {user.id}`)")
    return identity, spec, settings
