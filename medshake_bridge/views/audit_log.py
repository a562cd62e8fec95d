"""*Journal d'audit*: browse the audit log with filters (action, person, outcome, target,
dates), newest first, a page at a time. Filters are a GET form, so a filtered view can be
bookmarked and needs no JavaScript."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, render_template, request

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.audit import AuditFilter, known_actions, search
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models.audit import OUTCOMES
from medshake_bridge.web.numbers import int_arg

audit_pages = protect(Blueprint("bridge_audit", __name__, url_prefix="/admin/audit"), ADMIN)
PER_PAGE = 50


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        flash(_("“%(value)s” is not a date: use the format YYYY-MM-DD.", value=text), "error")
        return None


@audit_pages.route("/")
def index() -> str:
    args = request.args
    since = _day(args.get("since", "").strip())
    until = _day(args.get("until", "").strip())
    outcome = args.get("outcome", "")
    criteria = AuditFilter(
        action=args.get("action", "").strip(),
        actor=args.get("actor", "").strip(),
        outcome=outcome if outcome in OUTCOMES else "",
        target=args.get("target", "").strip(),
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until, time.min, UTC) + timedelta(days=1) if until else None,
    )
    page = int_arg("page", 1)
    events, total = search(criteria, page=page, per_page=PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    filters = {key: args.get(key, "") for key in ("action", "actor", "outcome", "target",
                                                  "since", "until")}
    return render_template("bridge/audit.html", events=events, total=total, page=page,
                           pages=pages, filters=filters, actions=known_actions(),
                           outcomes=OUTCOMES)
