"""Patient pages through providers: candidates and search on a document, safe "create and
file" (a strong match needs a second confirmation naming it), the filing named and linked,
the compose page's patient picker and new-patient form, the patients pages and CLI."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from patient_providers import clinic_world
from sqlalchemy import select
from web_helpers import post

from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import Patient
from medshake_bridge.users import create_user

PASSWORD = "password for tests"


@pytest.fixture
def site(make_app, tmp_path, monkeypatch):
    world = clinic_world(make_app, tmp_path, monkeypatch)
    with world.app.app_context():
        create_user("carol", PASSWORD, role="practitioner")
    return world


def _client(site, login="bob"):
    client = site.app.test_client()
    response = post(client, "/login", {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _bridge_patient(app, **fields):
    values = {"last_name": "DUPONT", "first_name": "Jeanne"}
    values.update(fields)
    with app.app_context():
        row = Patient(**values)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_document_page_proposes_candidates_of_every_source_with_their_reasons(site):
    client = _client(site)
    page = _text(client.get(f"/inbox/{site.document_id}"))
    assert 'value="clinic:1"' in page and "Dossiers de la clinique" in page
    assert "même nom, même prénom, même date de naissance" in page
    assert 'value="clinic:2"' not in page  # DUPONT Marc: one criterion, never proposed


def test_filing_into_a_portal_like_source_names_and_links_the_patient(site):
    client = _client(site)
    response = post(client, f"/inbox/{site.document_id}/file", {"patient": "clinic:1"},
                    page=f"/inbox/{site.document_id}")
    assert response.status_code == 302
    page = _text(client.get(f"/inbox/{site.document_id}"))
    assert ('Classé dans le dossier de <a href="/clinic/patients/1#R1">DUPONT Jeanne</a> '
            "(née le 12/03/1961)") in page
    assert "dossier du patient 1" not in page
    listing = _text(client.get("/inbox/?state=filed"))
    assert 'data-filed-into="clinic:1">Classé dans le dossier de <a href="/clinic/patients/1#R1">' \
        in listing
    assert site.clinic.calls == [(f"bridge-document:{site.document_id}", "1")]
    # a second user filing into another patient afterwards is told, and nothing changes
    other = post(client, f"/inbox/{site.document_id}/file", {"patient": "clinic:3"},
                 page=f"/inbox/{site.document_id}")
    assert "Ce document avait déjà été classé dans le dossier de DUPONT Jeanne" in \
        _text(client.get(other.headers["Location"]))
    assert len(site.clinic.calls) == 1


def test_search_on_the_document_page_by_first_name_and_file_into_the_bridge_store(site):
    patient_id = _bridge_patient(site.app, last_name="MOREAU", first_name="Hélène",
                                 sex="F")
    client = _client(site)
    page = _text(client.get(f"/inbox/{site.document_id}?q=helene"))
    assert f'data-found="bridge:{patient_id}"' in page and "MOREAU Hélène" in page
    post(client, f"/inbox/{site.document_id}/file", {"patient": f"bridge:{patient_id}"},
         page=f"/inbox/{site.document_id}")
    page = _text(client.get(f"/inbox/{site.document_id}"))
    assert (f'Classé dans le dossier de <a href="/patients/bridge:{patient_id}">MOREAU '
            f"Hélène</a>") in page
    patient_page = _text(client.get(f"/patients/bridge:{patient_id}"))
    assert f'data-document="{site.document_id}"' in patient_page


def test_create_patient_with_a_strong_match_needs_a_second_confirmation(site):
    client = _client(site)
    url = f"/inbox/{site.document_id}/new-patient"
    first = post(client, url, {"source": "bridge"}, page=f"/inbox/{site.document_id}")
    assert first.status_code == 302 and "confirm_create=bridge" in first.headers["Location"]
    with site.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 0
        assert db.session.get(InboxDocument, site.document_id).state == "new"
    page = _text(client.get(first.headers["Location"]))
    assert "Un patient existant correspond fortement" in page
    assert 'data-strong-match="clinic:1"' in page and "DUPONT Jeanne (12/03/1961)" in page
    # a stale confirmation (naming other matches) is not enough
    again = post(client, url, {"source": "bridge", "confirm_duplicate": "clinic:2"},
                 page=f"/inbox/{site.document_id}")
    assert "confirm_create" in again.headers["Location"]
    confirmed = post(client, url, {"source": "bridge", "confirm_duplicate": "clinic:1"},
                     page=f"/inbox/{site.document_id}")
    assert confirmed.status_code == 302 and "confirm_create" not in confirmed.headers["Location"]
    with site.app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 1
        document = db.session.get(InboxDocument, site.document_id)
        assert document.state == "filed" and document.filed_patient_ref.startswith("bridge:")
        assert db.session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "patient.create-despite-match")).all() == ["matching clinic:1"]


def test_create_patient_without_a_strong_match_files_at_once(site):
    site.clinic.people.clear()
    client = _client(site)
    response = post(client, f"/inbox/{site.document_id}/new-patient", {"source": "bridge"},
                    page=f"/inbox/{site.document_id}")
    assert response.status_code == 302 and "confirm_create" not in response.headers["Location"]
    with site.app.app_context():
        patient = db.session.scalars(select(Patient)).one()
        assert (patient.last_name, patient.first_name, patient.nir) == (
            "DUPONT", "Jeanne", "2610369123456")
        assert db.session.get(InboxDocument, site.document_id).filed_patient_ref == \
            f"bridge:{patient.id}"


def test_another_users_document_is_404_for_candidates_and_filing(site):
    carol = _client(site, "carol")
    assert carol.get(f"/inbox/{site.document_id}").status_code == 404
    refused = post(carol, f"/inbox/{site.document_id}/file", {"patient": "clinic:1"},
                   page="/inbox/")
    assert refused.status_code == 404
    assert site.clinic.calls == []


def test_compose_picker_searches_every_source_and_creates_a_patient(site):
    client = _client(site)
    page = _text(client.get("/send/compose?q=dupont"))
    assert 'data-found="clinic:1"' in page and 'data-found="clinic:2"' in page
    chosen = _text(client.get("/send/compose?patient=clinic:1"))
    assert 'id="patient-identity"' in chosen and "DUPONT Jeanne" in chosen
    assert client.get("/send/compose?patient=clinic:99").status_code == 404
    bad = post(client, "/patients/new", {"source": "bridge", "last_name": "",
                                         "birth_date": "31/02/1990", "then": "compose"},
               page="/send/compose")
    assert bad.status_code == 400
    assert "Saisissez le nom du patient." in _text(bad)
    assert "jj/mm/aaaa" in _text(bad)
    made = post(client, "/patients/new", {
        "source": "bridge", "last_name": "Lefèvre", "first_name": "Anaïs",
        "birth_date": "02/05/1990", "sex": "F", "then": "compose"}, page="/send/compose")
    assert made.status_code == 302
    assert re.search(r"/send/compose\?patient=bridge:\d+$", made.headers["Location"])
    page = _text(client.get(made.headers["Location"]))
    assert "LEFÈVRE Anaïs" in page and "02/05/1990" in page
    refused = post(client, "/patients/new", {"source": "clinic", "last_name": "X"},
                   page="/patients/new")
    assert refused.status_code == 400 and "Choisissez où créer le patient." in _text(refused)


def test_patients_pages_search_show_and_refuse_unknown_patients(site):
    _bridge_patient(site.app, last_name="DUPONT-ÉTIENNE", first_name="Hélène")
    client = _client(site)
    page = _text(client.get("/patients/?q=Etienne"))
    assert 'data-found="bridge:1"' in page and 'data-found="clinic' not in page
    assert "Patients du bridge" in page
    assert client.get("/patients/bridge:1").status_code == 200
    for missing in ("bridge:999", "nowhere:1", "not-a-ref"):
        assert client.get(f"/patients/{missing}").status_code == 404
    site.clinic.broken = True
    page = _text(client.get("/patients/?q=dupont"))
    assert "Une source de patients n'a pas répondu" in page and 'data-found="bridge:1"' in page


def test_patients_command_line_add_search_show(site):
    runner = site.app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["bridge", "patients", *args])

    added = run("add", "--user", str(site.bob), "--last-name", "Durand",
                "--first-name", "Élise", "--birth-date", "01/02/1980", "--sex", "F")
    assert added.exit_code == 0, added.output
    assert added.output.startswith("Patient bridge:1 created: DURAND Élise (01/02/1980)")
    bad = run("add", "--user", str(site.bob), "--last-name", "X", "--birth-date", "1980-02-01")
    assert bad.exit_code == 1 and "--birth-date: Enter the birth date as dd/mm/yyyy" in bad.output
    refused = run("add", "--user", str(site.bob), "--source", "clinic", "--last-name", "X")
    assert refused.exit_code == 1 and "cannot be created in Dossiers de la clinique" in \
        refused.output
    found = run("search", "elise")
    assert found.exit_code == 0
    assert found.output.splitlines() == [
        "bridge:1  DURAND Élise (01/02/1980)  [Patients du bridge]"]
    assert "clinic:1  DUPONT Jeanne (12/03/1961)" in run("search", "dupont", "jeanne").output
    shown = run("show", "bridge:1")
    assert shown.exit_code == 0 and "0 filed document(s)" in shown.output
    assert run("show", "bridge:42").exit_code == 1


def test_a_source_that_is_down_gives_messages_never_a_crash(site):
    site.clinic.down = True
    client = _client(site)
    response = post(client, f"/inbox/{site.document_id}/file", {"patient": "clinic:1"},
                    page=f"/inbox/{site.document_id}")
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert "Le document n'a pas pu être classé" in page
    assert "Dossiers de la clinique did not answer (connection refused by clinic-db:5432)" in page
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).state == "new"
    compose = client.get("/send/compose?patient=clinic:1")
    assert compose.status_code == 200 and 'id="choose-patient"' in _text(compose)
    assert "connection refused by clinic-db:5432" in _text(compose)
