"""Sending one message: check, build, ask the plugins, claim, encrypt, submit, record.

The order is what makes a send safe:

1. everything the user typed is checked first (recipients, subject without identity, patient,
   attachments, the HPRIM text builds) and all problems come back at once, per field;
2. ``medshake_before_send`` may refuse with a reason;
3. the form's one-time token is claimed in ``bridge_sent_messages`` (unique): a second click,
   a retry or another process finds the row and sends nothing again;
4. body and attachments are encrypted by the user's back-end in a private work folder that is
   removed afterwards, failure included;
5. the message goes out over SMTP to every recipient or to none;
6. only then is the row marked ``sent`` (with the Message-ID), the action audited, and
   ``medshake_message_sent`` called. A failure marks it ``failed`` with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from medshake_bridge.audit import audit
from medshake_bridge.backends import backend_for
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError, HprimError
from medshake_bridge.extension import bridge_state
from medshake_bridge.hprim import PatientIdentity, build_document, identity_in_subject
from medshake_bridge.i18n import _
from medshake_bridge.models import User
from medshake_bridge.models.sending import FAILED, QUEUED, SENDING, SENT, SentMessage
from medshake_bridge.models.settings import utcnow
from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.send.addresses import RecipientError, parse_recipients
from medshake_bridge.send.mime import new_message_id, write_message
from medshake_bridge.send.smtp import smtp_endpoint, submit
from medshake_bridge.webhooks import outbox
from medshake_bridge.workfolders import prepare_work_folder, private_work_dir

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 10
MAX_SUBJECT = 200


def _identity_item(item: str) -> str:
    return {"last_name": _("last name"), "birth_name": _("birth name"),
            "first_name": _("first name"), "birth_date": _("birth date"),
            "nir": _("social-security number")}.get(item, item)


@dataclass(frozen=True)
class AttachmentFile:
    """A file to send: its name as the recipient will see it, and where it is now."""

    name: str
    path: Path


@dataclass
class Draft:
    """What the user asks to send (from the compose page or the CLI)."""

    recipients: str | Sequence[str]
    subject: str
    body: str
    identity: PatientIdentity | None
    patient_id: str = ""
    patient_label: str = ""
    attachments: Sequence[AttachmentFile] = ()
    source_document_id: int | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """The checked message, as ``medshake_before_send`` sees it (clear text included)."""

    user_id: int
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    identity: PatientIdentity
    patient_id: str
    patient_label: str
    attachment_names: tuple[str, ...]
    source_document_id: int | None = None


@dataclass
class SendOutcome:
    """The sent record; ``already`` is true when this token had been sent before (a double
    click); ``notice`` tells the user about transliterated characters."""

    record: SentMessage
    already: bool = False
    notice: str = ""
    #: celery mode: the message was handed to the job queue (a worker sends it);
    #: ``broker_error`` says the queue did not answer (it is kept and sent again later)
    queued: bool = False
    broker_error: str = ""


class SendRefused(BridgeError):
    """The message was refused before anything was claimed or sent; ``errors`` maps a form
    field (``recipients``, ``subject``, ``patient``, ``body``, ``attachments``, ``form``) to
    what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()),
                         fix=_("Correct the fields shown and send again."))
        self.errors = errors


class SendInProgress(BridgeError):
    """Another request is sending this very form right now."""


class SendFailed(BridgeError):
    """Encryption or submission failed; nothing was sent and the record says ``failed``."""

    def __init__(self, record: SentMessage, cause: BaseException) -> None:
        message = getattr(cause, "message", str(cause))
        super().__init__(message, fix=getattr(cause, "fix", ""))
        self.record = record
        self.cause = cause


def _allowed_domains(settings: dict[str, Any]) -> list[str]:
    value = settings.get("apicryptSendAllowedDomains") or ["apicrypt.org"]
    return [str(item) for item in value]


def max_attachment_bytes(settings: dict[str, Any]) -> int:
    return int(settings.get("apicryptSendMaxAttachmentMo") or 10) * 1024 * 1024


