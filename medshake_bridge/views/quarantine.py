"""Quarantine (admins): messages that failed three times, with their raw bytes and a retry."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, send_file, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, current_bridge_user, deny, protect
from medshake_bridge.audit import audit
from medshake_bridge.collect.pipeline import retry_all, retry_message
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models.mail import FAILED, QUARANTINED, ReceivedMessage

quarantine_pages = protect(Blueprint("bridge_quarantine", __name__,
                                     url_prefix="/admin/quarantine"), ADMIN)


@quarantine_pages.route("/")
def index() -> str:
    messages = list(db.session.scalars(
        select(ReceivedMessage).where(ReceivedMessage.state.in_((QUARANTINED, FAILED)))
        .order_by(ReceivedMessage.id.desc()).limit(500)))
    return render_template("bridge/quarantine.html", messages=messages)


def _message(message_id: int) -> ReceivedMessage:
    row = db.session.get(ReceivedMessage, message_id)
    if row is None or row.state not in (QUARANTINED, FAILED):
        deny(f"quarantined message {message_id}")
    return row


@quarantine_pages.route("/<int:message_id>/raw")
def raw(message_id: int) -> Response:
    row = _message(message_id)
    audit("quarantine.download", target=f"message {row.id}")
    response = send_file(row.raw_path, mimetype="application/octet-stream",
                         as_attachment=True, download_name=f"message-{row.id}.eml", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@quarantine_pages.post("/<int:message_id>/retry")
def retry(message_id: int) -> Response:
    row = _message(message_id)
    try:
        outcome = retry_message(bridge_state(), row.id)
    except BridgeError as exc:
        audit("quarantine.retry", target=f"message {message_id}", outcome="failed",
              detail=str(exc), actor=current_bridge_user())
        flash(_("The retry could not start: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for(".index"))
    audit("quarantine.retry", target=f"message {message_id}", detail=outcome,
          actor=current_bridge_user())
    if outcome == "processed":
        flash(_("The message was processed and is now in the inbox."), "success")
    else:
        flash(_("The message failed again: see the error below."), "error")
    return redirect(url_for(".index"))


@quarantine_pages.post("/retry-all")
def retry_everything() -> Response:
    counts = retry_all(bridge_state())
    audit("quarantine.retry-all", target="all quarantined and failed messages",
          detail=", ".join(f"{state}: {count}" for state, count in sorted(counts.items())),
          actor=current_bridge_user())
    processed = counts.get("processed", 0) + counts.get("duplicate", 0)
    left = sum(counts.values()) - processed
    flash(_("Retry all: %(processed)s message(s) processed, %(left)s still failing.",
            processed=processed, left=left), "success" if not left else "error")
    return redirect(url_for(".index"))
