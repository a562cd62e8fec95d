"""Which mail servers the configured mailboxes use, probed concurrently.

The mailboxes are the collection pipeline's own plan (:func:`plan_mailboxes`): the same
deduplication (a mailbox shared by several users is one line) and the same notion of
"incomplete settings". Each user's SMTP server is probed too. Probes run in parallel with a
short timeout, so ten unreachable servers cost one timeout, not ten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from medshake_bridge.collect.mailboxes import MailboxPlan, PlanProblem, plan_mailboxes
from medshake_bridge.db import db
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.models import User
from medshake_bridge.models.mail import Mailbox
from medshake_bridge.sysinfo.reachability import (
    CATEGORY,
    PROBE_TIMEOUT,
    ServerTarget,
    probe_server,
)

PREFIXES = {"pop3": ("POP3", "apicryptPop"), "imap": ("IMAP", "apicryptImap")}


@dataclass(frozen=True)
class MailboxView:
    """A configured mailbox as the pages show it (the *test login* button names ``key``)."""

    key: str
    collector: str
    owners: tuple[str, ...]
    target: ServerTarget | None


def _port(value: Any, default: int) -> int:
    try:
        port = int(value or default)
    except (TypeError, ValueError):
        return 0
    return port if 0 < port < 65536 else 0


def mailbox_target(settings: Mapping[str, Any], collector: str, used_by: str = ""
                   ) -> ServerTarget | None:
    """The POP3/IMAP server of a user's settings (``None`` for a Maildir)."""
    if collector not in PREFIXES:
        return None
    protocol, prefix = PREFIXES[collector]
    default_port = 110 if collector == "pop3" else 993
    return ServerTarget(protocol, str(settings.get(f"{prefix}Host") or "").strip(),
                        _port(settings.get(f"{prefix}Port"), default_port),
                        str(settings.get(f"{prefix}Tls") or "starttls").strip().lower(),
                        str(settings.get("apicryptTlsCaFile") or "").strip(), prefix, used_by)


def smtp_target(settings: Mapping[str, Any], used_by: str = "") -> ServerTarget:
    return ServerTarget("SMTP", str(settings.get("apicryptSmtpHost") or "").strip(),
                        _port(settings.get("apicryptSmtpPort"), 587),
                        str(settings.get("apicryptSmtpTls") or "starttls").strip().lower(),
                        str(settings.get("apicryptTlsCaFile") or "").strip(), "apicryptSmtp",
                        used_by)


def _logins(ids: list[int]) -> tuple[str, ...]:
    if not ids:
        return ()
    rows = db.session.execute(select(User.id, User.login).where(User.id.in_(ids))).all()
    by_id = dict(rows)
    return tuple(by_id.get(i, str(i)) for i in ids)


def mailboxes(state: BridgeState
              ) -> tuple[list[tuple[MailboxView, MailboxPlan]], list[PlanProblem]]:
    """Every configured mailbox with its owners, and the users whose settings are incomplete
    or unusable (each problem names the user, the setting and the fix)."""
    plans, problems = plan_mailboxes(state)
    views = []
    for plan in plans:
        owners = _logins(plan.owners)
        views.append((MailboxView(plan.identity.key, plan.identity.collector, owners,
                                  mailbox_target(plan.settings, plan.identity.collector,
                                                 ", ".join(owners))), plan))
    return views, problems


def _invalid(target: ServerTarget) -> CheckResult | None:
    prefix = target.setting_prefix
    if not target.host:
        return CheckResult(target.check_name, False, f"{prefix}Host is empty",
                           f"Set {prefix}Host.", CATEGORY)
    if not target.port:
        return CheckResult(target.check_name, False, f"{prefix}Port is not a valid port",
                           f"Set {prefix}Port.", CATEGORY)
    if target.tls not in ("none", "starttls", "tls"):
        return CheckResult(target.check_name, False, f"unknown TLS mode {target.tls!r}",
                           f"Set {prefix}Tls to none, starttls or tls.", CATEGORY)
    return None


