"""End markers: splitting a message into documents, and the collector's clear-text test."""

from __future__ import annotations

import pytest

from medshake_bridge.hprim import has_end_markers, split_documents


def test_text_without_markers_is_one_document() -> None:
    assert split_documents("Bonjour,\nun courrier.\n") == ["Bonjour,\nun courrier.\n"]


def test_markers_are_dropped_and_trailing_blank_pieces_too() -> None:
    text = "DOC A\nligne\n****FIN****\n****FINFICHIER****\n"
    assert split_documents(text) == ["DOC A\nligne"]


def test_two_documents_in_one_message() -> None:
    text = "A1\nA2\n****FIN****\nB1\nB2\n****FIN****\n****FINFICHIER****\n"
    assert split_documents(text) == ["A1\nA2", "B1\nB2"]


@pytest.mark.parametrize(
    "marker",
    [
        "***FIN***",
        "****fin****",
        "  ****  Fin ****  ",
        "*****FINFICHIER*****",
        "***finfichier***\t",
    ],
)
def test_markers_are_matched_tolerantly(marker: str) -> None:
    assert split_documents(f"A\n{marker}\nB") == ["A", "B"]
    assert has_end_markers(f"texte\n{marker}\n")


@pytest.mark.parametrize(
    "line",
    ["**FIN**", "FIN", "****FIN", "la ****FIN**** du texte", "****FINI****", "****LAB****"],
)
def test_lookalikes_are_not_markers(line: str) -> None:
    assert split_documents(f"A\n{line}\nB") == [f"A\n{line}\nB"]
    assert not has_end_markers(f"A\n{line}\nB")


def test_markers_with_other_line_endings() -> None:
    assert split_documents("A\r\n****FIN****\r\nB\r\n") == ["A", "B\n"]
    assert has_end_markers("A\r****FINFICHIER****\r")


def test_blank_message_is_one_blank_document() -> None:
    assert split_documents("") == [""]
    assert split_documents("****FIN****\n****FINFICHIER****\n") == [""]
