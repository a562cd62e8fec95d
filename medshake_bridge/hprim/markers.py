"""HPRIM section markers (``****FIN****``, ``****FINFICHIER****``, ``****LAB****``).

Senders write them with varying asterisks, case and spacing, so they are matched tolerantly: a
line holding only 3+ asterisks, the keyword, 3+ asterisks, with spaces anywhere around. A marker
must stand on its own line: the same word inside a sentence is text, not structure.
"""

from __future__ import annotations

import re

from medshake_bridge.textdecode import normalise_line_endings

__all__ = [
    "END_MARKER",
    "FILE_END_MARKER",
    "has_end_markers",
    "is_end_marker",
    "is_lab_end_marker",
    "is_lab_marker",
    "split_documents",
]


def _marker(keywords: str) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*\*{{3,}}[ \t]*(?:{keywords})[ \t]*\*{{3,}}[ \t]*$", re.IGNORECASE)


# FINFICHIER is listed first so the alternation never stops at its FIN prefix.
_END = _marker("FINFICHIER|FIN")
_END_MULTILINE = re.compile(_END.pattern, re.IGNORECASE | re.MULTILINE)
_LAB = _marker("LAB")
_LAB_END = _marker("FINLAB")

END_MARKER = "****FIN****"
"""The marker written after each document."""

FILE_END_MARKER = "****FINFICHIER****"
"""The marker written once, after the last document's :data:`END_MARKER`."""


def is_end_marker(line: str) -> bool:
    """True when ``line`` is a ``****FIN****`` or ``****FINFICHIER****`` marker."""
    return _END.match(line) is not None


def is_lab_marker(line: str) -> bool:
    """True when ``line`` opens a coded ``****LAB****`` section."""
    return _LAB.match(line) is not None


def is_lab_end_marker(line: str) -> bool:
    """True when ``line`` closes a coded section (``****FINLAB****``, written by some labs)."""
    return _LAB_END.match(line) is not None


def has_end_markers(text: str) -> bool:
    """True when ``text`` holds an HPRIM end marker on a line of its own.

    The collector uses it: a body that fails to decrypt but has these markers was sent in clear.
    """
    return _END_MULTILINE.search(normalise_line_endings(text)[0]) is not None


def split_documents(text: str) -> list[str]:
    """Split one message into its documents, at the end markers; the markers are dropped.

    One message may carry several documents, each with its own header (a lab sends several
    patients' results at once), so patients are matched per document. Pieces holding only
    blank lines (between ``****FIN****`` and ``****FINFICHIER****``) are dropped. Text without
    markers is one document, and the result is never empty: a blank message is one blank
    document, so the inbox still has something to show.
    """
    documents: list[str] = []
    current: list[str] = []
    for line in normalise_line_endings(text)[0].split("\n"):
        if is_end_marker(line):
            documents.append("\n".join(current))
            current = []
        else:
            current.append(line)
    documents.append("\n".join(current))
    kept = [document for document in documents if document.strip()]
    return kept or [""]
