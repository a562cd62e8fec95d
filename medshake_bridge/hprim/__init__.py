"""HPRIM, the text inside Apicrypt messages: split, parse, score, build, match, check subjects.

Everything here is a pure function of its arguments (no I/O), so the collector, the inbox and
the sender share one reading of the format. Parsing never raises; building raises
:class:`HprimBuildError` (an :class:`~medshake_bridge.errors.HprimError`) naming the fix.
"""

from __future__ import annotations

from .build import HprimBuildError, PatientIdentity, build_document
from .dates import format_date, parse_date
from .documents import HprimDocument, parse_document, parse_message_text
from .header import HprimHeader, parse_header, split_code_line
from .lab import ABNORMAL_FLAGS, LabResult, parse_lab_lines, parse_number, parse_res_line
from .markers import has_end_markers, split_documents
from .matching import CRITERIA, MIN_CRITERIA, PatientMatch, PatientRecord, rank_candidates
from .nir import Nir, nir_key, parse_nir
from .normalise import fold
from .privacy import identity_in_subject
from .score import VALID_THRESHOLD, HeaderScore, score_header

__all__ = [
    "ABNORMAL_FLAGS",
    "CRITERIA",
    "MIN_CRITERIA",
    "VALID_THRESHOLD",
    "HeaderScore",
    "HprimBuildError",
    "HprimDocument",
    "HprimHeader",
    "LabResult",
    "Nir",
    "PatientIdentity",
    "PatientMatch",
    "PatientRecord",
    "build_document",
    "fold",
    "format_date",
    "has_end_markers",
    "identity_in_subject",
    "nir_key",
    "parse_date",
    "parse_document",
    "parse_header",
    "parse_lab_lines",
    "parse_message_text",
    "parse_nir",
    "parse_number",
    "parse_res_line",
    "rank_candidates",
    "score_header",
    "split_code_line",
    "split_documents",
]
