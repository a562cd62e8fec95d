"""Ranking candidate patients for a received header (DOMAIN §7, patient matching)."""

from __future__ import annotations

import datetime as dt

from medshake_bridge.hprim import (
    PatientIdentity,
    PatientRecord,
    nir_key,
    parse_header,
    rank_candidates,
)

BORN = dt.date(1985, 5, 17)
NIR = "2850575123456"

HEADER = parse_header(
    [
        "L1",
        "TESTARD",
        "ÉLODIE",
        "",
        "",
        "69003 LYON",
        "17/05/1985",
        f"{NIR} {nir_key(NIR)}",
        "",
        "01/03/2024",
        "",
        "",
    ]
)


def _ids(matches: list) -> list[str]:
    return [match.patient.patient_id for match in matches]


def test_accents_case_and_hyphens_do_not_matter() -> None:
    patients = [PatientRecord(patient_id="1", last_name="Testard", first_name="Élodie")]
    header = parse_header(["", "TESTARD", "ELODIE"])
    (match,) = rank_candidates(header, patients)
    assert match.matched == ("last_name", "first_name")
    hyphen = parse_header(["", "TESTARD", "JEAN PIERRE"])
    assert rank_candidates(
        hyphen, [PatientRecord(patient_id="2", last_name="testard", first_name="Jean-Pierre")]
    )


def test_one_criterion_is_not_enough() -> None:
    patients = [
        PatientRecord(patient_id="name-only", last_name="TESTARD"),
        PatientRecord(patient_id="date-only", last_name="AUTRE", birth_date=BORN),
        PatientRecord(patient_id="nothing", last_name="AUTRE"),
    ]
    assert rank_candidates(HEADER, patients) == []


def test_every_criterion_is_reported() -> None:
    patient = PatientRecord(
        patient_id="7",
        last_name="testard",
        first_name="élodie",
        birth_date=BORN,
        nir=f"2 85 05 75 123 456 {nir_key(NIR)}",
        postcode="69003",
    )
    (match,) = rank_candidates(HEADER, [patient])
    assert match.matched == ("last_name", "first_name", "birth_date", "nir", "postcode")
    assert match.score == 5


def test_birth_name_matches_last_name() -> None:
    patient = PatientRecord(
        patient_id="3", last_name="MARTIN", birth_name="Testard", birth_date=BORN
    )
    (match,) = rank_candidates(HEADER, [patient])
    assert match.matched == ("last_name", "birth_date")


def test_married_name_written_in_the_header() -> None:
    header = parse_header(["", "MARTIN EP TESTARD", "Élodie", "", "", "", "17/05/1985"])
    patient = PatientRecord(patient_id="4", last_name="Testard", birth_date=BORN)
    (match,) = rank_candidates(header, [patient])
    assert "last_name" in match.matched


def test_best_first_then_rarer_criteria_then_input_order() -> None:
    patients = [
        PatientRecord(patient_id="names", last_name="Testard", first_name="Elodie"),
        PatientRecord(
            patient_id="three", last_name="Testard", first_name="Elodie", postcode="69003"
        ),
        PatientRecord(patient_id="nir+date", last_name="X", birth_date=BORN, nir=NIR),
        PatientRecord(patient_id="names-bis", last_name="TESTARD", first_name="élodie"),
    ]
    assert _ids(rank_candidates(HEADER, patients)) == ["three", "nir+date", "names", "names-bis"]


def test_limit() -> None:
    patients = [
        PatientRecord(patient_id=str(number), last_name="Testard", birth_date=BORN)
        for number in range(10)
    ]
    assert _ids(rank_candidates(HEADER, patients)) == ["0", "1", "2", "3", "4"]
    assert len(rank_candidates(HEADER, patients, limit=2)) == 2
    assert rank_candidates(HEADER, patients, limit=0) == []


def test_empty_fields_never_match() -> None:
    header = parse_header(["", "", "", "", "", "", ""])
    patients = [PatientRecord(patient_id="blank")]
    assert rank_candidates(header, patients) == []


def test_outgoing_identity_can_be_matched_too() -> None:
    identity = PatientIdentity(last_name="Testard", birth_name="Durand", birth_date=BORN)
    patient = PatientRecord(patient_id="5", last_name="DURAND", birth_date=BORN)
    (match,) = rank_candidates(identity, [patient])
    assert match.matched == ("last_name", "birth_date")


def test_equal_counts_are_ordered_by_rarer_criteria_then_by_position() -> None:
    """Found by mutation testing: the tie-break weights were never exercised."""
    birth_and_postcode = PatientRecord(patient_id="bd+pc", last_name="AUTRE",
                                       first_name="Zoé", birth_date=BORN, postcode="69003")
    names = PatientRecord(patient_id="ln+fn", last_name="TESTARD", first_name="Élodie",
                          postcode="75001")
    postcode_and_first_name = PatientRecord(patient_id="fn+pc", last_name="AUTRE",
                                            first_name="Élodie", postcode="69003")
    # weights: birth date 4 + postcode 1 = last name 3 + first name 2: the order given wins
    assert _ids(rank_candidates(HEADER, [birth_and_postcode, names])) == ["bd+pc", "ln+fn"]
    assert _ids(rank_candidates(HEADER, [names, birth_and_postcode])) == ["ln+fn", "bd+pc"]
    # first name 2 + postcode 1 < last name 3 + first name 2, whatever the order given
    assert _ids(rank_candidates(HEADER, [postcode_and_first_name, names])) == ["ln+fn", "fn+pc"]


def test_a_match_is_an_unchangeable_value() -> None:
    import dataclasses

    import pytest

    (match,) = rank_candidates(HEADER, [PatientRecord(patient_id="1", last_name="TESTARD",
                                                      birth_date=BORN)])
    assert match.matched == ("last_name", "birth_date")  # in the order of CRITERIA
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.matched = ()  # type: ignore[misc]
    assert {match} == {match}


def test_a_different_nir_never_matches_and_no_limit_means_nothing() -> None:
    close = PatientRecord(patient_id="close", birth_date=BORN, nir="2850575123457")
    assert rank_candidates(HEADER, [close]) == []  # the birth date alone is not enough
    two = [PatientRecord(patient_id=str(n), last_name="TESTARD", birth_date=BORN)
           for n in range(2)]
    assert _ids(rank_candidates(HEADER, two)) == ["0", "1"]
    assert rank_candidates(HEADER, two, limit=0) == []
    assert rank_candidates(HEADER, two, limit=-1) == []


def test_limit_one_birth_name_alone_and_records_by_keyword_only() -> None:
    import pytest

    two = [PatientRecord(patient_id=str(n), last_name="TESTARD", birth_date=BORN)
           for n in range(2)]
    assert _ids(rank_candidates(HEADER, two, limit=1)) == ["0"]
    only_birth_name = PatientIdentity(last_name="", birth_name="Testard", birth_date=BORN)
    assert _ids(rank_candidates(only_birth_name, two)) == ["0", "1"]
    with pytest.raises(TypeError):
        PatientRecord("1")  # type: ignore[misc] - fields are named, never positional
