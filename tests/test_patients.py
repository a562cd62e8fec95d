"""Patients through providers: the registry, host-side scoring, filing only into the chosen
source, once per document (retries, double clicks, stale claims), search across sources."""

from __future__ import annotations

import datetime as dt

import pytest
from patient_providers import clinic_world as make_clinic_world
from sqlalchemy import select, update

from medshake_bridge import patients
from medshake_bridge.api import NewPatient, PatientRef, hookimpl
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError, PatientError, PluginLoadError
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.models.patients import FiledDocument


@pytest.fixture
def clinic_world(make_app, tmp_path, monkeypatch):
    """Bob's mailbox with one collected lab report, and a second source of patients."""
    return make_clinic_world(make_app, tmp_path, monkeypatch)


def _bob() -> User:
    return db.session.scalars(select(User).where(User.login == "bob")).one()


def _bridge_patient(**fields) -> PatientRef:
    values = {"last_name": "DUPONT", "first_name": "Jeanne", "birth_date": dt.date(1961, 3, 12)}
    values.update(fields)
    return patients.create_patient("bridge", NewPatient(**values), user=_bob()).ref


class Duplicate:
    def __init__(self, source):
        self.source = source

    @hookimpl
    def medshake_patient_providers(self, app):
        from patient_providers import ClinicPatients

        provider = ClinicPatients()
        provider.source = self.source
        return [provider]


def test_every_app_has_the_bridge_store_and_plugins_add_sources(clinic_world):
    with clinic_world.app.app_context():
        providers = patients.patient_providers()
        assert {"bridge", "clinic"} <= set(providers)
        assert patients.provider_for(PatientRef("clinic", "9")) is clinic_world.clinic
        assert patients.provider_for("bridge:1").can_create
        with pytest.raises(PatientError, match="no patient provider for the source 'ehr'"):
            patients.provider_for("ehr:1")


def test_two_providers_claiming_one_source_stop_the_app_at_start(make_app):
    with pytest.raises(ConfigurationError, match="two patient providers claim the source "
                                                 "'bridge'") as caught:
        make_app(MEDSHAKE_BRIDGE_PLUGINS=[Duplicate("bridge")])
    assert "standalone_patients" in str(caught.value)
    assert "MEDSHAKE_BRIDGE_DISABLED_PLUGINS" in caught.value.fix


def test_a_provider_missing_part_of_the_contract_stops_the_app(make_app):
    class Half:
        source, label = "half", "Half"

        def search(self, query, *, limit):
            return []

    class HalfPlugin:
        @hookimpl
        def medshake_patient_providers(self, app):
            return [Half()]

    with pytest.raises(PluginLoadError, match="lacks get, candidates, create, "
                                              "file_document, can_create, can_file"):
        make_app(MEDSHAKE_BRIDGE_PLUGINS=[HalfPlugin()])
    # not strict: the plugin is recorded as failed (system page, Extensions) and offers nothing
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[HalfPlugin()], MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    with app.app_context():
        from medshake_bridge.extension import bridge_state

        assert [source for source in patients.patient_providers()
                if source != "medshakeehr"] == ["bridge"]
        failed = [r for r in bridge_state().plugins.values() if r.status == "failed"]
        assert len(failed) == 1 and "patient providers failed" in failed[0].error


def test_candidates_come_from_every_source_and_the_host_scores_them(clinic_world):
    with clinic_world.app.test_request_context():
        bob = _bob()
        same = _bridge_patient()
        _bridge_patient(first_name="Marc", birth_date=dt.date(1950, 1, 1))
        found = patients.candidates_for_document(clinic_world.document_id, user=bob)
        # the clinic offered all three of its patients; DUPONT Marc (one criterion) and
        # MARTIN Paul (birth date only) are not proposed, whatever the provider said
        assert [str(c.ref) for c in found] == [str(same), "clinic:1"] or \
            [str(c.ref) for c in found] == ["clinic:1", str(same)]
        by_ref = {c.ref: c for c in found}
        assert by_ref[PatientRef("clinic", "1")].source_label == "Dossiers de la clinique"
        assert by_ref[PatientRef("clinic", "1")].url == "/clinic/patients/1"
        assert set(by_ref[same].reasons) >= {"last_name", "first_name", "birth_date"}
        assert all(c.strong for c in found)


