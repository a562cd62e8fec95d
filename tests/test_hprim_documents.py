"""Whole documents and messages: header detection, body, lab results, several documents."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medshake_bridge.hprim import parse_document, parse_message_text
from medshake_bridge.hprim.documents import INTERNAL_ERROR
from medshake_bridge.textdecode import decode_bytes

DATA = Path(__file__).parent / "data" / "hprim"

HEADER = "\n".join(
    [
        "L1001",
        "TESTARD",
        "Élodie",
        "",
        "",
        "69003 LYON",
        "17/05/1985",
        "",
        "R-1",
        "02/03/2024",
        "LABOFICTI1 Laboratoire Fictif",
        "DUPONTJEAN jean.dupont",
    ]
)


def _sample(name: str) -> str:
    return decode_bytes((DATA / name).read_bytes()).text


def test_header_then_blank_line_then_body() -> None:
    document = parse_document(HEADER + "\n\nLigne 1\nLigne 2\n\n")
    assert document.header is not None
    assert document.header.line_count == 13
    assert document.body == "Ligne 1\nLigne 2"
    assert document.score.valid


def test_twelve_line_header_body_starts_on_line_13() -> None:
    document = parse_document(HEADER + "\nLigne 13\n")
    assert document.header is not None
    assert document.header.line_count == 12
    assert document.body == "Ligne 13"


def test_leading_blank_lines_before_header_are_skipped() -> None:
    document = parse_document("\n\n" + HEADER + "\n\nCorps")
    assert document.header is not None
    assert document.header.last_name == "TESTARD"
    assert document.body == "Corps"


def test_empty_patient_code_is_read_in_place() -> None:
    lines = HEADER.split("\n")
    lines[0] = ""
    document = parse_document("\n".join(lines) + "\n\nCorps")
    assert document.header is not None
    assert document.header.patient_code == ""
    assert document.header.last_name == "TESTARD"


def test_lab_section_is_parsed_and_left_out_of_the_body() -> None:
    text = (
        HEADER
        + "\n\nGlycémie.\n****LAB****\nTEX|BIOCHIMIE\nRES|Glucose|GLU|N|1,32|g/l|0,70|1,10||F\n"
    )
    document = parse_document(text)
    assert document.body == "Glycémie."
    assert [result.label for result in document.results] == ["Glucose"]
    assert document.tex_lines == ("BIOCHIMIE",)
    assert document.has_abnormal_results is True
    in_range = parse_document(text.replace("|1,32|", "|0,95|"))
    assert [result.abnormal for result in in_range.results] == [False]
    assert in_range.has_abnormal_results is False


def test_res_lines_outside_a_lab_section_are_text() -> None:
    document = parse_document(HEADER + "\n\nRES|Glucose|GLU|N|1,32\n")
    assert document.results == ()
    assert "RES|Glucose" in document.body


def test_finlab_closes_the_coded_section() -> None:
    text = HEADER + "\n\n****LAB****\nRES|K|K|N|4\n****FINLAB****\nConclusion."
    document = parse_document(text)
    assert [result.label for result in document.results] == ["K"]
    assert document.body == "Conclusion."


def test_lab_sample_file() -> None:
    (document,) = parse_message_text(_sample("lab_cp1252_crlf.hpr"))
    assert document.header is not None
    header = document.header
    assert (header.last_name, header.first_name) == ("TESTARD", "Élodie")
    assert header.line_count == 13
    assert header.sex == "F"
    assert header.nir is not None and header.nir.key_valid
    assert (header.sender_code, header.sender_name) == (
        "LABOFICTI",
        "Laboratoire Fictif des Brotteaux",
    )
    labels = [result.label for result in document.results]
    assert labels == [
        "Hémoglobine",
        "Leucocytes",
        "Plaquettes",
        "Sérologie toxoplasmose",
        "Potassium",
    ]
    abnormal = {result.label for result in document.results if result.abnormal}
    assert abnormal == {"Hémoglobine", "Plaquettes", "Potassium"}
    assert document.tex_lines == ("HÉMATOLOGIE", "Contrôle à prévoir.")
    assert document.body.startswith("Compte rendu d'analyses")


def test_macroman_sample_has_twelve_line_header_and_short_year() -> None:
    (document,) = parse_message_text(_sample("letter_macroman_cr.txt"))
    assert document.header is not None
    assert document.header.line_count == 12
    assert document.header.first_name == "Noël"
    assert document.header.birth_date == dt.date(1972, 2, 5)
    assert document.header.exam_date == dt.date(2024, 2, 28)
    assert document.header.sex == "M"
    assert document.body.startswith("Cher confrère,")


def test_utf16_sample_without_nir_nor_patient_code() -> None:
    (document,) = parse_message_text(_sample("letter_utf16le_bom.txt"))
    assert document.header is not None
    assert document.header.nir is None
    assert document.header.birth_date == dt.date(1950, 11, 30)
    assert document.header.first_name == "Françoise"
    assert document.body.startswith("Échographie")


def test_utf8_sample_exam_date_with_time() -> None:
    (document,) = parse_message_text(_sample("letter_utf8_lf.txt"))
    assert document.header is not None
    assert document.header.last_name == "ESSAI-DÉMO"
    assert document.header.exam_date == dt.date(2024, 4, 4)
    assert document.header.exam_date_raw == "04/04/2024 10:30"


def test_two_documents_in_one_message() -> None:
    documents = parse_message_text(_sample("two_documents_swapped.txt"))
    assert len(documents) == 2
    assert [document.header.last_name for document in documents if document.header] == [
        "TESTARD",
        "FICTIF",
    ]
    assert [document.results[0].label for document in documents] == ["Glucose", "Cholestérol total"]
    assert [document.body for document in documents] == ["Glycémie à jeun.", "Bilan lipidique."]


def test_mssante_mail_without_header_is_kept_whole() -> None:
    text = _sample("mssante_no_header.txt")
    (document,) = parse_message_text(text)
    assert document.header is None
    assert document.score.valid is False
    assert document.body == text.rstrip()
    assert document.score.reasons


def test_empty_message_gives_one_empty_document() -> None:
    (document,) = parse_message_text("")
    assert document.header is None
    assert document.body == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_parsing_never_raises_on_arbitrary_text(text: str) -> None:
    for document in parse_message_text(text):
        assert not any(INTERNAL_ERROR in reason for reason in document.score.reasons)
        assert document.header is None or document.score.valid


_lines = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(exclude_characters="\n\r"), max_size=30),
        st.sampled_from(
            ["****LAB****", "****FIN****", "RES|a|b", "RES|", "TEX|t", "17/05/1985", ""]
        ),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_lines)
def test_parsing_never_raises_on_hprim_like_lines(lines: list[str]) -> None:
    for document in parse_message_text("\n".join(lines)):
        assert not any(INTERNAL_ERROR in reason for reason in document.score.reasons)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_decode_then_parse_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    documents = parse_message_text(decode_bytes(data).text)
    assert documents
    assert not any(INTERNAL_ERROR in reason for doc in documents for reason in doc.score.reasons)


def test_swapped_line_endings_given_straight_to_the_parser() -> None:
    text = (HEADER + "\n\nCorps\n****FIN****\n").replace("\n", "\n\r")
    (document,) = parse_message_text(text)
    assert document.header is not None
    assert document.body == "Corps"


def test_both_routing_lines_are_scored_each_for_itself() -> None:
    # line 11 laid out as code and name, line 12 a bare address: each scored on its own line
    lines = HEADER.split("\n")
    lines[11] = "jean.dupont@medical69.apicrypt.org"
    document = parse_document("\n".join([*lines, "", "Texte."]))
    assert "line 11 is a code and a name (+1)" in document.score.reasons
    assert "line 12 is not laid out as code and name (+0)" in document.score.reasons
    assert document.header is not None and document.header.sender_code == "LABOFICTI1"


def test_a_parser_bug_gives_an_invalid_document_holding_the_whole_text(monkeypatch) -> None:
    """The "never raises" safety net, with a bug injected into the parser: the text is kept
    whole as the body, with no header, no points, and the error named in the reasons."""
    import medshake_bridge.hprim.documents as documents

    def broken(text: str):
        raise RuntimeError("injected bug")

    monkeypatch.setattr(documents, "_parse", broken)
    text = HEADER + "\n\nTexte."
    document = parse_document(text)
    assert (document.header, document.body, document.text) == (None, text, text)
    assert (document.score.valid, document.score.points) == (False, 0)
    assert document.score.reasons == (f"{INTERNAL_ERROR}: RuntimeError('injected bug')",)


def test_a_splitting_bug_parses_the_whole_message_as_one_document(monkeypatch) -> None:
    import medshake_bridge.hprim.documents as documents

    def broken(text: str):
        raise RuntimeError("injected bug")

    monkeypatch.setattr(documents, "split_documents", broken)
    text = HEADER + "\n\nTexte.\n****FIN****\n" + HEADER + "\n\nAutre."
    (document,) = parse_message_text(text)
    assert document.text == text and document.header is not None
    assert document.header.last_name == "TESTARD"


def test_a_parsed_document_cannot_be_changed() -> None:
    document = parse_document(HEADER + "\n\nTexte.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.body = "autre"  # type: ignore[misc]
