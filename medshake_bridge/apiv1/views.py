"""The ``/api/v1`` routes. Each loads what it touches through the same services and access
rules as the pages (:mod:`medshake_bridge.inbox.service`, :mod:`medshake_bridge.access`), so a
token sees exactly what its user sees on the pages, and a 404 for anything else."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Response, request, send_file, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import contains_eager

from medshake_bridge.access import (
    current_bridge_user,
    has_scope,
    readable_mail_owner_ids,
    request_token,
)
from medshake_bridge.apiv1 import schemas
from medshake_bridge.apiv1.problems import ApiProblem
from medshake_bridge.apiv1.routes import api_blueprint, operation
from medshake_bridge.apiv1.serialize import (
    People,
    Reads,
    after_cursor,
    decode_cursor,
    document_detail,
    encode_cursor,
    inbox_item,
    sent_item,
)
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.i18n import _
from medshake_bridge.inbox import readstate, service
from medshake_bridge.models import InboxDocument, ReceivedMessage, SentMessage, User
from medshake_bridge.models.api import SCOPES
from medshake_bridge.models.mail import NEW
from medshake_bridge.paths import ensure_private_dir

INBOX, SENDING, ACCOUNT, PATIENTS = "inbox", "sending", "account", "patients"


@operation("GET", "/health", summary="Is the bridge up?", responses={200: schemas.Health,
           503: schemas.Health}, is_public=True, tag=ACCOUNT)
def health() -> Any:
    """No authentication, no detail beyond up or down (the database answers)."""
    try:
        db.session.execute(select(1))
    except SQLAlchemyError:
        db.session.rollback()
        return schemas.Health(status="down"), 503
    return schemas.Health(status="up")


@operation("GET", "/me", summary="Who the caller is", responses={200: schemas.Me}, tag=ACCOUNT)
def me() -> Any:
    """The user the token (or session) acts as, its scopes, and whose mail it may read."""
    user = current_bridge_user()
    token = request_token()
    scopes = token.scope_list if token is not None else [s for s in SCOPES if has_scope(s)]
    people = People()
    owners = [people.get(owner) for owner in sorted(readable_mail_owner_ids(user))]
    return schemas.Me(id=user.id, login=user.login, display_name=user.display_name or user.login,
                      role=user.role, authenticated_by="token" if token else "session",
                      scopes=scopes, mail_of=[person for person in owners if person])


def _owners(user: User, owner: int | None) -> list[int]:
    owners = readable_mail_owner_ids(user)
    if owner is not None:
        return [owner] if owner in owners else []
    return sorted(owners)


@operation("GET", "/inbox", summary="List received documents", scope="inbox:read",
           query=schemas.InboxQuery, responses={200: schemas.InboxPage}, tag=INBOX)
def inbox(query: schemas.InboxQuery) -> Any:
    """Newest first, a page at a time (pass ``next_cursor`` back as ``cursor``)."""
    user = current_bridge_user()
    owners = _owners(user, query.owner)
    after = decode_cursor(query.cursor)
    if not owners:
        return schemas.InboxPage(items=[], next_cursor=None)
    statement = (select(InboxDocument).join(ReceivedMessage)
                 .where(InboxDocument.owner_user_id.in_(owners),
                        InboxDocument.state == query.state))
    if after is not None:
        statement = statement.where(after_cursor(InboxDocument.created_at, InboxDocument.id,
                                                 after))
    if query.unread is not None:  # unread *by the caller*, as on the pages
        unread = readstate.unread_by(user.id)
        statement = statement.where(unread if query.unread else ~unread)
    if query.patient:
        text = query.patient.lower()
        statement = statement.where(or_(
            func.lower(InboxDocument.patient_last_name).contains(text, autoescape=True),
            func.lower(InboxDocument.patient_first_name).contains(text, autoescape=True),
            InboxDocument.filed_patient_ref == query.patient))
    if query.sender:
        text = query.sender.lower()
        statement = statement.where(or_(
            func.lower(InboxDocument.sender_name).contains(text, autoescape=True),
            func.lower(ReceivedMessage.from_address).contains(text, autoescape=True)))
    if query.text:
        text = query.text.lower()
        statement = statement.where(or_(
            func.lower(InboxDocument.body).contains(text, autoescape=True),
            func.lower(ReceivedMessage.subject).contains(text, autoescape=True)))
    if query.received_from:
        statement = statement.where(func.date(InboxDocument.created_at)
                                    >= query.received_from.isoformat())
    if query.received_to:
        statement = statement.where(func.date(InboxDocument.created_at)
                                    <= query.received_to.isoformat())
    rows = list(db.session.scalars(
        statement.options(contains_eager(InboxDocument.message))
        .order_by(InboxDocument.created_at.desc(), InboxDocument.id.desc())
        .limit(query.limit + 1)))
    people = People()
    shown = rows[:query.limit]
    reads = Reads(user, [row.id for row in shown])
    items = [schemas.InboxItem(**inbox_item(row, user, people, reads)) for row in shown]
    more = len(rows) > query.limit
    return schemas.InboxPage(items=items, next_cursor=encode_cursor(
        shown[-1].created_at, shown[-1].id) if more else None)


@operation("GET", "/inbox/unread-count", summary="Unread documents, per owner",
           scope="inbox:read", responses={200: schemas.UnreadCount}, tag=INBOX)
def unread_count() -> Any:
    """New documents the caller has not opened yet, in total and for each user whose mail
    the caller may read (each person has their own read state, as on the pages: a secretary's
    count per practitioner is what *she* has not read); and, per owner, what the owner has not
    opened themselves (a portal shows each practitioner their own count with one token)."""
    user = current_bridge_user()
    owners = sorted(readable_mail_owner_ids(user))
    counts: dict[int, int] = dict.fromkeys(owners, 0)
    by_owner: dict[int, int] = dict.fromkeys(owners, 0)
    others = [owner for owner in owners if owner != user.id]
    for target, wanted, unread in ((counts, owners, readstate.unread_by(user.id)),
                                   (by_owner, others, readstate.unread_by_owner())):
        if wanted:
            target.update({owner: int(count) for owner, count in db.session.execute(
                select(InboxDocument.owner_user_id, func.count())
                .where(InboxDocument.owner_user_id.in_(wanted), InboxDocument.state == NEW,
                       unread)
                .group_by(InboxDocument.owner_user_id))})
    if user.id in counts:  # the caller's own mail: the same count, not counted twice
        by_owner[user.id] = counts[user.id]
    people = People()
    per_owner = [schemas.OwnerCount(owner=people.get(owner), unread=int(count),
                                    unread_by_owner=int(by_owner[owner]))
                 for owner, count in sorted(counts.items())]
    return schemas.UnreadCount(total=sum(counts.values()), per_owner=per_owner)


@operation("GET", "/documents/<int:document_id>", summary="Read one document",
           scope="inbox:read", responses={200: schemas.Document}, tag=INBOX, errors=(404,))
def document(document_id: int) -> Any:
    """HPRIM header fields, typed lab results, the text and the attachments. Marks it read
    for the caller only (audited), as opening it on the pages does."""
    user = current_bridge_user()
    found = service.get_document(user, document_id)
    service.mark_read(found, user, via="api")
    return document_detail(found, user, People())


@operation("GET", "/documents/<int:document_id>/attachments/<int:index>",
           summary="Download an attachment", scope="inbox:read",
           responses={200: "application/octet-stream"}, tag=INBOX, errors=(404, 409))
def document_attachment(document_id: int, index: int) -> Any:
    """The file as received. One whose signature is invalid needs ``?confirm=1`` (audited)."""
    user = current_bridge_user()
    found = service.get_document(user, document_id)
    item = service.attachment(found, index)
    if item.signature_invalid:
        if request.args.get("confirm") != "1":
            raise ApiProblem(409, _("This attachment's signature is invalid: its content may "
                                    "have been altered."),
                             fix=_("Add ?confirm=1 to download it anyway (audited)."))
        audit("inbox.open-invalid-signature", target=f"document {found.id} attachment {index}",
              detail=item.name, actor=user)
    response = send_file(item.path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=item.name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@operation("POST", "/documents/<int:document_id>/remove", summary="Remove from the inbox",
           scope="inbox:write", responses={200: schemas.InboxItem}, tag=INBOX, errors=(404,))
def remove_document(document_id: int) -> Any:
    """Archived, never destroyed; removing twice is harmless."""
    user = current_bridge_user()
    found = service.remove_document(user, document_id)
    return schemas.InboxItem(**inbox_item(found, user, People()))


@operation("POST", "/documents/<int:document_id>/file", summary="File into a patient's record",
           scope="inbox:write", body=schemas.FileRequest, responses={200: schemas.InboxItem},
           tag=INBOX, errors=(404, 409))
def file_document(document_id: int, body: schemas.FileRequest) -> Any:
    """Through the patient's provider, once: filing again answers the first filing."""
    from medshake_bridge.apiv1.patients_link import file_into

    user = current_bridge_user()
    found = file_into(user, document_id, body.patient)
    return schemas.InboxItem(**inbox_item(found, user, People()))


