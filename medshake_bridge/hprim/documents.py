"""One HPRIM document read whole: header (when there is a real one), body, lab results.

Parsing never raises. A received message must always reach the inbox, whatever its text: an
input we did not foresee gives a document without header, with the reason in its score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medshake_bridge.textdecode import normalise_line_endings

from .header import HprimHeader, parse_header
from .lab import LabResult, parse_lab_lines
from .markers import is_lab_end_marker, is_lab_marker, split_documents
from .score import HeaderScore, score_header

__all__ = ["HprimDocument", "parse_document", "parse_message_text"]

INTERNAL_ERROR = "internal error while parsing"
"""Reason recorded if parsing ever meets an input it cannot handle (a bug to report)."""


@dataclass(frozen=True)
class HprimDocument:
    """A parsed document.

    ``header`` is set only when the score says the first lines really are an HPRIM header;
    ``score`` is always there to explain the verdict. ``body`` is the free text after the
    header (the whole text without one), without the coded ``****LAB****`` section, whose
    ``RES`` lines are in ``results`` and ``TEX`` lines in ``tex_lines``. ``text`` is the
    document as received.
    """

    text: str
    header: HprimHeader | None
    score: HeaderScore
    body: str
    results: tuple[LabResult, ...] = field(default_factory=tuple)
    tex_lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_abnormal_results(self) -> bool:
        """True when at least one lab result is out of range."""
        return any(result.abnormal for result in self.results)


def _line(lines: list[str], index: int) -> str:
    return lines[index] if index < len(lines) else ""


def _find_header(lines: list[str]) -> tuple[HprimHeader | None, HeaderScore, int]:
    """The header and where the body starts; tries again past leading blank lines.

    Some senders (and our own splitting, after a ``****FIN****``) leave blank lines before the
    header. Offset 0 is tried first so a header whose patient code is empty is read in place;
    when nothing is valid, the verdict on offset 0 is the one reported.
    """
    offsets = [0]
    skip = next((index for index, line in enumerate(lines) if line.strip()), 0)
    if skip:
        offsets.append(skip)
    reported: HeaderScore | None = None
    for offset in offsets:
        view = lines[offset:]
        header = parse_header(view)
        score = score_header(header, routing_lines=(_line(view, 10), _line(view, 11)))
        if score.valid:
            return header, score, offset + header.line_count
        reported = reported or score
    return None, reported or HeaderScore(valid=False, points=0), 0


def _split_body(lines: list[str]) -> tuple[str, list[str]]:
    """Free text and the lines of the coded section(s)."""
    body: list[str] = []
    coded: list[str] = []
    in_lab = False
    for line in lines:
        if is_lab_marker(line):
            in_lab = True
        elif is_lab_end_marker(line):
            in_lab = False
        elif in_lab:
            coded.append(line)
        else:
            body.append(line)
    return "\n".join(body).rstrip(), coded


def _parse(text: str) -> HprimDocument:
    lines = normalise_line_endings(text)[0].split("\n")
    header, score, body_start = _find_header(lines)
    body, coded = _split_body(lines[body_start:])
    results, texts = parse_lab_lines(coded)
    return HprimDocument(
        text=text,
        header=header,
        score=score,
        body=body,
        results=tuple(results),
        tex_lines=tuple(texts),
    )


def parse_document(text: str) -> HprimDocument:
    """Parse one document (a piece returned by :func:`split_documents`); never raises."""
    try:
        return _parse(text)
    except Exception as error:  # noqa: BLE001 - the contract is "never raises"; see INTERNAL_ERROR
        return HprimDocument(
            text=text,
            header=None,
            score=HeaderScore(False, 0, (f"{INTERNAL_ERROR}: {error!r}",)),
            body=text,
        )


def parse_message_text(text: str) -> list[HprimDocument]:
    """Split a decoded message into documents and parse each; never raises, never empty."""
    try:
        pieces = split_documents(text)
    except Exception:  # noqa: BLE001 - same contract as parse_document
        pieces = [text]
    return [parse_document(piece) for piece in pieces]