def prepare(user: User, draft: Draft, settings: dict[str, Any]) -> OutgoingMessage:
    """Check the draft and build the HPRIM clear text; raises :class:`SendRefused`."""
    errors: dict[str, str] = {}
    domains = _allowed_domains(settings)
    recipients: list[str] = []
    try:
        recipients = [str(address) for address in parse_recipients(draft.recipients, domains)]
    except RecipientError as exc:
        errors["recipients"] = str(exc)
    sender = str(settings.get("apicryptAdresse") or "").strip()
    if not sender or not settings.get("apicryptUtilisateur"):
        errors["form"] = _("Your Apicrypt address or user name is not set, so you cannot "
                           "send. Ask an administrator to set apicryptAdresse and "
                           "apicryptUtilisateur for you.")
    subject = draft.subject.strip()
    if not subject:
        errors["subject"] = _("Write a subject (without the patient's identity).")
    elif len(subject) > MAX_SUBJECT or any(ord(char) < 32 for char in subject):
        errors["subject"] = _("The subject must be one line of at most %(max)s characters.",
                              max=MAX_SUBJECT)
    if draft.identity is None:
        errors["patient"] = _("Choose the patient this message is about.")
    else:
        found = identity_in_subject(subject, draft.identity)
        if found:
            items = ", ".join(_identity_item(item) for item in found)
            errors["subject"] = _("The subject contains the patient's %(items)s. The subject "
                                  "travels unencrypted: remove it (the identity goes in the "
                                  "encrypted text automatically).", items=items)
    if not draft.body.strip() and not draft.attachments:
        errors["body"] = _("Write a text or attach a document.")
    errors.update(_check_attachments(draft.attachments, settings))
    text = ""
    if draft.identity is not None and recipients and sender and "body" not in errors:
        try:
            text = build_document(draft.identity, sender=sender, recipient=recipients[0],
                                  body=draft.body)
        except HprimError as exc:
            field_name = "body" if "marker" in exc.message else "patient"
            errors[field_name] = f"{exc.message} {exc.fix}".strip()
    if errors:
        raise SendRefused(errors)
    assert draft.identity is not None
    return OutgoingMessage(
        user_id=user.id, sender=sender, recipients=tuple(recipients), subject=subject,
        text=text, identity=draft.identity, patient_id=draft.patient_id,
        patient_label=draft.patient_label[:255],
        attachment_names=tuple(item.name for item in draft.attachments),
        source_document_id=draft.source_document_id)