def test_filing_goes_only_to_the_provider_of_the_chosen_source(clinic_world):
    with clinic_world.app.test_request_context():
        bob = _bob()
        bridge_one = _bridge_patient()
        assert bridge_one == PatientRef("bridge", "1")  # bridge:1 and clinic:1 both exist
        record = patients.file_document(clinic_world.document_id, "clinic:1", user=bob)
        assert record.patient == PatientRef("clinic", "1") and record.created
        assert clinic_world.clinic.calls == [(f"bridge-document:{clinic_world.document_id}",
                                              "1")]
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 0
        document = db.session.get(InboxDocument, clinic_world.document_id)
        assert (document.state, document.filed_patient_ref, document.filed_patient_name,
                document.filed_patient_sex, document.filed_record, document.filed_url) == (
            "filed", "clinic:1", "DUPONT Jeanne", "F", "R1", "/clinic/patients/1#R1")
        # filing again (another patient, another source) answers the first filing
        again = patients.file_document(clinic_world.document_id, bridge_one, user=bob)
        assert again.patient == PatientRef("clinic", "1") and not again.created
        assert db.session.scalar(select(db.func.count()).select_from(FiledDocument)) == 0
        events = db.session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "inbox.file")).all()
        assert events == ["patient clinic:1"]


def test_a_retry_after_a_lost_answer_files_once(clinic_world):
    clinic = clinic_world.clinic
    with clinic_world.app.test_request_context():
        bob = _bob()
        clinic.fail_after_filing = True
        with pytest.raises(PatientError, match="answer was lost"):
            patients.file_document(clinic_world.document_id, "clinic:1", user=bob)
        document = db.session.get(InboxDocument, clinic_world.document_id)
        assert (document.state, document.filing_claim) == ("new", "")
        record = patients.file_document(clinic_world.document_id, "clinic:1", user=bob)
        key = f"bridge-document:{clinic_world.document_id}"
        assert clinic.calls == [(key, "1"), (key, "1")]  # the same key both times
        assert list(clinic.filed) == [key] and record.record_id == "R1"
        failed = db.session.scalars(select(AuditEvent.outcome).where(
            AuditEvent.action == "inbox.file").order_by(AuditEvent.id)).all()
        assert failed == ["failed", "ok"]


def test_a_provider_answering_for_another_patient_is_refused(clinic_world):
    clinic_world.clinic.wrong_patient = True
    with clinic_world.app.test_request_context():
        with pytest.raises(PatientError, match="answered .* for patient clinic:1"):
            patients.file_document(clinic_world.document_id, "clinic:1", user=_bob())
        assert db.session.get(InboxDocument, clinic_world.document_id).state == "new"


@pytest.mark.parametrize("hours", [1, None])
def test_a_claim_left_by_a_dead_process_is_taken_over(clinic_world, hours):
    """A claim older than ten minutes, or one without a time (left before migration 0012)."""
    with clinic_world.app.test_request_context():
        stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours) if hours else None
        db.session.execute(update(InboxDocument).values(
            state="filing", filing_claim="dead", filing_claimed_at=stale))
        db.session.commit()
        record = patients.file_document(clinic_world.document_id, "clinic:1", user=_bob())
        assert record.created
        document = db.session.get(InboxDocument, clinic_world.document_id)
        assert (document.state, document.filing_claim) == ("filed", "")


def test_a_fresh_claim_makes_a_second_request_wait_then_give_up(clinic_world, monkeypatch):
    from medshake_bridge.patients import filing

    monkeypatch.setattr(filing, "WAIT_FOR_OTHER", 0.3)
    with clinic_world.app.test_request_context():
        db.session.execute(update(InboxDocument).values(
            state="filing", filing_claim="alive", filing_claimed_at=dt.datetime.now(dt.UTC)))
        db.session.commit()
        with pytest.raises(filing.FilingError, match="another request is still filing"):
            patients.file_document(clinic_world.document_id, "clinic:1", user=_bob())
        assert clinic_world.clinic.calls == []


def test_a_removed_document_cannot_be_filed(clinic_world):
    from medshake_bridge.inbox import service

    with clinic_world.app.test_request_context():
        service.remove_document(_bob(), clinic_world.document_id)
        with pytest.raises(patients.FilingError, match="removed"):
            patients.file_document(clinic_world.document_id, "clinic:1", user=_bob())
        assert clinic_world.clinic.calls == []