def mail_targets(state: BridgeState) -> tuple[list[ServerTarget], list[CheckResult]]:
    """Servers to probe (mailboxes, then SMTP servers, each once) and the checks already known
    without the network (incomplete settings, no mailbox at all)."""
    views, problems = mailboxes(state)
    known = [CheckResult("Mailbox settings", False, problem.message,
                         problem.fix or "Complete the user's mailbox settings (Per-user "
                         "settings page).", CATEGORY) for problem in problems]
    known.extend(collection_checks())
    if not views and not problems:
        known.append(CheckResult(
            "Mailboxes", None, "no user has an Apicrypt address: nothing is collected",
            "Set apicryptAdresse and the mailbox settings of each user who receives mail.",
            CATEGORY))
    targets: list[ServerTarget] = []
    smtp: dict[tuple[str, int, str, str], list[str]] = {}
    for view, plan in views:
        if view.target is not None:
            targets.append(view.target)
        for owner_id, login in zip(plan.owners, view.owners, strict=True):
            settings = plan.settings if owner_id == plan.owners[0] else (
                state.settings.values_for_user(owner_id, skip_damaged=True))
            target = smtp_target(settings)
            smtp.setdefault((target.host, target.port, target.tls, target.ca_file),
                            []).append(login)
    for (host, port, tls, ca_file), logins in smtp.items():
        targets.append(ServerTarget("SMTP", host, port, tls, ca_file, "apicryptSmtp",
                                    ", ".join(logins)))
    return targets, known


def probe_all(targets: list[ServerTarget], *, timeout: float = PROBE_TIMEOUT
              ) -> list[CheckResult]:
    """Probe every target concurrently; results in the order of ``targets``.

    Socket timeouts do not cover host name resolution, so the whole batch also has a deadline:
    a probe still running after it is reported as broken instead of holding the page.
    """
    results: list[CheckResult | None] = []
    pending: list[tuple[int, ServerTarget]] = []
    for target in targets:
        invalid = _invalid(target)
        results.append(invalid)
        if invalid is None:
            pending.append((len(results) - 1, target))
    if pending:
        pool = ThreadPoolExecutor(max_workers=min(16, len(pending)),
                                  thread_name_prefix="mail-probe")
        try:
            futures = [(index, target, pool.submit(probe_server, target, timeout=timeout))
                       for index, target in pending]
            deadline = timeout * 3 + 2  # connect, TLS, protocol greeting
            wait([future for _i, _t, future in futures], timeout=deadline)
            for index, target, future in futures:
                results[index] = future.result() if future.done() else CheckResult(
                    target.check_name, False,
                    f"no answer within {deadline:g} s (name resolution or connection hung)",
                    f"check {target.setting_prefix}Host, the DNS and the network", CATEGORY)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return [result for result in results if result is not None]


def collection_checks() -> list[CheckResult]:
    """The last collection of each mailbox that failed, and mail waiting for an outage or a
    setting: what the scheduler saw, so the admin learns it without running ``fetch``."""
    from medshake_bridge.inbox.service import waiting_mail

    results = []
    for row in db.session.scalars(select(Mailbox).where(Mailbox.last_outcome == "error")
                                  .order_by(Mailbox.key)):
        results.append(CheckResult(f"Last collection ({row.key})", False, row.last_error,
                                   _last_fix(row), CATEGORY))
    for item in waiting_mail():
        results.append(CheckResult(
            f"Mail waiting ({item.mailbox})", False,
            f"{item.count} message(s) kept for a retry: {item.reason}",
            item.fix or "Mail is retried automatically once the cause is fixed.", CATEGORY))
    return results


def _last_fix(row: Mailbox) -> str:
    try:
        return str(json.loads(row.last_counts or "{}").get("fix") or "") or (
            "See the error; the next collection tries again.")
    except ValueError:
        return "See the error; the next collection tries again."


def mail_checks(state: BridgeState, *, timeout: float = PROBE_TIMEOUT) -> list[CheckResult]:
    """Reachability (TCP + verified TLS, no login) of every mailbox and SMTP server."""
    targets, known = mail_targets(state)
    return known + probe_all(targets, timeout=timeout)
