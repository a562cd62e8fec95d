"""Inbox pages: list, view, attachments, file into a patient record, remove, collect now.

Every view loads the document through :mod:`medshake_bridge.inbox.service`, which applies the
access rule (own mail, admins, users listed in ``apicryptInboxMailForUserID``) and answers 404
otherwise; POSTs are CSRF-protected like every form of the bridge.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from medshake_bridge import patients
from medshake_bridge.access import USER, current_bridge_user, protect
from medshake_bridge.audit import audit
from medshake_bridge.errors import BridgeError
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _, human_size
from medshake_bridge.inbox import delegation, service
from medshake_bridge.inbox.filters import InboxFilter
from medshake_bridge.inbox.history import analyte_history
from medshake_bridge.inbox.identity import header_from_document
from medshake_bridge.inbox.page_context import document_context, list_context
from medshake_bridge.models.mail import FILED, NEW, REMOVED
from medshake_bridge.patient_ref import NewPatient, PatientRef
from medshake_bridge.scale.executor import uses_celery
from medshake_bridge.web.numbers import int_arg

inbox_pages = protect(Blueprint("bridge_inbox", __name__, url_prefix="/inbox"), USER)
STATES = (NEW, FILED, REMOVED)
PER_PAGE = 50


@inbox_pages.route("/")
def index() -> str:
    user = current_bridge_user()
    state = request.args.get("state", NEW)
    state = state if state in STATES else NEW
    newest_first = request.args.get("order", "newest") != "oldest"
    chosen = InboxFilter.from_args(request.args)
    where = chosen.condition(user.id)
    page, counts = service.inbox_page(user, state=state, states=STATES,
                                      newest_first=newest_first, page=int_arg("page", 1),
                                      per_page=PER_PAGE, where=where)
    days = [(day, list(items)) for day, items in itertools.groupby(
        page.items, key=lambda document: document.created_at.date())]
    return render_template("bridge/inbox.html", page=page, days=days, state=state,
                           newest_first=newest_first, states=STATES,
                           **list_context(user, page, STATES, chosen, where, state,
                                          counts.tabs),
                           unread=counts.unread)


@inbox_pages.route("/unread.json")
def unread() -> Response:
    return jsonify({"unread": service.unread_count(current_bridge_user())})


@inbox_pages.route("/<int:document_id>")
def view(document_id: int) -> str:
    user = current_bridge_user()
    document = service.get_document(user, document_id)
    service.mark_read(document, user)
    search = request.args.get("q", "").strip()
    found = patients.search_patients(search, user=user) if search else []
    candidates = patients.candidates_for_document(document.id, user=user) \
        if document.state == NEW else []
    confirm_source = request.args.get("confirm_create", "")
    chosen = preselected(candidates)
    return render_template(
        "bridge/inbox_view.html", document=document, message=document.message,
        header=service.header(document), results=service.results(document),
        attachments=service.attachments(document), candidates=candidates,
        strong=[c for c in candidates if c.strong], preselected=chosen,
        ambiguous=bool(candidates) and not chosen,
        confirm_source=confirm_source if confirm_source in patients.creatable_sources() else "",
        creatable=patients.creatable_sources(), problems=patients.provider_problems(),
        search=search, found=found, invalid_parts=service.invalid_parts(document),
        **document_context(user, document),
    )


def preselected(candidates: list[Any]) -> str:
    """The candidate ticked in advance, or ``""`` when the choice is not clear-cut.

    One click on "File" must never file into the wrong record: the best candidate is ticked
    only when it has the received last and first name and more criteria than the next one.
    Two candidates as good as each other (one with the same NIR, another with the same name)
    leave nothing ticked, and the page says why.
    """
    if not candidates:
        return ""
    best = candidates[0]
    if len(candidates) > 1 and candidates[1].score >= best.score:
        return ""
    if not {"last_name", "first_name"} <= set(best.reasons):
        return ""
    return str(best.ref)


@inbox_pages.route("/<int:document_id>/history")
def history(document_id: int) -> str:
    """Each analyte of this document's patient over time (chart and table)."""
    user = current_bridge_user()
    document = service.get_document(user, document_id)
    series = analyte_history(user, document)
    count = len({point.document_id for item in series for point in item.points})
    return render_template("bridge/inbox/history.html", document=document, history=series,
                           documents=count)


