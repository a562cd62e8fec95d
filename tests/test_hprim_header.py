"""Header fields (DOMAIN §7): dates, NIR, positional lines, and the validity score."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medshake_bridge.hprim import (
    HprimHeader,
    Nir,
    nir_key,
    parse_date,
    parse_header,
    parse_nir,
    score_header,
    split_code_line,
)
from medshake_bridge.hprim.score import plausible_name

TODAY = dt.date(2024, 6, 1)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("17/05/1985", dt.date(1985, 5, 17)),
        ("7/5/1985", dt.date(1985, 5, 7)),
        ("17.05.1985", dt.date(1985, 5, 17)),
        ("17-05-1985", dt.date(1985, 5, 17)),
        ("17/05/85", dt.date(1985, 5, 17)),
        ("17/05/05", dt.date(2005, 5, 17)),
        ("1985-05-17", dt.date(1985, 5, 17)),
        ("19850517", dt.date(1985, 5, 17)),
        ("17051985", dt.date(1985, 5, 17)),
        ("19851217", dt.date(1985, 12, 17)),  # two-digit months and days in compact forms
        ("17121985", dt.date(1985, 12, 17)),
        ("19851217 10:30", dt.date(1985, 12, 17)),  # a compact date with its time
        ("2024-11-30T08:15:00", dt.date(2024, 11, 30)),
        ("01/03/2024 10:30", dt.date(2024, 3, 1)),
        ("01/03/2024 10h30", dt.date(2024, 3, 1)),
        ("  29/02/2000  ", dt.date(2000, 2, 29)),
    ],
)
def test_dates_in_the_spellings_seen(raw: str, expected: dt.date) -> None:
    assert parse_date(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "31/02/2020", "29/02/2023", "12/13/2020", "Lyon", "12/03", "le 12/03/2020"]
)
def test_bad_dates_are_none(raw: str) -> None:
    assert parse_date(raw, today=TODAY) is None


def test_two_digit_year_never_lands_in_the_future() -> None:
    assert parse_date("01/01/24", today=TODAY) == dt.date(2024, 1, 1)
    assert parse_date("01/01/25", today=TODAY) == dt.date(1925, 1, 1)


# --- NIR -------------------------------------------------------------------------------------


@given(st.from_regex(r"\A[12][0-9]{12}\Z"))
def test_nir_key_completes_the_number_to_a_multiple_of_97(number: str) -> None:
    key = nir_key(number)
    assert len(key) == 2
    assert 1 <= int(key) <= 97
    assert (int(number) + int(key)) % 97 == 0


def test_corsican_departments_count_as_19_and_18() -> None:
    assert nir_key("155042A123456") == nir_key("1550419123456")
    assert nir_key("155042B123456") == nir_key("1550418123456")


@pytest.mark.parametrize(
    "raw", ["2850575123456 23", "285057512345623", "2 85 05 75 123 456 23", "2.85.05.75.123.456.23"]
)
def test_nir_spellings(raw: str) -> None:
    nir = parse_nir(raw)
    assert nir == Nir("2850575123456", "23")
    assert nir.key_valid is True
    assert nir.sex == "F"


def test_nir_without_key_and_with_wrong_key() -> None:
    assert parse_nir("1720269123045") == Nir("1720269123045", None)
    assert parse_nir("1720269123045").key_valid is None
    assert parse_nir("1720269123045 70").key_valid is False
    assert parse_nir("1720269123045").sex == "M"


def test_a_nir_is_a_value_hashable_and_unchangeable() -> None:
    import dataclasses

    nir = parse_nir("2850575123456 23")
    assert {nir, parse_nir("2 85 05 75 123 456 23")} == {nir}  # usable as a key, equal by value
    with pytest.raises(dataclasses.FrozenInstanceError):
        nir.key = "00"  # type: ignore[misc]


def test_compared_identity_fields_are_values_too() -> None:
    import dataclasses

    from medshake_bridge.hprim.identity import IdentityFields

    fields = IdentityFields("DUPONT", "", "Jeanne", dt.date(1961, 3, 12), "", "69003")
    assert {fields, dataclasses.replace(fields)} == {fields}
    with pytest.raises(dataclasses.FrozenInstanceError):
        fields.last_name = "MARTIN"  # type: ignore[misc]


def test_corsican_nir_is_read() -> None:
    key = nir_key("155042A123456")
    nir = parse_nir(f"155042a123456 {key}")
    assert nir is not None
    assert nir.number == "155042A123456"
    assert nir.key_valid is True


@pytest.mark.parametrize(
    "raw", ["", "123", "28505751234567", "9850575123456", "abc", "2850575123456 2"]
)
def test_not_a_nir(raw: str) -> None:
    assert parse_nir(raw) is None


# --- lines 11 and 12 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("LABO123456 Laboratoire Central", ("LABO123456", "Laboratoire Central")),
        (".          jean.dupont", ("", "jean.dupont")),
        ("LAB01      jean.dupont  ", ("LAB01", "jean.dupont")),
        ("LAB01 Laboratoire des Tests", ("LAB01", "Laboratoire des Tests")),
        ("ABCDEFGHIJjean.dupont", ("ABCDEFGHIJ", "jean.dupont")),
        # a full-width code pushed right by a leading space is still read whole (it was cut
        # at column 10: "LAB012345" and "6 Laboratoire"), with a space or a tab after it
        (" LAB0123456 Laboratoire", ("LAB0123456", "Laboratoire")),
        (" LAB0123456\tLaboratoire", ("LAB0123456", "Laboratoire")),
        ("  LAB012345 Laboratoire", ("LAB012345", "Laboratoire")),
        ("  LAB012345", ("LAB012345", "")),  # was ("LAB01234", "5")
        ("ABCDEFGHIJKL Laboratoire", ("ABCDEFGHIJ", "KL Laboratoire")),  # a code has 10 at most
        ("LAB01", ("LAB01", "")),
        ("#LAB01     Laboratoire", ("#LAB01", "Laboratoire")),  # only "." means no code
        ("+          Laboratoire", ("+", "Laboratoire")),
        ("", ("", "")),
        ("   ", ("", "")),
    ],
)
def test_code_lines(line: str, expected: tuple[str, str]) -> None:
    assert split_code_line(line) == expected


# --- header ----------------------------------------------------------------------------------

FULL = [
    "LAB0042   ",
    "TESTARD  ",
    "Élodie",
    "12 rue de l'Exemple",
    "Bâtiment B",
    "69003 LYON",
    "17/05/1985",
    "2850575123456 23",
    "DOS-1",
    "01/03/2024",
    "LABOFICTI1 Laboratoire Fictif",
    "DUPONTJEAN jean.dupont",
]


def test_every_field_is_read() -> None:
    header = parse_header(FULL)
    assert header == HprimHeader(
        patient_code="LAB0042",
        last_name="TESTARD",
        first_name="Élodie",
        address_line1="12 rue de l'Exemple",
        address_line2="Bâtiment B",
        postcode="69003",
        city="LYON",
        birth_date=dt.date(1985, 5, 17),
        birth_date_raw="17/05/1985",
        nir=Nir("2850575123456", "23"),
        nir_raw="2850575123456 23",
        file_number="DOS-1",
        exam_date=dt.date(2024, 3, 1),
        exam_date_raw="01/03/2024",
        sender_code="LABOFICTI1",
        sender_name="Laboratoire Fictif",
        recipient_code="DUPONTJEAN",
        recipient_name="jean.dupont",
        line_count=12,
    )
    assert header.sex == "F"


def test_a_header_is_a_value_hashable_and_unchangeable() -> None:
    import dataclasses

    header = parse_header(FULL)
    assert {header, parse_header(list(FULL))} == {header}  # usable as a key, equal by value
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.last_name = "AUTRE"  # type: ignore[misc]


def test_thirteenth_blank_line_is_counted() -> None:
    assert parse_header([*FULL, ""]).line_count == 13
    assert parse_header([*FULL, "Texte"]).line_count == 12


def test_no_lines_at_all_give_an_empty_header() -> None:
    assert parse_header([]) == HprimHeader()


def test_eleven_lines_give_the_sender_without_the_recipient() -> None:
    header = parse_header(FULL[:11])
    assert (header.sender_code, header.sender_name) == ("LABOFICTI1", "Laboratoire Fictif")
    assert (header.recipient_code, header.recipient_name) == ("", "")
    assert header.line_count == 12


def test_display_name_is_last_name_then_first_name() -> None:
    assert parse_header(FULL).display_name == "TESTARD Élodie"
    assert parse_header(["X", "DUPONT"]).display_name == "DUPONT"


def test_short_text_gives_empty_fields() -> None:
    header = parse_header(["X", "DUPONT"])
    assert header.last_name == "DUPONT"
    assert header.birth_date is None
    assert header.recipient_name == ""


@pytest.mark.parametrize(
    ("line", "postcode", "city"),
    [
        ("69003 LYON", "69003", "LYON"),
        ("69003LYON", "69003", "LYON"),
        ("LYON", "", "LYON"),
        ("", "", ""),
        ("690031 LYON", "", "690031 LYON"),
    ],
)
def test_postcode_and_city(line: str, postcode: str, city: str) -> None:
    lines = list(FULL)
    lines[5] = line
    header = parse_header(lines)
    assert (header.postcode, header.city) == (postcode, city)


# --- score -----------------------------------------------------------------------------------


def _score(lines: list[str]) -> tuple[bool, int]:
    padded = lines + [""] * (12 - len(lines))
    result = score_header(parse_header(padded), routing_lines=(padded[10], padded[11]), today=TODAY)
    return result.valid, result.points


def test_full_header_is_valid() -> None:
    assert _score(FULL)[0] is True


def test_header_without_nir_is_valid() -> None:
    lines = list(FULL)
    lines[7] = ""
    assert _score(lines)[0] is True


def test_names_birth_date_and_exam_date_alone_are_enough() -> None:
    lines = ["", "TESTARD", "Élodie", "", "", "", "17/05/1985", "", "", "01/03/2024", "", ""]
    assert _score(lines)[0] is True


def test_medshake_style_header_without_exam_date_is_valid() -> None:
    lines = [
        "1234",
        "TESTARD",
        "Élodie",
        "",
        "",
        "",
        "17/05/1985",
        "",
        "1234",
        "",
        ".          jean.dupont",
        ".          marie.curie",
    ]
    assert _score(lines)[0] is True


def test_missing_birth_date_is_not_enough_without_nir() -> None:
    lines = list(FULL)
    lines[6] = ""
    lines[7] = ""
    assert _score(lines)[0] is False


def test_missing_birth_date_is_compensated_by_nir_and_exam_date() -> None:
    lines = list(FULL)
    lines[6] = ""
    assert _score(lines)[0] is True


def test_each_identity_field_counts() -> None:
    base = _score(FULL)[1]
    for index in (1, 6, 7, 9):
        lines = list(FULL)
        lines[index] = "n'importe quoi, vraiment ?"
        assert _score(lines)[1] < base, f"line {index + 1} was not scored"


LETTER = [
    "Cher confrère,",
    "",
    "Je vous remercie de m'avoir adressé Mme TESTARD Élodie, née le 17/05/1985,",
    "pour un bilan cardiologique.",
    "",
    "Électrocardiogramme : rythme sinusal régulier.",
    "Échographie : normale.",
    "",
    "Bien confraternellement,",
    "Dr Exemple",
    "Cardiologue",
    "69003 LYON",
]

MSSANTE = [
    "Bonjour,",
    "",
    "Veuillez trouver ci-joint le compte rendu de votre patiente.",
    "",
    "Cordialement",
    "Dr Exemple",
    "12/03/2024",
    "",
    "--",
    "Envoyé par messagerie sécurisée de santé",
]


@pytest.mark.parametrize("text", [LETTER, MSSANTE], ids=["letter", "mssante"])
def test_free_text_is_not_a_header(text: list[str]) -> None:
    assert _score(text)[0] is False


def test_letter_with_a_date_on_line_7_is_still_not_a_header() -> None:
    lines = [
        "Madame,",
        "",
        "Suite à votre demande,",
        "voici le résultat.",
        "",
        "",
        "12/03/2024",
        "",
        "",
        "12/03/2024",
        "",
        "",
    ]
    assert _score(lines)[0] is False


def test_a_name_and_a_date_in_the_right_places_are_not_enough_amid_free_text() -> None:
    long_line = "Suite à notre entretien téléphonique de ce matin, je vous confirme " * 2
    lines = [
        "Objet : demande d'avis spécialisé concernant une patiente",
        "Madame",
        "je vous écris au sujet de",
        long_line,
        long_line,
        long_line,
        "17/05/1985",
        "voir ci-dessous",
        "une patiente suivie depuis plusieurs années dans notre service de médecine",
        "depuis longtemps",
        long_line,
        long_line,
    ]
    valid, points = _score(lines)
    assert valid is False
    assert points < 0


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("DUPONT", True),
        ("de la Fontaine", True),
        ("D'ARTAGNAN", True),
        ("Jean-Pierre", True),
        ("O’Neil", True),
        ("ST. JOHN", True),
        ("", False),
        ("12 rue des Lilas", False),
        ("Cher confrère,", False),
        ("x" * 61, False),
        ("un deux trois quatre cinq six sept", False),
    ],
)
def test_plausible_names(name: str, ok: bool) -> None:
    assert plausible_name(name) is ok