def _check_attachments(attachments: Sequence[AttachmentFile],
                       settings: dict[str, Any]) -> dict[str, str]:
    limit = max_attachment_bytes(settings)
    if len(attachments) > MAX_ATTACHMENTS:
        return {"attachments": _("Too many attachments (%(count)s); send at most %(max)s at "
                                 "once.", count=len(attachments), max=MAX_ATTACHMENTS)}
    names = [item.name.lower() for item in attachments]
    if len(set(names)) != len(names):
        return {"attachments": _("Two attachments have the same name; rename one.")}
    for item in attachments:
        if not item.path.is_file():
            return {"attachments": _("The attachment %(name)s is no longer available; add it "
                                     "again.", name=item.name)}
        if item.path.stat().st_size > limit:
            return {"attachments": _("The attachment %(name)s is larger than the limit of "
                                     "%(limit)s MB.", name=item.name,
                                     limit=limit // (1024 * 1024))}
    return {}


def _before_send(message: OutgoingMessage, user: User) -> None:
    failed: list[str] = []
    from medshake_bridge.public import BridgeUser

    reasons = [answer.value for answer in bridge_state().hooks.call(
        "medshake_before_send", failed=failed, message=message, user=BridgeUser.from_row(user))
        if answer.value]
    # A veto that could not be asked fails closed: the message may be one it would refuse.
    reasons += [_("the check of plugin %(name)s failed (see the Extensions page)", name=name)
                for name in failed]
    if reasons:
        audit("mail.send", target=", ".join(message.recipients), outcome="denied",
              detail="; ".join(str(reason) for reason in reasons), actor=user)
        raise SendRefused({"form": _("Sending was refused: %(reason)s",
                                     reason="; ".join(str(reason) for reason in reasons))})


def _claim(user: User, token: str, message: OutgoingMessage, *,
           initial: str = SENDING) -> tuple[SentMessage, bool]:
    """Take the token for this send; ``(row, True)`` when it was already sent (or, in celery
    mode, already handed to the queue). ``initial``: the state of a fresh claim (``queued``
    when a worker will send it)."""
    values = {
        "user_id": user.id, "sender_address": message.sender,
        "recipients": ",".join(message.recipients), "patient_id": message.patient_id,
        "patient_label": message.patient_label, "subject": message.subject,
        "attachments_json": json.dumps(list(message.attachment_names), ensure_ascii=False),
        "source_document_id": message.source_document_id,
    }
    row = SentMessage(token=token, state=initial, attempts=1, **values)
    db.session.add(row)
    try:
        db.session.commit()
        return row, False
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalars(select(SentMessage).where(SentMessage.token == token)).one()
    if existing.user_id != user.id:
        raise SendRefused({"form": _("This form was already used. Open a new message.")})
    if existing.state in (SENT, QUEUED):
        return existing, True
    claimed = db.session.execute(
        update(SentMessage).where(SentMessage.id == existing.id, SentMessage.state == FAILED)
        .values(state=initial, error="", attempts=SentMessage.attempts + 1, **values))
    db.session.commit()
    db.session.refresh(existing)
    if claimed.rowcount != 1:
        if existing.state in (SENT, QUEUED):
            return existing, True
        raise SendInProgress(_("This message is being sent right now."),
                             fix=_("Wait a moment and look at the sent messages."))
    return existing, False


def _notice(replacements: Sequence[Any]) -> str:
    if not replacements:
        return ""
    changed = ", ".join(f"{item.character} → {item.replacement}" for item in replacements)
    return _("Some characters do not exist in Apicrypt v1's ISO-8859-1 and were replaced: "
             "%(changes)s.", changes=changed)


def _through_queue() -> bool:
    """``celery`` execution mode: a worker sends (the request returns at once)."""
    from flask import current_app

    from medshake_bridge.scale.executor import uses_celery

    return uses_celery(current_app)


def send_message(user: User, draft: Draft, *, token: str,
                 acting_user: User | None = None, queue: bool | None = None) -> SendOutcome:
    """Send ``draft`` for ``user`` once per ``token``; see the module docstring for the steps.

    ``user`` owns the mailbox the message goes out from (address, keys); ``acting_user`` is
    who pressed "send" when that is someone else (a delegate, already checked by the caller):
    the record and the audit name both.

    ``queue``: hand the checked message to the job queue instead of sending it here (default:
    in the ``celery`` execution mode); the outcome is then ``queued`` and a worker sends it
    (:mod:`medshake_bridge.send.queued`). Everything up to the token's claim happens here
    either way, so a refusal is still told at once.

    Raises :class:`SendRefused` (nothing claimed), :class:`SendInProgress`, or
    :class:`SendFailed` (recorded as failed; nothing went out).
    """
    state = bridge_state()
    settings = state.settings.values_for_user(user.id)
    message = prepare(user, draft, settings)
    _before_send(message, user)
    if not token or len(token) > 64:
        raise SendRefused({"form": _("This form has expired. Open a new message.")})
    queued = _through_queue() if queue is None else queue
    actor = acting_user or user
    on_behalf = actor.id != user.id
    record, already = _claim(user, token, message, initial=QUEUED if queued else SENDING)
    if on_behalf and not already:
        record.acted_by_user_id = actor.id
        db.session.commit()
    if already:
        return SendOutcome(record, already=True, notice=record.notice,
                           queued=record.state == QUEUED)
    if queued:
        from medshake_bridge.send.queued import put_on_queue

        try:
            broker_error = put_on_queue(user, actor, record, message, draft.attachments)
        except BaseException as exc:
            record_failure(record, exc, user=user, actor=actor)
            if isinstance(exc, BridgeError | OSError):
                raise SendFailed(record, exc) from exc
            raise
        return SendOutcome(record, queued=True, broker_error=broker_error)
    try:
        message_id, notice = encrypt_and_submit(state, settings, message, draft.attachments)
    except BaseException as exc:
        record_failure(record, exc, user=user, actor=actor)
        if isinstance(exc, BridgeError | OSError):
            raise SendFailed(record, exc) from exc
        raise
    record_sent(state, record, message_id, notice, user=user, actor=actor,
                attachments=len(message.attachment_names))
    return SendOutcome(record, notice=notice)


def _behalf(user: User, actor: User) -> str:
    return f", on behalf of {user.login}" if actor.id != user.id else ""


def record_failure(record: SentMessage, exc: BaseException | str, *, user: User,
                   actor: User) -> None:
    """Nothing went out: the row says ``failed`` with the reason, and the audit says so."""
    db.session.rollback()
    record.state, record.error = FAILED, str(exc)[:4000]
    db.session.commit()
    audit("mail.send", target=record.recipients, outcome="failed",
          detail=f"sent message {record.id}{_behalf(user, actor)}: {exc}", actor=actor)


def record_sent(state: Any, record: SentMessage, message_id: str, notice: str, *, user: User,
                actor: User, attachments: int) -> None:
    """The SMTP server took the message: the row says ``sent`` (the webhook event in the same
    commit), the audit records it and ``medshake_message_sent`` is called."""
    record.state, record.message_id_header, record.sent_at = SENT, message_id, utcnow()
    record.notice = notice
    outbox.message_sent(record)  # announced in the same commit as the "sent" state
    db.session.commit()
    audit("mail.send", target=record.recipients,
          detail=f"sent message {record.id}, {message_id}, patient {record.patient_id or '-'}, "
                 f"{attachments} attachment(s){_behalf(user, actor)}", actor=actor)
    # each reaction on its own: a plugin's failure is recorded and never hides the sending
    from medshake_bridge.public import BridgeUser, SentRecord

    public_user = BridgeUser.from_row(user)
    state.hooks.call("medshake_message_sent", message=SentRecord.from_row(record, public_user),
                     user=public_user)


def encrypt_and_submit(state: Any, settings: dict[str, Any], message: OutgoingMessage,
                        attachments: Sequence[AttachmentFile]) -> tuple[str, str]:
    """Encrypt in a private work folder (always removed) and submit; returns the Message-ID
    and the transliteration notice."""
    endpoint = smtp_endpoint(settings)  # settings problems show before any encryption
    backend = backend_for(state, settings)
    locals_ = [address.rpartition("@")[0] for address in message.recipients]
    root = prepare_work_folder(settings["apicryptCheminFichierC"],
                               setting="apicryptCheminFichierC")
    with private_work_dir(root, "send-") as work:
        encrypted = backend.encrypt_body(message.text, locals_)
        apz_dir = ensure_private_dir(work / "apz")
        apz_files: list[Path] = []
        for item in attachments:
            clear_dir = ensure_private_dir(work / f"clear-{len(apz_files)}")
            named = clear_dir / item.name
            shutil.copyfile(item.path, named)
            apz_files.append(backend.encrypt_attachment(named, locals_, apz_dir))
        message_id = new_message_id(message.sender)
        mime = work / "message.eml"  # in the private work folder, removed with it
        with os.fdopen(os.open(mime, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                       "wb") as out:
            write_message(out, sender=message.sender, recipients=message.recipients,
                          subject=message.subject, armour=encrypted.armour,
                          attachments=apz_files, message_id=message_id)
        submit(endpoint, mime, sender=message.sender, recipients=message.recipients)
    return message_id, _notice(getattr(encrypted, "replacements", ()))
