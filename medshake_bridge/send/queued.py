"""Sending through the job queue (``celery`` execution mode).

The request does everything that can refuse a message (checks, ``medshake_before_send``, the
one-time token's claim, now in state ``queued``), then leaves the message for a worker and
returns at once:

* the checked message and its attachments are written, encrypted with the bridge's secret keys
  (``MEDSHAKE_BRIDGE_SECRET_KEYS``, the same on every host), under
  ``<data folder>/outbox/<sent message id>/`` (0700/0600): the data folder is the one every host
  shares, so any worker reads them; they are removed once the message is sent or has failed;
* a ledger job of kind ``send`` names the sent-message row; the queue carries only its id.

The worker (:func:`run_send`) claims the ledger job, then moves the row from ``queued`` to
``sending`` in one conditional update, encrypts and submits, and records ``sent`` or
``failed``, as an inline send does. "Once per token" holds across redelivery: the ledger runs a
job once, and only a ``queued`` row is ever sent. A worker that died after it began to send
leaves the row ``sending``: whether the SMTP server took the message is then unknown, so the
delivered-again job does not send it a second time; it records the row as failed with a message
telling the user to check before sending again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import update

from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.hprim import PatientIdentity
from medshake_bridge.models import User
from medshake_bridge.models.scale import FAILED as JOB_FAILED
from medshake_bridge.models.scale import FINISHED_STATES, OK, SEND, SKIPPED
from medshake_bridge.models.sending import FAILED, QUEUED, SENDING, SENT, SentMessage
from medshake_bridge.paths import PRIVATE_FILE_MODE, ensure_private_dir
from medshake_bridge.send.service import (
    AttachmentFile,
    OutgoingMessage,
    encrypt_and_submit,
    record_failure,
    record_sent,
)

log = logging.getLogger(__name__)
OUTBOX = "outbox"
PAYLOAD = "message.enc"
#: Stored on a row whose worker died while sending (English, as every stored error; the
#: pages explain it in French through :func:`medshake_bridge.send.explain.explain_text`).
UNCERTAIN_ERROR = ("interrupted while sending: the worker stopped after it began to send, so "
                   "the message may have gone out")


def outbox_folder(app: Flask, record_id: int) -> Path:
    return Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / OUTBOX / str(int(record_id))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="ascii")
    path.chmod(PRIVATE_FILE_MODE)


def _identity_json(identity: PatientIdentity) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in asdict(identity).items()}


def _identity(values: dict[str, Any]) -> PatientIdentity:
    dates = {"birth_date", "exam_date"}
    return PatientIdentity(**{key: dt.date.fromisoformat(value) if key in dates and value
                              else value for key, value in values.items()})


def put_on_queue(user: User, actor: User, record: SentMessage, message: OutgoingMessage,
                 attachments: Sequence[AttachmentFile]) -> str:
    """Leave ``message`` for a worker and put its job on the queue; returns the broker's
    error when the queue did not answer (the job is then kept in the ledger and sent again at
    the next pass), else an empty string. Raises when the message cannot be stored."""
    from medshake_bridge.scale import ledger
    from medshake_bridge.scale.dispatch import EnqueueReport, send_job

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    box = bridge_state().secrets
    folder = outbox_folder(app, record.id)
    shutil.rmtree(folder, ignore_errors=True)  # a failed earlier try of this token
    ensure_private_dir(folder)
    try:
        for number, item in enumerate(attachments):
            data = base64.b64encode(item.path.read_bytes()).decode("ascii")
            _write(folder / f"{number}.enc", box.encrypt(data))
        payload = {
            "user_id": user.id, "actor_id": actor.id,
            "message": {**asdict(message), "identity": _identity_json(message.identity)},
            "attachments": [item.name for item in attachments],
        }
        _write(folder / PAYLOAD, box.encrypt(json.dumps(payload, ensure_ascii=False)))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job = ledger.record(SEND, str(record.id), trigger="page")
    report = EnqueueReport()
    send_job(app, job, report)
    return report.broker_error


def _load(app: Flask, record_id: int, work: Path) -> tuple[int, int, OutgoingMessage,
                                                           list[AttachmentFile]]:
    box = bridge_state(app).secrets
    folder = outbox_folder(app, record_id)
    payload = json.loads(box.decrypt((folder / PAYLOAD).read_text(encoding="ascii")))
    fields = dict(payload["message"])
    fields["identity"] = _identity(fields["identity"])
    fields["recipients"] = tuple(fields["recipients"])
    fields["attachment_names"] = tuple(fields["attachment_names"])
    message = OutgoingMessage(**fields)
    files = []
    for number, name in enumerate(payload["attachments"]):
        slot = ensure_private_dir(work / str(number))
        target = slot / name
        target.write_bytes(base64.b64decode(box.decrypt(
            (folder / f"{number}.enc").read_text(encoding="ascii"))))
        target.chmod(PRIVATE_FILE_MODE)
        files.append(AttachmentFile(name, target))
    return int(payload["user_id"]), int(payload["actor_id"]), message, files


def run_send(app: Flask, job_id: int, *, worker: str) -> str:
    """Send the message of the ledger job ``job_id`` (a worker's task); returns what
    happened (for the log)."""
    from medshake_bridge.scale.work import _Counted

    with _Counted(), app.app_context():
        try:
            return _send(app, job_id, worker)
        finally:
            db.session.remove()


def _send(app: Flask, job_id: int, worker: str) -> str:
    from medshake_bridge.dblocks import LockBusy, named_lock
    from medshake_bridge.models.scale import QueueJob
    from medshake_bridge.scale import ledger
    from medshake_bridge.scale.work import BUSY_ELSEWHERE

    job = db.session.get(QueueJob, job_id)
    if job is None or job.state in FINISHED_STATES:
        return "already done"
    folder = Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    try:
        with named_lock(f"queue-job:{job_id}", folder=folder, file_name=f"queue-{job_id}.lock"):
            if ledger.claim(job_id, worker=worker) is None:
                return "already done"
            return _send_claimed(app, job_id, int(job.target))
    except LockBusy:
        return BUSY_ELSEWHERE


def _send_claimed(app: Flask, job_id: int, record_id: int) -> str:
    from medshake_bridge.scale import ledger

    record = db.session.get(SentMessage, record_id)
    if record is None:
        ledger.finish(job_id, SKIPPED, error="the sent-message row is gone")
        return "skipped: no message"
    if record.state == SENDING:
        # A worker died after it began to send: the SMTP server may have the message.
        owner = db.session.get(User, record.user_id)
        record_failure(record, UNCERTAIN_ERROR, user=owner, actor=owner)
        shutil.rmtree(outbox_folder(app, record_id), ignore_errors=True)
        ledger.finish(job_id, JOB_FAILED, error=UNCERTAIN_ERROR)
        return "failed: interrupted while sending"
    if record.state != QUEUED:
        ledger.finish(job_id, OK if record.state == SENT else SKIPPED,
                      error="" if record.state == SENT else f"the message is {record.state}")
        return f"already {record.state}"
    taken = db.session.execute(update(SentMessage).where(
        SentMessage.id == record_id, SentMessage.state == QUEUED).values(state=SENDING))
    db.session.commit()
    if taken.rowcount != 1:
        ledger.finish(job_id, SKIPPED, error="another worker took the message")
        return "skipped: taken"
    db.session.refresh(record)
    return _deliver(app, job_id, record)


def _deliver(app: Flask, job_id: int, record: SentMessage) -> str:
    from medshake_bridge.scale import ledger
    from medshake_bridge.workfolders import prepare_work_folder, private_work_dir

    state = bridge_state(app)
    record_id = record.id
    try:
        settings = state.settings.values_for_user(record.user_id)
        root = prepare_work_folder(settings["apicryptCheminFichierNC"],
                                   setting="apicryptCheminFichierNC")
        with private_work_dir(root, "queued-send-") as work:
            user_id, actor_id, message, files = _load(app, record_id, work)
            user = db.session.get(User, user_id)
            actor = db.session.get(User, actor_id) or user
            try:
                message_id, notice = encrypt_and_submit(state, settings, message, files)
            except BaseException as exc:
                shutil.rmtree(outbox_folder(app, record_id), ignore_errors=True)
                record_failure(record, exc, user=user, actor=actor)
                ledger.finish(job_id, JOB_FAILED, error=str(exc))
                log.warning("queued message %s not sent: %s", record_id, exc)
                return "failed"
        # gone before the row says "sent": nothing of the message is left once it shows
        shutil.rmtree(outbox_folder(app, record_id), ignore_errors=True)
        record_sent(state, record, message_id, notice, user=user, actor=actor,
                    attachments=len(message.attachment_names))
        ledger.finish(job_id, OK, counts={"sent": 1})
        return "sent"
    except Exception as exc:  # noqa: BLE001 - the payload could not be read: say so
        db.session.rollback()
        current = db.session.get(SentMessage, record_id)
        if current is not None and current.state == SENDING:
            current.state, current.error = FAILED, f"the queued message could not be read: {exc}"
            db.session.commit()
        ledger.finish(job_id, JOB_FAILED, error=str(exc))
        log.exception("queued message %s", record_id)
        return "failed"
    finally:
        shutil.rmtree(outbox_folder(app, record_id), ignore_errors=True)
