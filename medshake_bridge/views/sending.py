"""Sending pages: compose (from a patient or an inbox document), sent messages, address book.

Every page needs a logged-in user (``protect(..., USER)``); attachments taken from received
documents go through the inbox access rule; the sent history shows the messages of the users
whose mail the viewer may read (own, admins all, a secretary those she is given). Uploads are
staged in a private folder (0700) that is removed after the send, failure included.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from medshake_bridge import patients
from medshake_bridge.access import USER, current_bridge_user, deny, protect, readable_mail_owner_ids
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.errors import TRANSIENT, BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.inbox import delegation
from medshake_bridge.inbox import service as inbox
from medshake_bridge.models import User
from medshake_bridge.models.sending import Correspondent, SentMessage
from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.patient_ref import PatientRef, PatientSummary
from medshake_bridge.send import drafts
from medshake_bridge.send.addresses import RecipientError, parse_address
from medshake_bridge.send.explain import explain, explain_text
from medshake_bridge.send.service import (
    AttachmentFile,
    Draft,
    SendFailed,
    SendInProgress,
    SendRefused,
    max_attachment_bytes,
    send_message,
)
from medshake_bridge.send.sources import (
    attachments_of_documents,
    identity_from_document,
    identity_from_patient,
    patient_documents,
    stored_attachment,
)
from medshake_bridge.web.limits import upload_route
from medshake_bridge.web.numbers import id_arg, int_arg
from medshake_bridge.workfolders import prepare_work_folder, private_work_dir

sending_pages = protect(Blueprint("bridge_send", __name__, url_prefix="/send"), USER)
CHUNK = 64 * 1024
MAX_NAME = 150
PER_PAGE = 50
MAX_SUBJECT_LENGTH = 200


class UploadTooLarge(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def clean_upload_name(raw: str | None) -> str:
    """A file name safe to use in our folders and to show: no folder part, no control
    characters, not empty, at most :data:`MAX_NAME` characters (extension kept)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip().lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: MAX_NAME - len(suffix) - 1] + dot + suffix) if dot and len(suffix) < 10 \
            else name[:MAX_NAME]
    return name or "document"


@contextmanager
def staged_uploads(files: list[FileStorage], settings: dict[str, Any]
                   ) -> Iterator[list[AttachmentFile]]:
    """Copy the uploads into a private folder, refusing one over the size limit while
    reading it; the folder is removed on the way out, whatever happened."""
    limit = max_attachment_bytes(settings)
    root = prepare_work_folder(settings["apicryptCheminFichierNC"],
                               setting="apicryptCheminFichierNC")
    with private_work_dir(root, "upload-") as folder:
        staged: list[AttachmentFile] = []
        for number, upload in enumerate(files):
            name = clean_upload_name(upload.filename)
            slot = ensure_private_dir(folder / str(number))
            target = slot / name
            written = 0
            with target.open("wb") as handle:
                while chunk := upload.stream.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise UploadTooLarge(name)
                    handle.write(chunk)
            target.chmod(0o600)
            staged.append(AttachmentFile(name, target))
        yield staged


def _address_book(user: User) -> list[Correspondent]:
    return list(db.session.scalars(
        select(Correspondent).where(or_(Correspondent.owner_user_id == user.id,
                                        Correspondent.owner_user_id.is_(None)))
        .order_by(func.lower(Correspondent.name))))


def _patient_from_arg(text: str) -> PatientSummary | None:
    """The patient named by ``?patient=`` (``source:id``; a bare number is the bridge's own
    store, as links made before patient references were), or a 404 when there is none."""
    if not text:
        return None
    if text.isdigit() and id_arg(text) is None:  # beyond any database id
        deny(f"patient {text[:40]}", detail="no such patient")
    try:
        ref = PatientRef("bridge", text) if text.isdigit() else PatientRef.parse(text)
        found = patients.get_patient(ref)
    except BridgeError as exc:
        if exc.cause == TRANSIENT:  # the source is down: say so, let the user choose again
            flash(_("The patient's record could not be read: %(reason)s", reason=str(exc)),
                  "error")
            return None
        found = None
    if found is None:
        deny(f"patient {text}", detail="no such patient")
    return found


