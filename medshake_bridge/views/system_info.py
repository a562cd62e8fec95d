"""*Informations système* (admins): every plugin's checks grouped, with the fixes.

The page runs :func:`~medshake_bridge.sysinfo.run_system_checks` (the same as ``doctor``) on
each visit; network checks are concurrent with short timeouts, so it answers in a few seconds
at worst. Logging in to a mailbox is never done by the page itself: an admin asks for it with
the *test login* button (a POST, audited), because each login may count against a lockout.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, current_bridge_user, deny, protect
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.inbox.service import waiting_mail
from medshake_bridge.sysinfo import run_system_checks
from medshake_bridge.sysinfo.mail_checks import mailboxes, smtp_target
from medshake_bridge.sysinfo.reachability import try_smtp_login

SUFFIXED = re.compile(r"^(.*?) \((.*)\)$")
system_pages = protect(Blueprint("bridge_system", __name__, url_prefix="/admin/system"), ADMIN)

#: Pages offered next to a category's checks, when the plugin that owns them is loaded:
#: category -> [(label msgid, endpoint)].
CATEGORY_ACTIONS = {
    "apicrypt_v2": [("Restart the companion…", "bridge_apicrypt2.restart"),
                    ("Apicrypt 2 mailboxes", "bridge_apicrypt2.mailboxes")],
    "medshakeehr": [("MedShakeEHR inbox copies", "bridge_medshakeehr.copies")],
}


def category_label(category: str) -> str:
    labels = {
        "security": _("Instance and secrets"), "plugins": _("Plugins"),
        "folders": _("Folders"), "mail": _("Mail servers"), "scheduler": _("Scheduler"),
        "apicrypt_v1": _("Apicrypt v1"), "apicrypt_v2": _("Apicrypt v2"),
        "webhooks": _("Webhooks"), "medshakeehr": "MedShakeEHR",
        "general": _("Other"),
    }
    return labels.get(category, category)


def check_label(name: str) -> str:
    """A check's name in the page's language when the catalog knows it; a name with a
    suffix in parentheses (``Inbox folder (bob)``) is translated without the suffix."""
    translated = _(name)
    if translated != name:
        return translated
    match = SUFFIXED.match(name)
    if match:
        base = _(match.group(1))
        if base != match.group(1):
            return f"{base} ({match.group(2)})"
    return name


def _actions(category: str) -> list[tuple[str, str]]:
    return [(_(label), url_for(endpoint)) for label, endpoint in CATEGORY_ACTIONS.get(category, [])
            if endpoint in current_app.view_functions]


@system_pages.route("/")
def index() -> str:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = run_system_checks(app)
    views, _problems = mailboxes(bridge_state())
    return render_template("bridge/system_info.html", report=report,
                           category_label=category_label, actions=_actions,
                           check_label=check_label,
                           mailboxes=[view for view, _plan in views],
                           waiting=waiting_mail())


@system_pages.post("/test-login")
def test_login() -> Response:
    """Log in to one mailbox (POP3/IMAP through its collector) and its owner's SMTP server,
    then leave without reading, deleting or sending anything. Audited with the outcome."""
    key = request.form.get("mailbox", "")
    state = bridge_state()
    views, _problems = mailboxes(state)
    found = next(((view, plan) for view, plan in views if view.key == key), None)
    if found is None:
        deny(f"mailbox {key}", detail="unknown mailbox for a test login")
    view, plan = found
    problems: list[str] = []
    try:
        collector = plan.spec.factory(plan.settings)
        collector.open()
        collector.abort()  # nothing read, nothing deleted
    except BridgeError as exc:
        problems.append(_("Mailbox: %(reason)s", reason=str(exc)))
    if view.target is not None:  # a Maildir has no SMTP login of its own to test here
        login = str(plan.settings.get("apicryptUtilisateur") or "")
        smtp = try_smtp_login(smtp_target(plan.settings), login,
                              str(plan.settings.get("apicryptPopPassword") or ""))
        if smtp.ok is False:
            reason = smtp.detail + (" (" + smtp.fix + ")" if smtp.fix else "")
            problems.append(_("SMTP: %(reason)s", reason=reason))
    db.session.rollback()
    audit("system.test_login", target=key, outcome="failed" if problems else "ok",
          detail="; ".join(problems), actor=current_bridge_user())
    if problems:
        for problem in problems:
            flash(problem, "error")
    else:
        flash(_("Login accepted for %(mailbox)s (nothing was read, deleted or sent).",
                mailbox=key), "success")
    return redirect(url_for(".index"))