def test_search_asks_every_source_and_names_one_that_failed(clinic_world):
    with clinic_world.app.test_request_context():
        bob = _bob()
        _bridge_patient(first_name="Hélène", last_name="DUPONT-ÉTIENNE")
        found = patients.search_patients("dupont", user=bob)
        assert [str(p.ref) for p in found] == ["clinic:1", "clinic:2", "bridge:1"]
        assert patients.search_patients("bridge:1", user=bob)[0].first_name == "Hélène"
        clinic_world.clinic.broken = True
        found = patients.search_patients("dupont", user=bob)
        assert [str(p.ref) for p in found] == ["bridge:1"]
        assert patients.provider_problems() == [
            "Dossiers de la clinique: the clinic's server does not answer (try again later)"]


@pytest.mark.parametrize("query", ["helene", "HÉLÈNE", "etienne", "Dupont Hélène",
                                   "hélène dupont", "12/03/1961", "dupont 12/03/1961",
                                   "jeanne", "Jeanne"])
def test_bridge_search_matches_any_word_without_accents_or_case(app, query):
    with app.test_request_context():
        from medshake_bridge.users import create_user

        user = create_user("ann", "password for tests", role="practitioner")
        patients.create_patient("bridge", NewPatient(
            last_name="DUPONT-ÉTIENNE", first_name="Hélène Jeanne",
            birth_date=dt.date(1961, 3, 12)), user=user)
        patients.create_patient("bridge", NewPatient(
            last_name="MARTIN", first_name="Paul", birth_date=dt.date(1970, 1, 2)), user=user)
        found = patients.search_patients(query, user=user)
        assert [p.last_name for p in found] == ["DUPONT-ÉTIENNE"]
        assert patients.search_patients("dupont martin", user=user) == []
        assert patients.search_patients("%", user=user) == []
        assert patients.search_patients("01/01/1900", user=user) == []


def test_create_only_where_the_provider_allows_and_audit_it(clinic_world):
    with clinic_world.app.test_request_context():
        bob = _bob()
        with pytest.raises(PatientError, match="cannot be created in Dossiers de la clinique"):
            patients.create_patient("clinic", NewPatient(last_name="X"), user=bob)
        with pytest.raises(PatientError, match="needs a last name"):
            patients.create_patient("bridge", NewPatient(last_name=" "), user=bob)
        created = patients.create_patient("bridge", NewPatient(last_name="NOUVEAU"), user=bob)
        assert patients.get_patient(created.ref) == created
        assert patients.get_patient("bridge:999") is None
        assert db.session.scalars(select(AuditEvent.target).where(
            AuditEvent.action == "patient.create")).all() == [str(created.ref)]


def test_a_common_name_does_not_push_the_right_person_past_the_cap(app):
    """600 other DUPONTs were created first; the one born on the right day is still proposed."""
    from sqlalchemy import insert

    from medshake_bridge.hprim import HprimHeader
    from medshake_bridge.models.patients import Patient
    from medshake_bridge.patients.lookup import rank_summaries

    with app.test_request_context():
        db.session.execute(insert(Patient), [
            {"last_name": "DUPONT", "first_name": f"Autre{i}", "search_key": f" dupont autre{i} ",
             "birth_date": dt.date(1950, 1, 1) + dt.timedelta(days=i),
             "created_at": dt.datetime.now(dt.UTC)} for i in range(600)])
        db.session.add(Patient(last_name="DUPONT", first_name="Jeanne",
                               birth_date=dt.date(1961, 3, 12)))
        db.session.commit()
        identity = HprimHeader(last_name="DUPONT", first_name="Jeanne",
                               birth_date=dt.date(1961, 3, 12))
        offered = patients.provider_for("bridge:1").candidates(identity, limit=5)
        ranked = rank_summaries(identity, [(s, "bridge") for s in offered], limit=5)
        assert ranked[0].display_name == "DUPONT Jeanne (12/03/1961)"
        assert ranked[0].score == 3


def test_the_system_checks_list_the_patient_sources(clinic_world, make_app):
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.patients.registry import source_checks

    with clinic_world.app.app_context():
        (check,) = source_checks(bridge_state())
        assert (check.name, check.ok, check.detail) == (
            "Patient sources", True,
            "bridge (Patients du bridge): create, file; medshakeehr (MedShakeEHR): file; "
            "clinic (Dossiers de la clinique): file")
    alone = make_app(MEDSHAKE_BRIDGE_STANDALONE_PATIENTS=False,
                     MEDSHAKE_BRIDGE_DISABLED_PLUGINS=["medshakeehr"])
    with alone.app_context():
        (check,) = source_checks(bridge_state())
        assert (check.ok, check.detail) == (False, "none")
        assert "cannot be filed anywhere" in check.fix
