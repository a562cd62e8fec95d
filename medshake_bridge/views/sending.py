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

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from medshake_bridge import patients
from medshake_bridge.access import USER, current_bridge_user, deny, protect, readable_mail_owner_ids
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.errors import TRANSIENT, BridgeError
from medshake_bridge.extension import bridge_state
from medshake_bridge.i18n import _
from medshake_bridge.inbox import service as inbox
from medshake_bridge.models import User
from medshake_bridge.models.sending import Correspondent, SentMessage
from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.patient_ref import PatientRef, PatientSummary
from medshake_bridge.send.addresses import RecipientError, parse_address
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


@sending_pages.route("/compose", methods=["GET", "POST"])
@upload_route()
def compose() -> Any:
    user = current_bridge_user()
    context = _context(user)
    if request.method == "GET":
        form = {"recipients": _default_recipients(context["document"]),
                "subject": context["settings"].get("apicryptDefautSujet") or "",
                "body": "", "token": secrets.token_hex(16), "chosen": []}
        return render_template("bridge/send_compose.html", form=form, errors={}, **context)
    form = {"recipients": request.form.get("recipients", ""),
            "subject": request.form.get("subject", ""), "body": request.form.get("body", ""),
            "token": request.form.get("token", ""),
            "chosen": request.form.getlist("correspondent"),
            "stored_chosen": request.form.getlist("stored")}
    recipients = [*form["chosen"], form["recipients"]]
    identity = context["identity"]
    patient, document = context["patient"], context["document"]
    uploads = [item for item in request.files.getlist("upload") if item and item.filename]
    errors: dict[str, str] = {}
    status = 400
    try:
        with staged_uploads(uploads, context["settings"]) as staged:
            picked = [stored_attachment(user, key) for key in form["stored_chosen"]]
            label = patient.display_name if patient else (
                f"{identity.last_name} {identity.first_name}".strip() if identity else "")
            draft = Draft(recipients=recipients, subject=form["subject"], body=form["body"],
                          identity=identity, patient_id=str(patient.ref) if patient else "",
                          patient_label=label, attachments=[*staged, *picked],
                          source_document_id=document.id if document else None)
            outcome = send_message(user, draft, token=form["token"])
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
        errors["form"] = _("Nothing was sent: %(reason)s. %(fix)s", reason=exc.message,
                           fix=exc.fix)
        status = 502
    else:
        if outcome.already:
            flash(_("This message had already been sent (sent once only)."), "success")
        else:
            flash(_("Message sent to %(recipients)s.",
                    recipients=", ".join(outcome.record.recipient_list)), "success")
        if outcome.notice:
            flash(outcome.notice, "warning")
        return redirect(url_for(".sent"))
    return render_template("bridge/send_compose.html", form=form, errors=errors,
                           **context), status


@sending_pages.route("/sent")
def sent() -> str:
    user = current_bridge_user()
    owners = sorted(readable_mail_owner_ids(user))
    query = select(SentMessage).where(SentMessage.user_id.in_(owners))
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
        select(User).where(User.id.in_({item.user_id for item in rows})))}
    return render_template("bridge/send_history.html", rows=rows, senders=senders,
                           patient=patient, page=page,
                           pages=max(1, -(-int(total) // PER_PAGE)))


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