@operation("GET", "/patients", summary="Search patients", scope="patients:read",
           query=schemas.PatientQuery, responses={200: schemas.PatientList}, tag=PATIENTS)
def patients(query: schemas.PatientQuery) -> Any:
    """Every source: words of the names, or a birth date dd/mm/yyyy."""
    from medshake_bridge.apiv1.patients_link import search

    return schemas.PatientList(items=search(current_bridge_user(), query.q, query.limit))


@operation("GET", "/patients/<ref>/lab-results", summary="One lab result over time",
           scope="patients:read", query=schemas.LabQuery, responses={200: schemas.LabHistory},
           tag=PATIENTS, errors=(404,))
def lab_results(ref: str, query: schemas.LabQuery) -> Any:
    """The analyte ``code`` in the documents filed into the patient that the caller may read,
    oldest first."""
    from medshake_bridge.apiv1.patients_link import lab_history

    return lab_history(current_bridge_user(), ref, query.code)


# -- sending -------------------------------------------------------------------------------

def _send_token(user: User) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return secrets.token_hex(32)
    if len(key) > 200 or not key.isprintable():
        raise ApiProblem(422, _("The Idempotency-Key header is not valid."),
                         errors=[{"field": "Idempotency-Key", "in": "header",
                                  "message": "1 to 200 printable characters",
                                  "fix": _("Send a short unique text, e.g. a UUID.")}])
    return hashlib.sha256(f"api:{user.id}:{key}".encode()).hexdigest()