@inbox_pages.route("/<int:document_id>/attachments/<int:index>")
def attachment(document_id: int, index: int) -> Response:
    user = current_bridge_user()
    document = service.get_document(user, document_id)
    item = service.attachment(document, index)
    inline = request.args.get("inline") == "1" and item.previewable
    if item.signature_invalid:
        # Its content may have been altered: the reader confirms, and that is audited.
        if request.args.get("confirm") != "1":
            return Response(render_template(
                "bridge/inbox_confirm_attachment.html", document=document, item=item,
                inline=inline), mimetype="text/html")
        audit("inbox.open-invalid-signature", target=f"document {document.id} attachment "
              f"{index}", detail=item.name, actor=user)
    response = send_file(item.path, mimetype=item.content_type if inline else
                         "application/octet-stream", as_attachment=not inline,
                         download_name=item.name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    if inline:
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; " \
            "img-src 'self'; style-src 'unsafe-inline'; object-src 'self'"
    return response


@inbox_pages.post("/<int:document_id>/file")
def file(document_id: int) -> Response:
    user = current_bridge_user()
    service.get_document(user, document_id)  # another user's document: 404 before anything
    chosen = request.form.get("patient", "").strip()
    if not chosen:
        flash(_("Choose a patient first, or create one from the received identity."), "error")
        return redirect(url_for(".view", document_id=document_id))
    try:
        ref = PatientRef.parse(chosen)
    except BridgeError:
        flash(_("Choose a patient first, or create one from the received identity."), "error")
        return redirect(url_for(".view", document_id=document_id))
    return _file(user, document_id, ref)


@inbox_pages.post("/<int:document_id>/new-patient")
def new_patient(document_id: int) -> Response:
    """Create the patient from the received identity, then file. When an existing patient
    matches strongly, a second, explicit confirmation naming that patient is required."""
    user = current_bridge_user()
    document = service.get_document(user, document_id)
    if document.state != NEW:
        return redirect(url_for(".view", document_id=document_id))
    identity = header_from_document(document)
    if identity is None or not identity.last_name:
        flash(_("This document carries no patient identity: search for the patient instead."),
              "error")
        return redirect(url_for(".view", document_id=document_id))
    creatable = patients.creatable_sources()
    source = request.form.get("source", "") or next(iter(creatable), "")
    strong = [c for c in patients.candidates_for_document(document.id, user=user) if c.strong]
    confirmed = request.form.get("confirm_duplicate", "")
    if strong and confirmed != ",".join(str(c.ref) for c in strong):
        return redirect(url_for(".view", document_id=document_id, confirm_create=source)
                        + "#confirm-create")
    try:
        created = patients.create_patient(source, new_patient_from_identity(identity),
                                          user=user)
    except BridgeError as exc:
        flash(_("The patient could not be created: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for(".view", document_id=document_id))
    if strong:
        audit("patient.create-despite-match", target=str(created.ref),
              detail="matching " + ", ".join(str(c.ref) for c in strong), actor=user)
    return _file(user, document_id, created.ref)


def new_patient_from_identity(identity: Any) -> NewPatient:
    return NewPatient(last_name=identity.last_name, first_name=identity.first_name,
                      birth_date=identity.birth_date,
                      nir=identity.nir.number if identity.nir else "",
                      postcode=identity.postcode, city=identity.city)


def _file(user: Any, document_id: int, ref: PatientRef) -> Response:
    try:
        record = patients.file_document(document_id, ref, user=user)
    except BridgeError as exc:
        flash(_("The document could not be filed: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for(".view", document_id=document_id))
    if record.patient != ref:  # someone filed it elsewhere first: say where, change nothing
        document = service.get_document(user, document_id)
        flash(_("This document had already been filed into the record of %(name)s: nothing "
                "was changed.", name=document.filed_patient_name or str(record.patient)),
              "warning")
        return redirect(url_for(".view", document_id=document_id))
    flash(_("Document filed into the patient's record (a copy is archived)."), "success")
    return redirect(url_for(".index", state=NEW))


@inbox_pages.post("/<int:document_id>/remove")
def remove(document_id: int) -> Response:
    user = current_bridge_user()
    document = service.get_document(user, document_id)
    if request.form.get("confirm") != "1":
        # Asked to confirm first, on a page of its own (works without JavaScript).
        return Response(render_template("bridge/inbox/confirm_remove.html",
                                        document=document), mimetype="text/html")
    service.remove_document(user, document_id)
    flash(_("Document removed from the inbox. It stays in the archive; to undo, open the "
            "\"Removed\" tab and choose \"Put back in the inbox\"."), "success")
    return redirect(url_for(".index"))


@inbox_pages.post("/<int:document_id>/restore")
def restore(document_id: int) -> Response:
    service.restore_document(current_bridge_user(), document_id)
    flash(_("Document put back among the documents to process."), "success")
    return redirect(url_for(".index", state=REMOVED))


@inbox_pages.post("/collect")
def collect_now() -> Response:
    user = current_bridge_user()
    if uses_celery(current_app):
        return _enqueue_now(user)
    report, names = delegation.collect_for(user)
    if not report.mailboxes and not report.problems:
        flash(_("You have no Apicrypt mailbox to collect (apicryptAdresse is not set) and no "
                "practitioner has delegated their mail to you. Ask an administrator."), "error")
    for mailbox in report.mailboxes:
        whose = [names[owner] for owner in mailbox.owners if owner in names]
        for category, message in collect_messages(mailbox):
            if whose and whose != [names.get(user.id)]:
                message = _("Mailbox of %(names)s: %(outcome)s", names=", ".join(whose),
                            outcome=message)
            flash(message, category)
    for problem in report.problems:
        flash(_("A mailbox was not collected: %(reason)s", reason=str(problem)), "error")
    return redirect(url_for(".index"))


def _enqueue_now(user: Any) -> Response:
    """``celery`` mode: the collection goes on the queue; the page answers at once."""
    try:
        report = delegation.enqueue_for(user)
    except BridgeError as exc:  # the queue's settings: the admin must act
        flash(_("The mailbox could not be collected: %(reason)s. What to do: %(fix)s",
                reason=exc.message.rstrip("."), fix=exc.fix or "-"), "error")
        return redirect(url_for(".index"))
    if not report.mailboxes and not report.problems:
        flash(_("You have no Apicrypt mailbox to collect (apicryptAdresse is not set) and no "
                "practitioner has delegated their mail to you. Ask an administrator."), "error")
    queued = report.enqueued + report.resent
    if queued:
        flash(_("Collection of %(count)s mailbox(es) requested: the new mail will appear in "
                "the inbox within a few moments (reload the page).", count=queued), "success")
    if report.already_queued:
        flash(_("%(count)s mailbox(es) are already waiting for or being collected: nothing "
                "more to do.", count=report.already_queued), "info")
    if report.not_sent:
        flash(_("The job queue (Redis) does not answer: %(count)s collection(s) are kept and "
                "will be sent as soon as it is back. Tell the administrator if this lasts.",
                count=report.not_sent), "error")
    for problem in report.problems:
        flash(_("A mailbox was not collected: %(reason)s", reason=str(problem)), "error")
    return redirect(url_for(".index"))


def collect_messages(mailbox: Any) -> list[tuple[str, str]]:
    """What a person who pressed "collect now" is told about one mailbox: green only when
    everything worked, red with the reason and the fix otherwise."""
    if mailbox.outcome == "busy":
        return [("error", _("The mailbox is being collected by another process right now: "
                            "try again in a minute."))]
    if mailbox.outcome != "ok":
        return [("error", _("The mailbox could not be collected: %(reason)s. What to do: "
                            "%(fix)s", reason=mailbox.error.rstrip("."),
                            fix=mailbox.fix or _("see the system information page")))]
    messages = []
    if mailbox.waiting:
        messages.append(("error", _(
            "%(count)s message(s) could not be decrypted and are waiting (kept safely, retried "
            "automatically): %(reason)s What to do: %(fix)s", count=mailbox.waiting,
            reason=mailbox.waiting_reason, fix=mailbox.waiting_fix or "-")))
    if mailbox.failed or mailbox.quarantined:
        messages.append(("error", _(
            "%(failed)s message(s) failed and will be retried, %(quarantined)s put in "
            "quarantine for the administrator.", failed=mailbox.failed,
            quarantined=mailbox.quarantined)))
    category = "error" if messages else "success"
    messages.insert(0, (category, _("Mailbox collected: %(count)s new document(s).",
                                    count=mailbox.documents)))
    return messages


@inbox_pages.app_template_filter("sender_label")
def sender_label(document: Any) -> str:
    """The sender as people name it: the HPRIM sender's name, else the address's name part
    ("laboratoire.central" → "laboratoire central"), never a bare address fragment."""
    name = (document.sender_name or "").strip()
    if name:
        return name.replace(".", " ").strip()
    address = (document.message.from_address or "").strip()
    if "<" in address:
        label = address.split("<", 1)[0].strip().strip('"')
        if label:
            return label
        address = address.split("<", 1)[1].rstrip(">")
    return address.partition("@")[0].replace(".", " ") or address


@inbox_pages.app_template_filter("attachment_count")
def attachment_count(attachments_json: str) -> int:
    import json

    return len(json.loads(attachments_json or "[]"))


@inbox_pages.app_template_filter("filesize")
def filesize(size: int) -> str:
    return human_size(int(size))


_CRITERIA = {"last_name": "same last name", "first_name": "same first name",
             "birth_date": "same birth date", "nir": "same social security number",
             "postcode": "same postcode"}


@inbox_pages.app_template_filter("criteria_labels")
def criteria_labels(reasons: Any) -> str:
    """``("last_name", "birth_date")`` -> "nom, date de naissance" (translated)."""
    return ", ".join(_(_CRITERIA[name]) if name in _CRITERIA else str(name)
                     for name in reasons or ())


@inbox_pages.app_template_filter("filed_link")
def filed_link(document: Any) -> str:
    """Where a filed document's patient is shown: the provider's link, else the bridge's own
    patient page for the ``bridge`` source."""
    if document.filed_url:
        return str(document.filed_url)
    if document.filed_patient_ref.startswith("bridge:"):
        return url_for("bridge_patients.show", ref=document.filed_patient_ref)
    return ""
