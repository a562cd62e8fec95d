"""Patient pages: search every source, create a patient, one patient with its filed documents.

Patients come from the providers (:mod:`medshake_bridge.patients`); these pages never read a
provider's tables. URLs name a patient by its reference (``/patients/bridge:12``). The list of
documents filed into a patient shows only mail the viewer may read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from medshake_bridge import patients
from medshake_bridge.access import USER, current_bridge_user, deny, may_read_mail_of, protect
from medshake_bridge.errors import BridgeError
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.inbox.history import patient_history
from medshake_bridge.patient_ref import PatientRef
from medshake_bridge.patients.identity import FIELDS, read_new_patient

patient_pages = protect(Blueprint("bridge_patients", __name__, url_prefix="/patients"), USER)
SEXES = ("", "F", "M")


@patient_pages.route("/")
def index() -> str:
    user = current_bridge_user()
    search = request.args.get("q", "").strip()
    found = patients.search_patients(search, user=user) if search else []
    return render_template("bridge/patients.html", search=search, found=found,
                           problems=patients.provider_problems(),
                           creatable=patients.creatable_sources())


@patient_pages.route("/new", methods=["GET", "POST"])
def new() -> Any:
    """The "new patient" form; ``then=compose`` goes on to write a message about the patient."""
    user = current_bridge_user()
    creatable = patients.creatable_sources()
    then = request.values.get("then", "")
    values = {name: request.values.get(name, "") for name in FIELDS}
    values["source"] = request.values.get("source", "") or next(iter(creatable), "")
    errors: dict[str, str] = {}
    if request.method == "POST":
        if values["source"] not in creatable:
            errors["source"] = _("Choose where to create the patient.")
        patient, problems = read_new_patient(values)
        errors.update({field: _(problem) for field, problem in problems.items()})
        if not errors and patient is not None:
            try:
                created = patients.create_patient(values["source"], patient, user=user)
            except BridgeError as exc:
                errors["form"] = _("The patient could not be created: %(reason)s",
                                   reason=str(exc))
            else:
                flash(_("Patient %(name)s created.", name=created.display_name), "success")
                if then == "compose":
                    return redirect(url_for("bridge_send.compose", patient=str(created.ref)))
                return redirect(url_for(".show", ref=str(created.ref)))
    return render_template("bridge/patient_new.html", values=values, errors=errors,
                           creatable=creatable, then=then, sexes=SEXES), 400 if errors else 200


@patient_pages.route("/<ref>")
def show(ref: str) -> str:
    user = current_bridge_user()
    try:
        patient = patients.get_patient(PatientRef.parse(ref))
    except BridgeError:
        patient = None
    if patient is None:
        deny(f"patient {ref}", detail="no such patient")
    from medshake_bridge.send.sources import patient_documents

    documents = [d for d in patient_documents(patient.ref)
                 if may_read_mail_of(user, d.owner_user_id)]
    # newest exam first (the day received when the sender gave no exam date)
    documents.sort(key=lambda d: (d.exam_date or d.created_at.date(), d.created_at, d.id),
                   reverse=True)
    label = patients.patient_providers()[patient.ref.source].label
    history = patient_history(user, str(patient.ref))
    count = len({point.document_id for series in history for point in series.points})
    return render_template("bridge/patient_show.html", patient=patient, documents=documents,
                           source_label=label, history=history, history_documents=count)


@patient_pages.app_template_global("patient_source_label")
def patient_source_label(ref: Any) -> str:
    """The label of a patient's source ("Patients du bridge", "Dossiers du portail")."""
    provider = patients.patient_providers().get(getattr(ref, "source", ""))
    return str(provider.label) if provider else str(getattr(ref, "source", ""))