def _check_size(settings: dict[str, Any]) -> None:
    from medshake_bridge.send.service import MAX_ATTACHMENTS, max_attachment_bytes

    limit = max_attachment_bytes(settings)
    ceiling = limit * MAX_ATTACHMENTS * 4 // 3 + 1024 * 1024
    if (request.content_length or 0) > ceiling:
        raise ApiProblem(413, _("The request is larger than the bridge accepts."),
                         fix=_("Each attachment may be at most %(mb)s MB.",
                               mb=limit // (1024 * 1024)))


def _stage(user: User, body: schemas.MessageIn, settings: dict[str, Any], folder: Path) -> list:
    from medshake_bridge.send.service import AttachmentFile, max_attachment_bytes
    from medshake_bridge.send.sources import stored_attachment
    from medshake_bridge.views.sending import clean_upload_name

    limit = max_attachment_bytes(settings)
    staged = []
    for number, item in enumerate(body.attachments):
        if item.content_base64 is not None:
            try:
                data = base64.b64decode(item.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ApiProblem(422, _("An attachment is not valid base64."), errors=[{
                    "field": f"attachments.{number}.content_base64", "in": "body",
                    "message": "not base64",
                    "fix": _("Encode the file in standard base64.")}]) from None
            if len(data) > limit:
                raise ApiProblem(413, _("The attachment %(name)s is too large.", name=item.name),
                                 fix=_("Each attachment may be at most %(mb)s MB.",
                                       mb=limit // (1024 * 1024)))
            slot = ensure_private_dir(folder / str(number))
            target = slot / clean_upload_name(item.name)
            target.write_bytes(data)
            target.chmod(0o600)
            staged.append(AttachmentFile(target.name, target))
        elif item.document is not None and item.index is not None:
            stored = stored_attachment(user, f"{item.document}:{item.index}")
            staged.append(AttachmentFile(clean_upload_name(item.name), stored.path))
        else:
            raise ApiProblem(422, _("An attachment needs content_base64, or document and "
                                    "index."), errors=[{
                "field": f"attachments.{number}", "in": "body", "message": "no content",
                "fix": _("Give content_base64, or document and index.")}])
    return staged


def _sending_mailbox(user: User, wanted: int | None) -> User:
    """The owner of the mailbox the message goes out from, by the compose page's rule
    (:mod:`medshake_bridge.inbox.delegation`): one's own, or a delegating practitioner's,
    named explicitly by a delegate."""
    from medshake_bridge.inbox import delegation

    choices = delegation.send_as_choices(user)
    if not choices:
        raise ApiProblem(422, _("You have no mailbox to send from."), errors=[{
            "field": "send_as", "in": "body", "message": "no mailbox",
            "fix": _("Ask an administrator to set up your Apicrypt address, or to delegate "
                     "a practitioner's mail to you.")}])
    if wanted is None and not delegation.needs_explicit_choice(choices):
        wanted = choices[0].user_id
    if wanted is None or wanted not in {choice.user_id for choice in choices}:
        names = ", ".join(f"{choice.user_id} ({choice.name})" for choice in choices)
        raise ApiProblem(422, _("Say in whose name this message is sent: nothing was sent."),
                         errors=[{"field": "send_as", "in": "body",
                                  "message": "missing" if wanted is None else "not allowed",
                                  "fix": _("Set send_as to one of: %(choices)s.",
                                           choices=names)}])
    return db.session.get(User, wanted)


@operation("POST", "/messages", summary="Send a message (once per Idempotency-Key)",
           scope="send", body=schemas.MessageIn,
           responses={201: schemas.SentItem, 200: schemas.SentItem, 202: schemas.SentItem},
           tag=SENDING, errors=(404, 409, 413, 502), upload=True)
def send(body: schemas.MessageIn) -> Any:
    """Encrypted and sent to every recipient or none. The same ``Idempotency-Key`` header sends
    once: a retry answers 200 with the first send (``replayed``). When the bridge runs with a
    job queue (``celery`` execution mode) the message is checked, then handed to a worker:
    the answer is 202 with ``state`` ``queued``; follow it at ``Location`` until it is
    ``sent`` or ``failed``."""
    from medshake_bridge.apiv1.patients_link import draft_patient
    from medshake_bridge.send.service import (
        Draft,
        SendFailed,
        SendInProgress,
        SendRefused,
        send_message,
    )

    user = current_bridge_user()
    settings = bridge_state().settings.values_for_user(user.id)
    _check_size(settings)
    owner = _sending_mailbox(user, body.send_as)
    token = _send_token(user)
    identity, patient_id, label = draft_patient(user, body.patient)
    if body.document is not None:
        service.get_document(user, body.document)
    root = ensure_private_dir(settings["apicryptCheminFichierNC"])
    folder = Path(tempfile.mkdtemp(prefix="api-upload-", dir=root))
    try:
        staged = _stage(user, body, settings, folder)
        draft = Draft(recipients=body.recipients, subject=body.subject, body=body.body,
                      identity=identity, patient_id=patient_id, patient_label=label,
                      attachments=staged, source_document_id=body.document)
        outcome = send_message(owner, draft, token=token, acting_user=user)
    except SendRefused as exc:
        raise ApiProblem(422, exc.message, fix=exc.fix, errors=[
            {"field": name, "in": "body", "message": text, "fix": text}
            for name, text in exc.errors.items()]) from None
    except SendInProgress as exc:
        raise ApiProblem(409, exc.message, fix=exc.fix) from None
    except SendFailed as exc:
        raise ApiProblem(502, _("Nothing was sent: %(reason)s", reason=exc.message),
                         fix=exc.fix) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    item = sent_item(outcome.record, People(), replayed=outcome.already)
    location = {"Location": url_for("bridge_api.sent_message", message_id=outcome.record.id)}
    if outcome.already:
        return item, 200, location
    return (item, 202, location) if outcome.queued else (item, 201, location)


@operation("GET", "/sent", summary="Sent messages", scope="inbox:read",
           query=schemas.PageQuery, responses={200: schemas.SentPage}, tag=SENDING)
def sent(query: schemas.PageQuery) -> Any:
    """Messages sent by the caller (also in another's name) and by the users whose mail it may
    read, newest first (the pages' history)."""
    user = current_bridge_user()
    owners = sorted(readable_mail_owner_ids(user))
    after = decode_cursor(query.cursor)
    statement = select(SentMessage).where(or_(SentMessage.user_id.in_(owners or [-1]),
                                              SentMessage.acted_by_user_id == user.id))
    if after is not None:
        statement = statement.where(after_cursor(SentMessage.created_at, SentMessage.id, after))
    rows = list(db.session.scalars(statement.order_by(SentMessage.created_at.desc(),
                                                      SentMessage.id.desc())
                                   .limit(query.limit + 1)))
    people = People()
    shown = rows[:query.limit]
    items = [sent_item(row, people) for row in shown]
    more = len(rows) > query.limit
    return schemas.SentPage(items=items, next_cursor=encode_cursor(
        shown[-1].created_at, shown[-1].id) if more else None)


@operation("GET", "/sent/<int:message_id>", summary="One sent message", scope="inbox:read",
           responses={200: schemas.SentItem}, tag=SENDING, errors=(404,))
def sent_message(message_id: int) -> Any:
    """A message the caller sent (also in another's name), or sent by a user whose mail it
    may read."""
    from medshake_bridge.access import require_mail_access

    user = current_bridge_user()
    row = db.session.get(SentMessage, message_id)
    if row is None or row.acted_by_user_id != user.id:
        require_mail_access(user, row.user_id if row else -1,
                            target=f"sent message {message_id}")
    return sent_item(row, People())


@api_blueprint.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(rest: str = "") -> Response:
    """Any other path under /api/v1: a 404 problem, not the HTML page."""
    raise ApiProblem(404, _("There is no such API endpoint."),
                     fix=_("See /api/v1/openapi.json for the endpoints."))
