"""``medshake-bridge patients add|search|show``: patients from the command line.

The same path as the pages (:mod:`medshake_bridge.patients`): every source's provider, the same
identity rules (:mod:`medshake_bridge.patients.identity`), the same audit.
"""

from __future__ import annotations

import click

from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.patient_ref import PatientRef, PatientSummary


def _line(patient: PatientSummary) -> str:
    from medshake_bridge.patients import patient_providers

    provider = patient_providers().get(patient.ref.source)
    return f"{patient.ref}  {patient.display_name}  [{provider.label if provider else '?'}]"


@bridge_group.group("patients")
def patients_group() -> None:
    """Create, search and show patients (every patient source)."""


@patients_group.command("add")
@click.option("--user", "user_id", required=True, type=int,
              help="Id of the bridge user creating the patient (for the audit trail).")
@click.option("--source", default="bridge", show_default=True,
              help="Where to create the patient (a source whose provider can create).")
@click.option("--last-name", required=True)
@click.option("--first-name", default="")
@click.option("--birth-name", default="", help="Birth name, when it differs.")
@click.option("--birth-date", default="", help="dd/mm/yyyy")
@click.option("--sex", default="", type=click.Choice(["", "F", "M"], case_sensitive=False))
@click.option("--nir", default="", help="Social security number (13 or 15 digits).")
@click.option("--postcode", default="")
@click.option("--city", default="")
@clean_errors
def add_cmd(user_id: int, source: str, **fields: str) -> None:
    """Create a patient; prints its reference (source:id)."""
    from medshake_bridge.patients import create_patient
    from medshake_bridge.patients.identity import read_new_patient

    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise click.ClickException(f"No active user with id {user_id} (see 'users list').")
    patient, errors = read_new_patient(fields)
    if patient is None:
        for field, problem in errors.items():
            click.echo(f"--{field.replace('_', '-')}: {problem}", err=True)
        raise click.ClickException("The patient was not created.")
    created = create_patient(source, patient, user=user)
    click.echo(f"Patient {created.ref} created: {created.display_name}")


@patients_group.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200))
@clean_errors
def search_cmd(query: tuple[str, ...], limit: int) -> None:
    """Patients of every source matching the words (names, dd/mm/yyyy), or a source:id."""
    from medshake_bridge.patients import provider_problems, search_patients

    found = search_patients(" ".join(query), user=None, limit=limit)
    for patient in found:
        click.echo(_line(patient))
    for problem in provider_problems():
        click.echo(f"A patient source did not answer: {problem}", err=True)
    if not found:
        click.echo("No patient found.")


@patients_group.command("show")
@click.argument("reference")
@clean_errors
def show_cmd(reference: str) -> None:
    """One patient (source:id; a bare number is the bridge's own store) and its documents."""
    from medshake_bridge.patients import get_patient
    from medshake_bridge.send.sources import patient_documents

    ref = PatientRef("bridge", reference) if reference.isdigit() else PatientRef.parse(reference)
    patient = get_patient(ref)
    if patient is None:
        raise click.ClickException(f"No patient {ref} (see 'patients search').")
    click.echo(_line(patient))
    for label, value in (("birth name", patient.birth_name), ("sex", patient.sex),
                         ("NIR", patient.nir), ("address", f"{patient.postcode} {patient.city}"
                                                .strip()), ("url", patient.url)):
        if value:
            click.echo(f"  {label}: {value}")
    documents = patient_documents(ref)
    click.echo(f"  {len(documents)} filed document(s)")
    for document in documents:
        click.echo(f"    {document.created_at:%d/%m/%Y}  document {document.id}  "
                   f"{document.message.subject or ''}")
