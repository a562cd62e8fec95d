"""Identity in a mail subject (subjects travel unencrypted: DOMAIN §1)."""

from __future__ import annotations

import datetime as dt

import pytest

from medshake_bridge.hprim import PatientIdentity, identity_in_subject, nir_key, parse_header

NIR = "2850575123456"
IDENTITY = PatientIdentity(
    last_name="Testard",
    birth_name="Lefèvre",
    first_name="Élodie",
    birth_date=dt.date(1985, 5, 7),
    nir=f"{NIR} {nir_key(NIR)}",
)


def test_default_subject_is_clean() -> None:
    assert identity_in_subject("Document concernant votre patient", IDENTITY) == []


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Résultats TESTARD", ["last_name"]),
        ("résultats de testard.", ["last_name"]),
        ("Bilan Mme LEFEVRE", ["birth_name"]),
        ("Compte rendu elodie", ["first_name"]),
        ("CR Testard Élodie", ["last_name", "first_name"]),
        ("Patiente née le 07/05/1985", ["birth_date"]),
        ("née le 7/5/85", ["birth_date"]),
        ("ddn 07-05-1985", ["birth_date"]),
        ("ddn 07.05.1985", ["birth_date"]),
        ("ddn 1985-05-07", ["birth_date"]),
        ("ddn 07051985", ["birth_date"]),
        ("ddn 19850507", ["birth_date"]),
        ("née le 7 mai 1985", ["birth_date"]),
        ("NSS 2 85 05 75 123 456", ["nir"]),
        (f"NIR {NIR}{nir_key(NIR)}", ["nir"]),
    ],
)
def test_identity_items_are_found(subject: str, expected: list[str]) -> None:
    assert identity_in_subject(subject, IDENTITY) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Testardise et compagnie",  # the name inside a longer word
        "Résultats du 07/05/2024",  # another date
        "Dossier 128505751234567",  # digits around the NIR
        "Rendez-vous du 7 mai",  # day and month only
    ],
)
def test_near_misses_are_not_reported(subject: str) -> None:
    assert identity_in_subject(subject, IDENTITY) == []


def test_short_name_inside_a_word_does_not_trigger_but_alone_does() -> None:
    identity = PatientIdentity(last_name="Li", birth_date=dt.date(1990, 1, 1))
    assert identity_in_subject("Courrier de Lille", identity) == []
    assert identity_in_subject("Courrier Mme LI", identity) == ["last_name"]


def test_compound_names_match_with_or_without_hyphen() -> None:
    identity = PatientIdentity(
        last_name="De La Fontaine", first_name="Jean-Pierre", birth_date=dt.date(1990, 1, 1)
    )
    assert identity_in_subject("DE LA FONTAINE jean pierre", identity) == [
        "last_name",
        "first_name",
    ]
    assert identity_in_subject("1er janvier 1990", identity) == ["birth_date"]


def test_received_header_can_be_checked_too() -> None:
    header = parse_header(["", "TESTARD", "Élodie", "", "", "", "07/05/1985"])
    assert identity_in_subject("Re: TESTARD 07/05/1985", header) == ["last_name", "birth_date"]


def test_a_one_letter_name_is_too_short_to_be_looked_for() -> None:
    # a one-letter first name (an initial) would block every subject with a lone "a" or "y";
    # two letters are enough to be looked for (see "Li" above)
    identity = PatientIdentity(last_name="Testard", first_name="Y", birth_date=dt.date(1990, 1, 1))
    assert identity_in_subject("Bilan de type Y", identity) == []
    assert identity_in_subject("Bilan de type Yo", PatientIdentity(
        last_name="Testard", first_name="Yo", birth_date=dt.date(1990, 1, 1))) == ["first_name"]


def test_first_of_the_month_is_only_looked_for_when_born_on_the_first() -> None:
    # "1er" is the French spelling of the first day only: the 12 March patient's subject
    # "1er mars 1950" names another date
    born_12th = PatientIdentity(last_name="Testard", birth_date=dt.date(1950, 3, 12))
    assert identity_in_subject("RDV du 1er mars 1950", born_12th) == []
    assert identity_in_subject("RDV du 12 mars 1950", born_12th) == ["birth_date"]
    born_1st = PatientIdentity(last_name="Testard", birth_date=dt.date(1950, 3, 1))
    assert identity_in_subject("RDV du 1er mars 1950", born_1st) == ["birth_date"]
