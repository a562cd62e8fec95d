"""Decoding received bytes (DOMAIN §7) and encoding outgoing text for Apicrypt v1 (DOMAIN §6)."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medshake_bridge.textdecode import (
    DecodedText,
    Replacement,
    decode_bytes,
    encode_outgoing_latin1,
    normalise_line_endings,
)

DATA = Path(__file__).parent / "data" / "hprim"

FRENCH = "Résultat : hémoglobine élevée, à revoir où et quand ? Très bien. Garçon, cœur, Noël."


# --- encodings -------------------------------------------------------------------------------


def test_plain_utf8_is_decoded_as_utf8() -> None:
    decoded = decode_bytes(FRENCH.encode("utf-8"))
    assert decoded.text == FRENCH
    assert decoded.encoding == "utf-8"
    assert decoded.normalised == ()


def test_utf8_with_bom_drops_the_bom() -> None:
    decoded = decode_bytes(codecs.BOM_UTF8 + "Élodie".encode())
    assert decoded.text == "Élodie"
    assert decoded.encoding == "utf-8"
    assert decoded.bom is True
    assert "BOM" in decoded.normalised


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_utf16_with_bom(bom: bytes, codec: str) -> None:
    decoded = decode_bytes(bom + "Noël\r\nÉlodie\r\n".encode(codec))
    assert decoded.text == "Noël\nÉlodie\n"
    assert decoded.encoding == codec
    assert decoded.bom is True
    assert decoded.line_endings == ("CRLF",)


def test_utf16_le_without_bom_is_recognised_by_its_nul_bytes() -> None:
    decoded = decode_bytes("TESTARD\nÉlodie\n".encode("utf-16-le"))
    assert decoded.text == "TESTARD\nÉlodie\n"
    assert decoded.encoding == "utf-16-le"
    assert decoded.bom is False


def test_broken_utf16_after_a_bom_is_replaced_and_counted() -> None:
    decoded = decode_bytes(codecs.BOM_UTF16_LE + "abc".encode("utf-16-le") + b"\x00")
    assert decoded.text.startswith("abc")
    assert decoded.replaced >= 1
    assert "\ufffd" in decoded.text


def test_cp1252_french_is_decoded_as_cp1252() -> None:
    text = FRENCH + " « Compte rendu » – l’analyse… 10 €"
    decoded = decode_bytes(text.encode("cp1252"))
    assert decoded.text == text
    assert decoded.encoding == "cp1252"


def test_cp1252_undefined_bytes_never_fail() -> None:
    # A byte CP1252 leaves undefined becomes the C1 character of the same value.
    for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"):
        decoded = decode_bytes(b"R\xe9sultat " + byte + b" \xe9lev\xe9, \xe0 revoir tr\xe8s t\xf4t")
        assert decoded.encoding == "cp1252"
        assert decoded.text == f"Résultat {byte.decode('latin-1')} élevé, à revoir très tôt"


@pytest.mark.parametrize(
    "text",
    [
        FRENCH,
        "Résultat",
        "Le patient a été revu à la consultation.",
        "Pas de lithiase vésiculaire, foie de taille normale.",
        "Très cordialement, à bientôt.",
        "ÉLECTROCARDIOGRAMME : rythme régulier",
    ],
)
def test_macroman_french_is_recognised(text: str) -> None:
    data = text.encode("mac_roman")
    assert data != text.encode("cp1252")  # otherwise the case proves nothing
    decoded = decode_bytes(data)
    assert decoded.encoding == "mac_roman"
    assert decoded.text == text


def test_macroman_typical_bytes_are_e_a_e_u() -> None:
    # 0x8E é, 0x88 à, 0x8F è, 0x9D ù in MacRoman: "déjà très où"
    decoded = decode_bytes(b"d\x8ej\x88 tr\x8fs o\x9d")
    assert decoded.encoding == "mac_roman"
    assert decoded.text == "déjà très où"


def test_ascii_only_text_is_utf8() -> None:
    decoded = decode_bytes(b"DUPONT\nJEAN\n")
    assert decoded.encoding == "utf-8"
    assert decoded.text == "DUPONT\nJEAN\n"


def test_decomposed_accents_are_composed() -> None:
    decoded = decode_bytes("He\u0301le\u0300ne".encode())
    assert decoded.text == "Hélène"
    assert decoded.nfc is True
    assert "NFC" in decoded.normalised


def test_empty_input() -> None:
    assert decode_bytes(b"") == DecodedText(text="", encoding="utf-8")


# --- line endings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kinds"),
    [
        ("a\r\nb\r\n\r\nc", ("CRLF",)),
        ("a\rb\r\rc", ("CR",)),
        ("a\n\rb\n\r\n\rc", ("LFCR",)),
        ("a\nb\n\nc", ()),
    ],
)
def test_every_line_ending_becomes_lf(raw: str, kinds: tuple[str, ...]) -> None:
    text, found = normalise_line_endings(raw)
    assert text == "a\nb\n\nc"
    assert found == kinds


def test_swapped_line_endings_in_bytes() -> None:
    decoded = decode_bytes("ligne 1\n\rligne 2\n\r\n\rligne 4".encode("cp1252"))
    assert decoded.text.split("\n") == ["ligne 1", "ligne 2", "", "ligne 4"]
    assert decoded.line_endings == ("LFCR",)


def test_mixed_endings_keep_the_line_count() -> None:
    text, found = normalise_line_endings("1\r\n2\n3\r4")
    assert text == "1\n2\n3\n4"
    assert set(found) == {"CRLF", "CR"}


def _endings_by_expression(text: str) -> tuple[str, tuple[str, ...]]:
    """The rule as one regular expression (what normalise_line_endings did for every text)."""
    import re

    seen: set[str] = set()
    names = {"\r\n": "CRLF", "\n\r": "LFCR", "\r": "CR"}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) in names:
            seen.add(names[match.group(0)])
        return "\n"

    result = re.sub(r"\r\n|\n\r|\r|\n", replace, text)
    return result, tuple(name for name in ("CRLF", "LFCR", "CR") if name in seen)


@settings(max_examples=400)
@given(st.text(alphabet="\r\nab", max_size=40))
def test_line_endings_without_the_expression_give_the_same(text: str) -> None:
    """The shortcuts (no CR at all; no LF before a CR) answer what the expression does."""
    assert normalise_line_endings(text) == _endings_by_expression(text)


# --- sample files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding", "endings", "expected"),
    [
        ("lab_cp1252_crlf.hpr", "cp1252", ("CRLF",), "Élodie"),
        ("letter_macroman_cr.txt", "mac_roman", ("CR",), "Noël"),
        ("letter_utf16le_bom.txt", "utf-16-le", ("CRLF",), "Françoise"),
        ("letter_utf8_lf.txt", "utf-8", (), "Zoé"),
        ("two_documents_swapped.txt", "cp1252", ("LFCR",), "Noël"),
    ],
)
def test_sample_files_decode(
    name: str, encoding: str, endings: tuple[str, ...], expected: str
) -> None:
    decoded = decode_bytes((DATA / name).read_bytes())
    assert decoded.encoding == encoding
    assert decoded.line_endings == endings
    assert expected in decoded.text.split("\n")
    assert "\r" not in decoded.text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decode_never_raises_and_never_leaves_cr(data: bytes) -> None:
    decoded = decode_bytes(data)
    assert isinstance(decoded.text, str)
    assert "\r" not in decoded.text


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=200).filter(
        lambda text: not ({"\r", "\x00"} & set(text)) and not text.startswith("\ufeff")
    )
)
def test_utf8_text_round_trips(text: str) -> None:
    decoded = decode_bytes(text.encode("utf-8"))
    assert decoded.encoding == "utf-8"
    assert decoded.text == unicodedata.normalize("NFC", text)


# --- outgoing Latin-1 ------------------------------------------------------------------------


def test_latin1_text_is_encoded_unchanged() -> None:
    data, replacements = encode_outgoing_latin1("Élodie, née à Besançon, âgée de 38 ans.")
    assert data == "Élodie, née à Besançon, âgée de 38 ans.".encode("latin-1")
    assert replacements == []


def test_transliterations_are_reported_with_counts() -> None:
    data, replacements = encode_outgoing_latin1("Le cœur, le cœur… “10 €” ’")
    assert data == b'Le coeur, le coeur... "10 EUR" \''
    assert replacements == [
        Replacement("œ", "oe", 2),
        Replacement("…", "...", 1),
        Replacement("“", '"', 1),
        Replacement("€", "EUR", 1),
        Replacement("”", '"', 1),
        Replacement("’", "'", 1),
    ]


def test_nfkd_fallback_strips_accents_and_question_mark_is_last() -> None:
    data, replacements = encode_outgoing_latin1("ǘ ŝ ⅓ 😀 Œdème")
    assert data == b"u s 1/3 ? OEd\xe8me"
    assert [(item.character, item.replacement) for item in replacements] == [
        ("ǘ", "u"),
        ("ŝ", "s"),
        ("⅓", "1/3"),
        ("😀", "?"),
        ("Œ", "OE"),
    ]


def test_decomposed_accents_fit_latin1_without_being_reported() -> None:
    data, replacements = encode_outgoing_latin1("He\u0301le\u0300ne")
    assert data == "Hélène".encode("latin-1")
    assert replacements == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_encode_never_raises_and_is_latin1(text: str) -> None:
    data, replacements = encode_outgoing_latin1(text)
    assert isinstance(data, bytes)
    data.decode("latin-1")
    for item in replacements:
        assert item.count >= 1
        item.replacement.encode("latin-1")
        assert ord(item.character) > 255
