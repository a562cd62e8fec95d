"""Building outgoing documents (DOMAIN §6), its refusals, and the build -> parse round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medshake_bridge.errors import HprimError
from medshake_bridge.hprim import (
    HprimBuildError,
    PatientIdentity,
    build_document,
    nir_key,
    parse_message_text,
)
from medshake_bridge.hprim.markers import is_end_marker, is_lab_end_marker, is_lab_marker

IDENTITY = PatientIdentity(
    code="P42",
    last_name="TESTARD",
    first_name="Élodie",
    address_line1="12 rue de l'Exemple",
    postcode="69003",
    city="LYON",
    birth_date=dt.date(1985, 5, 17),
    nir="2850575123456",
    file_number="P42",
    exam_date=dt.date(2024, 3, 1),
)


def _build(identity: PatientIdentity = IDENTITY, **overrides: str) -> str:
    arguments = {"sender": "jean.dupont", "recipient": "marie.curie", "body": "Bonjour."}
    arguments.update(overrides)
    return build_document(identity, **arguments)


def test_layout() -> None:
    text = build_document(
        IDENTITY,
        sender="jean.dupont@medical69.apicrypt.org",
        recipient="marie.CURIE",
        body="Cher confrère,\r\nvoici le compte rendu.\r\n\r\n",
        sender_code="ABC",
    )
    assert text.split("\n") == [
        "P42",
        "TESTARD",
        "Élodie",
        "12 rue de l'Exemple",
        "",
        "69003 LYON",
        "17/05/1985",
        f"2850575123456 {nir_key('2850575123456')}",
        "P42",
        "01/03/2024",
        "ABC        jean.dupont",
        ".          marie.CURIE",
        "",
        "Cher confrère,",
        "voici le compte rendu.",
        "****FIN****",
        "****FINFICHIER****",
        "",
    ]


def test_empty_body_still_has_blank_line_and_markers() -> None:
    text = _build(body="")
    assert text.endswith("marie.curie\n\n****FIN****\n****FINFICHIER****\n")


def test_built_document_parses_back() -> None:
    (document,) = parse_message_text(_build())
    assert document.header is not None
    assert document.header.last_name == "TESTARD"
    assert document.header.nir is not None and document.header.nir.key_valid
    assert document.header.sender_name == "jean.dupont"
    assert document.body == "Bonjour."


def test_optional_fields_may_be_empty() -> None:
    minimal = PatientIdentity(last_name="Testard", birth_date=dt.date(1985, 5, 17))
    (document,) = parse_message_text(_build(minimal))
    assert document.header is not None
    assert document.header.first_name == ""
    assert document.header.exam_date is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"last_name": "TEST\nARD"}, "line break"),
        ({"first_name": "Élo\rdie"}, "line break"),
        ({"city": "LYON\u2028"}, "line break"),
        ({"address_line1": "rue\x00"}, "control character"),
        ({"address_line1": "rue\x7f"}, "control character (U+007F)"),  # DEL too
        ({"address_line1": "rue\x1f"}, "control character (U+001F)"),  # the last C0 one
        # found by the property test below (mutation baseline, issue 21): a header line that
        # is a marker would end the document early
        ({"address_line2": "***FINFICHIER***"}, "is an HPRIM marker"),
        ({"address_line1": " ****fin**** "}, "is an HPRIM marker"),
        ({"address_line1": "****LAB****"}, "is an HPRIM marker"),
        ({"last_name": ""}, "last name is empty"),
        ({"last_name": "TESTARD 2"}, "does not read as a name"),
        ({"birth_date": None}, "birth date is missing"),
        ({"postcode": "6900"}, "not 5 digits"),
        ({"postcode": "", "city": "69003 LYON"}, "starts with a postcode"),
        # glued to the name, it is still read back as the postcode (it was let through)
        ({"postcode": "", "city": "69003LYON"}, "starts with a postcode"),
        ({"postcode": "", "city": "69003"}, "starts with a postcode"),
        ({"nir": "28505751234"}, "is not a NIR"),
        ({"nir": "2850575123456 99"}, "key"),
        (
            {
                "code": "X" * 25,
                "address_line1": "a" * 100,
                "address_line2": "b" * 100,
                "file_number": "9" * 40,
                "exam_date": None,
                "nir": "",
                "first_name": "",
                "postcode": "",
            },
            "would not be recognised",
        ),
    ],
)
def test_values_that_would_break_the_format_are_refused(change: dict, needle: str) -> None:
    fields = {**IDENTITY.__dict__, **change}
    with pytest.raises(HprimBuildError) as caught:
        _build(PatientIdentity(**fields))
    assert needle in caught.value.message
    assert caught.value.fix
    assert isinstance(caught.value, HprimError)


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"sender_code": "ABCDEFGHIJK"}, "longer than 10"),
        ({"recipient": ""}, "no usable local part"),
        ({"recipient": "marie curie"}, "no usable local part"),
        ({"sender": "jean.dupont\n"}, "line break"),
        ({"body": "Texte\n****FIN****\nsuite"}, "Line 2 of the text is an HPRIM end marker"),
        ({"body": "***finfichier***\r\nTexte"}, "Line 1 of the text is an HPRIM end marker"),
        ({"body": "Un\r\nDeux\r\n  ***finfichier*** \r\n"}, "Line 3 of the text is an"),
    ],
)
def test_bad_routing_or_body_is_refused(arguments: dict[str, str], needle: str) -> None:
    with pytest.raises(HprimBuildError) as caught:
        _build(**arguments)
    assert needle in caught.value.message


def test_a_city_starting_with_more_digits_than_a_postcode_is_written_as_it_is() -> None:
    identity = PatientIdentity(**{**IDENTITY.__dict__, "postcode": "", "city": "690031 LYON"})
    (document,) = parse_message_text(_build(identity))
    assert document.header is not None
    assert (document.header.postcode, document.header.city) == ("", "690031 LYON")


def test_an_identity_takes_keywords_only() -> None:
    # positional fields would let a caller swap the last and first names unseen
    with pytest.raises(TypeError):
        PatientIdentity("TESTARD", "Élodie")  # type: ignore[misc]


def test_an_identity_is_a_value_hashable_and_unchangeable() -> None:
    import dataclasses

    assert {IDENTITY, PatientIdentity(**IDENTITY.__dict__)} == {IDENTITY}
    with pytest.raises(dataclasses.FrozenInstanceError):
        IDENTITY.last_name = "AUTRE"  # type: ignore[misc]


# --- round trip ------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzàâäçéèêëîïôöùûüÿœæ"
_word = st.text(alphabet=_LETTERS + _LETTERS.upper(), min_size=1, max_size=12)
_name = st.builds(
    lambda first, rest: first + "".join(joiner + word for joiner, word in rest),
    _word,
    st.lists(st.tuples(st.sampled_from([" ", "-", "'"]), _word), max_size=2),
)
_free = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=40).map(
    str.strip
).filter(lambda text: not (is_end_marker(text) or is_lab_marker(text)
                           or is_lab_end_marker(text)))  # refused: tested above
_code = st.from_regex(r"\A[A-Z0-9]{0,10}\Z")
_local = st.from_regex(r"\A[a-z]{1,10}\.[A-Za-z]{1,10}\Z")
_body_line = st.text(st.characters(exclude_characters="\r\n"), max_size=50).filter(
    lambda line: not (is_end_marker(line) or is_lab_marker(line) or is_lab_end_marker(line))
)


@settings(max_examples=150, deadline=None)
@given(
    identity=st.builds(
        PatientIdentity,
        last_name=_name,
        first_name=st.one_of(st.just(""), _name),
        birth_date=st.dates(dt.date(1900, 1, 1), dt.date(2023, 12, 31)),
        code=_code,
        address_line1=_free,
        address_line2=_free,
        postcode=st.one_of(st.just(""), st.from_regex(r"\A[0-9]{5}\Z")),
        city=st.one_of(st.just(""), _name),
        nir=st.one_of(st.just(""), st.from_regex(r"\A[12][0-9]{12}\Z")),
        file_number=_code,
        exam_date=st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2023, 12, 31))),
    ),
    sender=_local,
    recipient=_local,
    sender_code=_code,
    recipient_code=_code,
    body_lines=st.lists(_body_line, max_size=8),
)
def test_build_then_parse_preserves_identity_and_body(
    identity: PatientIdentity,
    sender: str,
    recipient: str,
    sender_code: str,
    recipient_code: str,
    body_lines: list[str],
) -> None:
    body = "\n".join(body_lines)
    text = build_document(
        identity,
        sender=sender,
        recipient=recipient,
        body=body,
        sender_code=sender_code,
        recipient_code=recipient_code,
    )
    (document,) = parse_message_text(text)
    header = document.header
    assert header is not None, document.score.reasons
    assert header.patient_code == identity.code
    assert header.last_name == identity.last_name
    assert header.first_name == identity.first_name
    assert header.address_line1 == identity.address_line1
    assert header.address_line2 == identity.address_line2
    assert header.postcode == identity.postcode
    assert header.city == identity.city
    assert header.birth_date == identity.birth_date
    assert header.exam_date == identity.exam_date
    assert header.file_number == identity.file_number
    assert (header.nir.number if header.nir else "") == identity.nir
    assert header.nir is None or header.nir.key_valid
    assert (header.sender_code, header.sender_name) == (sender_code, sender)
    assert (header.recipient_code, header.recipient_name) == (recipient_code, recipient)
    assert document.body == body.rstrip()
    assert document.results == ()
