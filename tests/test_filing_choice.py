"""Filing a received document: the proposed patient is ticked in advance only when the choice
is clear-cut (same last and first name, more criteria than the next candidate), so one click
on "Classer" never files into another patient's record."""

from __future__ import annotations

import html as html_lib

from officeworld import add_jeanne
from sqlalchemy import select
from test_browser_workflow import office  # noqa: F401  (the fixture is used by name)
from web_helpers import login, post

from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import Patient
from medshake_bridge.views.inbox import preselected

PASSWORD = "password for tests"


def _candidates(page: str) -> str:
    return page.split('id="candidates"')[1].split("</form>")[0]


def test_a_tie_between_two_patients_ticks_none(office):  # noqa: F811
    # office has Hélène DUPONT-ÉTIENNE with the report's NIR, birth date and postcode; Jeanne
    # DUPONT has the report's name, first name and birth date: as many criteria each
    assert office.world.collect().ok
    jeanne_ref = add_jeanne(office.app)
    with office.app.app_context():
        document = db.session.scalars(select(InboxDocument.id)).first()
    client = office.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    page = html_lib.unescape(client.get(f"/inbox/{document}").get_data(as_text=True))
    form = _candidates(page)
    assert form.count("data-candidate=") == 2 and " checked" not in form
    assert "Aucun patient n'est coché" in form
    # "Classer" without a choice files nothing and says what to do
    response = post(client, f"/inbox/{document}/file", {}, page=f"/inbox/{document}")
    assert response.status_code == 302
    with office.app.app_context():
        assert db.session.get(InboxDocument, document).state == "new"
    assert "Choisissez d'abord un patient" in html_lib.unescape(
        client.get(f"/inbox/{document}").get_data(as_text=True))
    # the patient with the conflicting name gone, Jeanne is ticked
    with office.app.app_context():
        db.session.delete(db.session.get(Patient, office.patient_id))
        db.session.commit()
    page = html_lib.unescape(client.get(f"/inbox/{document}").get_data(as_text=True))
    form = _candidates(page)
    assert f'value="{jeanne_ref}" checked' in form and "Aucun patient" not in form


def test_preselection_rules():
    from medshake_bridge.patient_ref import PatientCandidate, PatientRef, PatientSummary

    def candidate(ref: str, *reasons: str) -> PatientCandidate:
        return PatientCandidate(summary=PatientSummary(ref=PatientRef.parse(ref),
                                                       last_name="X", first_name="Y"),
                                score=len(reasons), reasons=reasons)

    names = ("last_name", "first_name")
    assert preselected([]) == ""
    assert preselected([candidate("bridge:1", *names)]) == "bridge:1"
    assert preselected([candidate("bridge:1", *names, "birth_date"),
                        candidate("bridge:2", *names)]) == "bridge:1"
    assert preselected([candidate("bridge:1", *names), candidate("bridge:2", *names)]) == ""
    assert preselected([candidate("bridge:1", "nir", "birth_date", "postcode")]) == ""
