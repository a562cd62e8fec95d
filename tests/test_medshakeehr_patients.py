"""The ``medshakeehr`` patient provider on a real MariaDB: search, get, HPRIM candidates."""

from __future__ import annotations

import datetime as dt

import pytest
from medshakeehr_world import Ehr

from medshake_bridge.api import PatientProvider, PatientRef
from medshake_bridge.hprim import parse_nir
from medshake_bridge.hprim.header import HprimHeader

pytestmark = pytest.mark.real_component("mariadb")


@pytest.fixture
def provider(ehr_app):
    from medshake_medshakeehr.provider import MedShakeEhrProvider

    with ehr_app.app_context():
        yield MedShakeEhrProvider()


def _ids(summaries):
    return [s.ref.id for s in summaries]


def test_it_is_a_patient_provider_offered_by_the_hook(ehr_app, provider):
    from medshake_bridge.extension import bridge_state

    assert isinstance(provider, PatientProvider)
    offered = bridge_state(ehr_app).call_list_hook("medshake_patient_providers", app=ehr_app)
    assert [p.source for p in offered if p.source == "medshakeehr"] == ["medshakeehr"]


@pytest.mark.parametrize("query", ["helene", "HÉLÈNE", "dupont hel", "hélène dupont", "Dupônt",
                                   "pont lène"])
def test_search_is_accent_and_case_insensitive_in_any_order(provider, query):
    assert "6" in _ids(provider.search(query, limit=20))


def test_search_finds_people_without_a_first_name(provider):
    """MedShakeEHR's own search misses them (CONCAT with NULL)."""
    found = provider.search("nguy", limit=20)
    assert _ids(found) == ["7"]
    assert found[0].first_name == "" and found[0].last_name == "NGUYEN"


def test_search_never_offers_deleted_people(provider):
    assert "8" not in _ids(provider.search("dupont", limit=20))
    assert provider.get("8") is None


def test_search_by_usual_or_birth_name_and_by_id(provider):
    assert _ids(provider.search("martin jeanne", limit=20)) == ["4"]
    assert "4" in _ids(provider.search("4", limit=20))


def test_search_treats_wildcards_as_text(provider):
    assert provider.search("%", limit=20) == []
    assert provider.search("_", limit=20) == []
    assert provider.candidates(HprimHeader(last_name="DUP%"), limit=5) == []
    assert provider.candidates(HprimHeader(last_name="DUPON_"), limit=5) == []


def test_get_returns_the_current_identity(provider):
    jeanne = provider.get("4")
    assert jeanne.ref == PatientRef("medshakeehr", "4")
    assert (jeanne.last_name, jeanne.birth_name, jeanne.first_name) == ("MARTIN", "DUPONT",
                                                                        "Jeanne")
    assert jeanne.birth_date == dt.date(1980, 2, 1)
    assert jeanne.city == "PARIS"  # the current value, not the outdated LYON
    assert jeanne.nir == "280027512345678" and jeanne.sex == "F"
    assert jeanne.url == "http://ehr.test/patient/4/"
    assert provider.get("999") is None and provider.get("abc") is None


def test_twins_are_both_searchable_and_the_birth_date_tells_them_apart(provider):
    assert sorted(_ids(provider.search("leroy camille", limit=20))) == ["10", "9"]
    header = HprimHeader(last_name="LEROY", first_name="Camille",
                         birth_date=dt.date(2001, 5, 5))
    found = provider.candidates(header, limit=5)
    assert _ids(found)[0] == "10"
    assert set(_ids(found)) == {"9", "10"}


def test_candidates_for_helene_put_her_first_and_leave_the_deleted_record_out(provider):
    header = HprimHeader(last_name="DUPONT", first_name="HELENE",
                         birth_date=dt.date(1970, 3, 15),
                         nir=parse_nir("2700375123000 11"), postcode="75011")
    found = provider.candidates(header, limit=5)
    assert _ids(found)[0] == "6"
    assert "8" not in _ids(found)


def test_deleted_records_are_also_refused_when_the_type_changes(provider, ehr: Ehr):
    ehr.execute("UPDATE people SET type='deleted' WHERE id=6")
    assert provider.get("6") is None
    header = HprimHeader(last_name="DUPONT", first_name="Hélène",
                         birth_date=dt.date(1970, 3, 15))
    assert "6" not in _ids(provider.candidates(header, limit=5))


def test_an_unconfigured_connector_has_no_patients_and_no_error(app):
    from medshake_medshakeehr.provider import MedShakeEhrProvider

    with app.app_context():
        provider = MedShakeEhrProvider()
        assert provider.search("dupont", limit=5) == []
        assert provider.get("4") is None
        assert provider.candidates(HprimHeader(last_name="DUPONT"), limit=5) == []