def _context(user: User) -> dict[str, Any]:
    """What the compose page shows: patient or source document, stored attachments."""
    settings = bridge_state().settings.values_for_user(user.id)
    source = request.values.get("document", "").strip()
    patient_arg = request.values.get("patient", "").strip()
    document = patient = identity = None
    stored: list[Any] = []
    if (source_id := id_arg(source)) is not None:
        document = inbox.get_document(user, source_id)
        identity = identity_from_document(document)
        if document.filed_patient_ref:
            try:
                patient = patients.get_patient(document.filed_patient_ref)
            except BridgeError as exc:  # its source is gone or down: the header identity
                flash(_("The patient's record could not be read: %(reason)s",
                        reason=str(exc)), "warning")
        forward = request.values.get("mode") == "forward"
        stored = attachments_of_documents(user, [document]) if forward else []
    elif source:
        deny(f"document {source[:40]}", detail="no such document")
    else:
        patient = _patient_from_arg(patient_arg)
    if patient is not None:
        identity = identity_from_patient(patient)
        stored += attachments_of_documents(user, patient_documents(patient.ref))
    search = request.args.get("q", "").strip()
    found = patients.search_patients(search, user=user) if search and not identity else []
    return {"settings": settings, "document": document, "patient": patient,
            "identity": identity, "stored": stored, "search": search, "found": found,
            "creatable": patients.creatable_sources(), "new_patient": {},
            "correspondents": _address_book(user),
            "limit_mb": max_attachment_bytes(settings) // (1024 * 1024)}


def _default_recipients(document: Any) -> str:
    if document is None or request.values.get("mode") == "forward":
        return ""
    return document.message.from_address or ""


def _default_subject(document: Any, settings: dict[str, Any]) -> str:
    """"RE: …" for a reply, "TR: …" for a forward (the received subject is already in clear),
    else the site's default subject."""
    default = settings.get("apicryptDefautSujet") or ""
    if document is None:
        return default
    original = (document.message.subject or "").strip() or default
    prefix = "TR: " if request.values.get("mode") == "forward" else "RE: "
    if original.upper().startswith(prefix.strip().upper()):
        return original[:MAX_SUBJECT_LENGTH]
    return (prefix + original)[:MAX_SUBJECT_LENGTH]


def _send_as(user: User, choices: list[delegation.SendAs]) -> User | None:
    """The mailbox owner the form asks to send as, if ``user`` may; ``None`` otherwise."""
    wanted = request.form.get("send_as", "").strip()
    if not wanted and not delegation.needs_explicit_choice(choices):
        wanted = str(choices[0].user_id)
    if not wanted.isdigit() or int(wanted) not in {item.user_id for item in choices}:
        return None
    return db.session.get(User, int(wanted))


@sending_pages.route("/compose", methods=["GET", "POST"])
@upload_route()
def compose() -> Any:
    user = current_bridge_user()
    context = _context(user)
    choices = delegation.send_as_choices(user)
    context.update(send_as_choices=choices,
                   explicit_send_as=delegation.needs_explicit_choice(choices))
    if not choices:
        # Refused before any typing: the page says why and what to ask for.
        return render_template("bridge/send_compose.html", form={}, errors={},
                               cannot_send=True, **context), 403 \
            if request.method == "POST" else 200
    if request.method == "GET":
        form = {"recipients": _default_recipients(context["document"]),
                "subject": _default_subject(context["document"], context["settings"]),
                "body": "", "token": secrets.token_hex(16), "chosen": [],
                "send_as": "" if context["explicit_send_as"] else str(choices[0].user_id)}
        return render_template("bridge/send_compose.html", form=form, errors={}, **context)
    form = {"recipients": request.form.get("recipients", ""),
            "subject": request.form.get("subject", ""), "body": request.form.get("body", ""),
            "token": request.form.get("token", ""),
            "chosen": request.form.getlist("correspondent"),
            "stored_chosen": request.form.getlist("stored"),
            "send_as": request.form.get("send_as", "")}
    owner = _send_as(user, choices)
    if owner is None:
        errors = {"send_as": _("Choose in whose name this message is sent (\"Send on behalf "
                               "of\"): nothing was sent.")}
        return render_template("bridge/send_compose.html", form=form, errors=errors,
                               **context), 400
    recipients = [*form["chosen"], form["recipients"]]
    identity = context["identity"]
    patient, document = context["patient"], context["document"]
    uploads = [item for item in request.files.getlist("upload") if item and item.filename]
    draft_folder = drafts.folder_for(context["settings"], user.id, form["token"])
    drafts.sweep(context["settings"], user.id)
    kept_names = set(request.form.getlist("kept"))
    errors: dict[str, str] = {}
    status = 400
    try:
        with staged_uploads(uploads, context["settings"]) as staged:
            try:
                kept = [item for item in drafts.files(draft_folder) if item.name in kept_names]
                picked = [stored_attachment(user, key) for key in form["stored_chosen"]]
                label = patient.display_name if patient else (
                    f"{identity.last_name} {identity.first_name}".strip() if identity else "")
                draft = Draft(recipients=recipients, subject=form["subject"],
                              body=form["body"], identity=identity,
                              patient_id=str(patient.ref) if patient else "",
                              patient_label=label, attachments=[*kept, *staged, *picked],
                              source_document_id=document.id if document else None)
                outcome = send_message(owner, draft, token=form["token"], acting_user=user)
            except BaseException:
                drafts.keep(draft_folder, staged)  # offered again, ticked, with the error
                raise
    except UploadTooLarge as exc:
        errors["attachments"] = _("The attachment %(name)s is larger than the limit of "
                                  "%(limit)s MB; nothing was sent.", name=exc.name,
                                  limit=context["limit_mb"])
    except SendRefused as exc:
        errors = exc.errors
    except SendInProgress as exc:
        errors["form"] = f"{exc.message} {exc.fix}"
        status = 409
    except SendFailed as exc:
        explained = explain(exc.cause)
        errors["form"] = str(explained)
        if explained.field != "form":
            errors[explained.field] = explained.message
        status = 502
    else:
        drafts.discard(draft_folder)
        if outcome.queued:
            _flash_queued(outcome)
        elif outcome.already:
            flash(_("This message had already been sent (sent once only)."), "success")
        else:
            flash(_("Message sent to %(recipients)s.",
                    recipients=", ".join(outcome.record.recipient_list)), "success")
        if outcome.notice:
            flash(outcome.notice, "warning")
        return redirect(url_for(".sent"))
    offered = set(request.form.getlist("kept_offered"))
    form["kept"] = [(item.name, item.name in kept_names or item.name not in offered)
                    for item in drafts.files(draft_folder)]
    return render_template("bridge/send_compose.html", form=form, errors=errors,
                           **context), status


def _flash_queued(outcome: Any) -> None:
    """``celery`` mode: the message left for a worker; the sent messages page follows it."""
    recipients = ", ".join(outcome.record.recipient_list)
    if outcome.already:
        flash(_("This message is already waiting to be sent (sent once only): its state is "
                "shown below."), "info")
    elif outcome.broker_error:
        flash(_("Message to %(recipients)s accepted, but the job queue (Redis) does not answer: "
                "it is kept and will be sent as soon as the queue is back. Its state is shown "
                "below; tell the administrator if it stays \"waiting to be sent\".",
                recipients=recipients), "warning")
    else:
        flash(_("Message to %(recipients)s handed to the sending queue: it goes out in a few "
                "moments. Reload this page to see it marked sent (or why it failed).",
                recipients=recipients), "success")


@sending_pages.route("/sent")
def sent() -> str:
    user = current_bridge_user()
    owners = sorted(readable_mail_owner_ids(user))
    query = select(SentMessage).where(or_(SentMessage.user_id.in_(owners),
                                          SentMessage.acted_by_user_id == user.id))
    patient = None
    patient_arg = request.args.get("patient", "").strip()
    if patient_arg:
        patient = _patient_from_arg(patient_arg)
        query = query.where(SentMessage.patient_id == str(patient.ref))
    page = int_arg("page", 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(db.session.scalars(query.order_by(SentMessage.created_at.desc(),
                                                  SentMessage.id.desc())
                                   .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    senders = {row.id: row for row in db.session.scalars(
        select(User).where(User.id.in_({item.user_id for item in rows} | {
            item.acted_by_user_id for item in rows if item.acted_by_user_id})))}
    return render_template("bridge/send_history.html", rows=rows, senders=senders,
                           patient=patient, page=page,
                           pages=max(1, -(-int(total) // PER_PAGE)))


@sending_pages.app_template_filter("send_error")
def send_error(text: str) -> str:
    """A stored sending error told in the page's language (the audit keeps the original)."""
    return str(explain_text(text or ""))


@sending_pages.route("/correspondents", methods=["GET", "POST"])
def correspondents() -> Any:
    user = current_bridge_user()
    errors: dict[str, str] = {}
    form = {"name": "", "address": "", "shared": False}
    if request.method == "POST":
        settings = bridge_state().settings.values_for_user(user.id)
        form = {"name": request.form.get("name", "").strip(),
                "address": request.form.get("address", "").strip(),
                "shared": request.form.get("shared") == "1" and user.role == "admin"}
        if not form["name"] or len(form["name"]) > 200:
            errors["name"] = _("Give the correspondent's name (at most 200 characters).")
        try:
            address = str(parse_address(form["address"], list(
                settings.get("apicryptSendAllowedDomains") or ["apicrypt.org"])))
        except RecipientError as exc:
            errors["address"] = str(exc)
        if not errors:
            entry = Correspondent(name=form["name"], address=address,
                                  owner_user_id=None if form["shared"] else user.id)
            db.session.add(entry)
            db.session.commit()
            audit("correspondent.add", target=address,
                  detail="shared" if form["shared"] else "private")
            flash(_("Correspondent added."), "success")
            return redirect(url_for(".correspondents"))
    return render_template("bridge/send_correspondents.html", entries=_address_book(user),
                           errors=errors, form=form), 400 if errors else 200


@sending_pages.post("/correspondents/<int:entry_id>/delete")
def delete_correspondent(entry_id: int) -> Response:
    user = current_bridge_user()
    entry = db.session.get(Correspondent, entry_id)
    allowed = entry is not None and (entry.owner_user_id == user.id or (
        entry.owner_user_id is None and user.role == "admin"))
    if not allowed:
        deny(f"correspondent {entry_id}", detail="not the owner")
    address = entry.address
    db.session.delete(entry)
    db.session.commit()
    audit("correspondent.delete", target=address)
    flash(_("Correspondent removed."), "success")
    return redirect(url_for(".correspondents"))
