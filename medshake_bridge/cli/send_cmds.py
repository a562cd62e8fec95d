"""``medshake-bridge send``: send one Apicrypt message from the command line.

Same path as the compose page (:func:`medshake_bridge.send.service.send_message`): the same
checks, hooks, encryption, SMTP submission, record and audit. Also registers
``medshake-bridge sandbox relay``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.db import db
from medshake_bridge.errors import BridgeError
from medshake_bridge.models import User
from medshake_bridge.patient_ref import PatientRef
from medshake_bridge.patients import get_patient
from medshake_bridge.sandbox import relay_cli  # noqa: F401 - registers 'sandbox relay'
from medshake_bridge.send.service import (
    AttachmentFile,
    Draft,
    SendFailed,
    SendInProgress,
    SendRefused,
    send_message,
)
from medshake_bridge.send.sources import identity_from_patient


@bridge_group.command("send")
@click.option("--user", "user_id", required=True, type=int, help="Id of the sending user.")
@click.option("--to", "recipients", required=True, multiple=True,
              help="Apicrypt address of a recipient (repeat for several).")
@click.option("--patient", "patient_arg", required=True,
              help="The patient: source:id (e.g. bridge:12, portal:17; see 'patients "
                   "search'); a bare number is a patient of the bridge's own store.")
@click.option("--subject", default=None,
              help="Subject, in clear: never the patient's identity (default: "
                   "apicryptDefautSujet).")
@click.option("--body-file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="UTF-8 text file holding the letter.")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File to attach (repeat for several).")
@click.option("--token", default=None,
              help="Idempotency key: running again with the same token never sends twice.")
def send_cmd(user_id: int, recipients: tuple[str, ...], patient_arg: str, subject: str | None,
             body_file: Path, attachments: tuple[Path, ...], token: str | None) -> None:
    """Encrypt and send a letter about a patient to Apicrypt correspondents."""
    from medshake_bridge.extension import bridge_state

    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise click.ClickException(f"No active user with id {user_id} (see 'list-users').")
    try:
        ref = PatientRef("bridge", patient_arg) if patient_arg.isdigit() \
            else PatientRef.parse(patient_arg)
        patient = get_patient(ref)
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from exc
    if patient is None:
        raise click.ClickException(f"No patient {ref} (see 'patients search').")
    try:
        body = body_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{body_file} is not UTF-8 text; save it as UTF-8.") from exc
    draft = Draft(
        recipients=list(recipients),
        subject=subject if subject is not None else str(
            bridge_state().settings.get("apicryptDefautSujet", user_id=user.id) or ""),
        body=body, identity=identity_from_patient(patient), patient_id=str(patient.ref),
        patient_label=patient.display_name,
        attachments=[AttachmentFile(path.name, path) for path in attachments])
    try:
        # sent here, even in celery mode: the command waits and tells the result
        outcome = send_message(user, draft, token=token or secrets.token_hex(16), queue=False)
    except SendRefused as exc:
        for field, problem in exc.errors.items():
            click.echo(f"{field}: {problem}", err=True)
        raise click.ClickException("Nothing was sent.") from exc
    except (SendFailed, SendInProgress) as exc:
        raise click.ClickException(f"Nothing was sent: {exc}") from exc
    record = outcome.record
    if outcome.already:
        click.echo(f"Already sent earlier (token reused): {record.message_id_header}")
        return
    if outcome.notice:
        click.echo(outcome.notice)
    click.echo(f"Sent to {', '.join(record.recipient_list)}: {record.message_id_header}")
