"""Build the clear text of an outgoing document (DOMAIN §6): header, body, end markers.

The header is positional, so one stray line break in a name shifts every following field for
the recipient's software and files the document under the wrong identity. Every value is
therefore checked, and a value that would break the layout is refused with a message saying
what to correct, rather than silently altered.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from medshake_bridge.errors import HprimError
from medshake_bridge.textdecode import normalise_line_endings

from .dates import format_date
from .documents import parse_document
from .header import CODE_WIDTH, EMPTY_CODE
from .markers import (
    END_MARKER,
    FILE_END_MARKER,
    is_end_marker,
    is_lab_end_marker,
    is_lab_marker,
)
from .nir import Nir, parse_nir
from .score import plausible_name

__all__ = ["HprimBuildError", "PatientIdentity", "build_document"]

_POSTCODE = re.compile(r"^[0-9]{5}$")
# what the reader takes for a postcode at the start of line 6 (hprim.header._POSTCODE_CITY)
_LEADING_POSTCODE = re.compile(r"^[0-9]{5}(?![0-9])")
_LOCAL_PART = re.compile(r"^[^\s@]+$")


class HprimBuildError(HprimError):
    """A value cannot be written into an HPRIM document; ``fix`` says what to change."""


@dataclass(frozen=True, kw_only=True)
class PatientIdentity:
    """The patient as the sending EHR knows them; everything but the last name is optional.

    ``birth_name`` is not written in the header (line 2 carries the name in use) but it is
    used by matching and by the subject check. ``nir`` is the social-security number, with or
    without its key and spaces.
    """

    last_name: str
    first_name: str = ""
    birth_name: str = ""
    birth_date: dt.date | None = None
    code: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postcode: str = ""
    city: str = ""
    nir: str = ""
    file_number: str = ""
    exam_date: dt.date | None = None


def _clean(value: str, label: str) -> str:
    """``value`` without surrounding spaces; refused if it holds a line break or control."""
    for char in value:
        if char in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
            raise HprimBuildError(
                f"The {label} contains a line break, which would shift the HPRIM header.",
                fix=f"Write the {label} on one line.",
            )
        if ord(char) < 32 or ord(char) == 127:
            raise HprimBuildError(
                f"The {label} contains a control character (U+{ord(char):04X}).",
                fix=f"Retype the {label} without invisible characters.",
            )
    if is_end_marker(value) or is_lab_marker(value) or is_lab_end_marker(value):
        raise HprimBuildError(
            f"The {label} is an HPRIM marker ({value.strip()!r}); the recipient would read "
            "the header's line as the end of the document.",
            fix=f"Correct the {label}.",
        )
    return value.strip()


def _name(value: str, label: str) -> str:
    """A name field, refused when it is not letters, spaces, hyphens and apostrophes."""
    name = _clean(value, label)
    if name and not plausible_name(name):
        raise HprimBuildError(
            f"The {label} {name!r} does not read as a name (digits, symbols or too long).",
            fix=f"Write the {label} with letters, spaces, hyphens and apostrophes only.",
        )
    return name


def _code_line(code: str, local_part: str, label: str) -> str:
    clean_code = _clean(code, f"{label} code")
    if len(clean_code) > CODE_WIDTH:
        raise HprimBuildError(
            f"The {label} code {clean_code!r} is longer than {CODE_WIDTH} characters.",
            fix=f"Use a {label} code of at most {CODE_WIDTH} characters, or none.",
        )
    address = _clean(local_part, f"{label} address")
    local = address.split("@", 1)[0]
    if not _LOCAL_PART.match(local):
        raise HprimBuildError(
            f"The {label} address {address!r} has no usable local part.",
            fix=f"Give the {label}'s Apicrypt address, e.g. prenom.NOM@medical69.apicrypt.org.",
        )
    return f"{(clean_code or EMPTY_CODE):<{CODE_WIDTH}} {local}"


def _nir_line(raw: str) -> str:
    value = _clean(raw, "social-security number")
    if not value:
        return ""
    nir = parse_nir(value)
    if nir is None:
        raise HprimBuildError(
            f"The social-security number {value!r} is not a NIR (13 characters and a key).",
            fix="Correct the social-security number in the patient record, or leave it empty.",
        )
    if nir.key_valid is False:
        raise HprimBuildError(
            f"The key of the social-security number {value!r} is wrong "
            f"(expected {nir.expected_key}).",
            fix="Check the social-security number in the patient record for a typing error.",
        )
    return str(Nir(nir.number, nir.expected_key))


def _postcode_line(postcode: str, city: str) -> str:
    code = _clean(postcode, "postcode")
    town = _clean(city, "city")
    if code and not _POSTCODE.match(code):
        raise HprimBuildError(
            f"The postcode {code!r} is not 5 digits; the recipient would misread line 6.",
            fix="Write a French 5-digit postcode, or leave it empty and put it in the city.",
        )
    if not code and _LEADING_POSTCODE.match(town):
        raise HprimBuildError(
            f"The city {town!r} starts with a postcode but the postcode field is empty.",
            fix="Move the postcode into the postcode field.",
        )
    return f"{code} {town}".strip()


def _body_text(body: str) -> str:
    lines = normalise_line_endings(body)[0].split("\n")
    for number, line in enumerate(lines, start=1):
        if is_end_marker(line):
            raise HprimBuildError(
                f"Line {number} of the text is an HPRIM end marker ({line.strip()!r}); the "
                "recipient would cut the document there.",
                fix="Remove or reword that line.",
            )
    return "\n".join(lines).rstrip()


def build_document(
    identity: PatientIdentity,
    *,
    sender: str,
    recipient: str,
    body: str,
    sender_code: str = "",
    recipient_code: str = "",
) -> str:
    """The outgoing clear text: 12-line header, a blank line, the body, the end markers.

    ``sender`` and ``recipient`` are Apicrypt addresses or their local parts (``prenom.NOM``);
    lines 11 and 12 carry the code padded to 10 characters (``.`` when there is none, as
    MedShakeEHR writes it), a space, and the local part. Lines end with ``\\n``; the body's
    line endings are normalised and trailing blank lines dropped. Raises
    :class:`HprimBuildError` when a value would break the layout, the last name or birth date
    is missing (the recipient could not recognise the header), or the body holds an end marker.
    """
    last_name = _name(identity.last_name, "last name")
    if not last_name:
        raise HprimBuildError(
            "The patient's last name is empty; the recipient could not identify the patient.",
            fix="Fill in the patient's last name.",
        )
    if identity.birth_date is None:
        raise HprimBuildError(
            "The patient's birth date is missing; the recipient could not identify the patient.",
            fix="Fill in the patient's birth date.",
        )
    _name(identity.birth_name, "birth name")
    lines = [
        _clean(identity.code, "patient code"),
        last_name,
        _name(identity.first_name, "first name"),
        _clean(identity.address_line1, "first address line"),
        _clean(identity.address_line2, "second address line"),
        _postcode_line(identity.postcode, identity.city),
        format_date(identity.birth_date),
        _nir_line(identity.nir),
        _clean(identity.file_number, "file number"),
        format_date(identity.exam_date) if identity.exam_date else "",
        _code_line(sender_code, sender, "sender"),
        _code_line(recipient_code, recipient, "recipient"),
    ]
    text = _body_text(body)
    parts = ["\n".join(lines), "", *([text] if text else []), END_MARKER, FILE_END_MARKER]
    document = "\n".join(parts) + "\n"
    _check_recognised(document)
    return document


def _check_recognised(document: str) -> None:
    """Refuse a header our own parser would not recognise: the recipient's would not either."""
    parsed = parse_document(document)
    if parsed.header is None:
        problems = [reason for reason in parsed.score.reasons if "(+" not in reason]
        raise HprimBuildError(
            "The HPRIM header would not be recognised: " + "; ".join(problems) + ".",
            fix="Correct or shorten those patient fields (long addresses, codes or numbers).",
        )
