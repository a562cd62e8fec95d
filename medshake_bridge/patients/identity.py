"""Reading a new patient's identity typed by a person (the "new patient" form, the CLI).

The same rules on every path: a last name is required, a birth date is ``dd/mm/yyyy`` and not in
the future, a NIR has 13 or 15 digits (2A/2B for Corsica), the sex is F, M or unknown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from medshake_bridge.hprim import parse_date
from medshake_bridge.patient_ref import NewPatient

FIELDS = ("last_name", "first_name", "birth_name", "birth_date", "sex", "nir", "postcode",
          "city")
# Problems, in English (pages translate them; the CLI prints them as they are).
LAST_NAME_MISSING = "Enter the patient's last name."
BAD_BIRTH_DATE = "Enter the birth date as dd/mm/yyyy (a real date, not in the future)."
BAD_SEX = "Choose F, M or leave the sex empty."
BAD_NIR = "A social security number has 13 or 15 digits (2A or 2B for Corsica)."
BAD_POSTCODE = "A postcode has 5 digits."
_NIR = re.compile(r"^[12378]\d{4}(?:\d{2}|2[AB])\d{6}(?:\d{2})?$")


def read_new_patient(values: Mapping[str, str]) -> tuple[NewPatient | None, dict[str, str]]:
    """The patient described by ``values`` (form or options), or ``None`` with one problem per
    field name."""
    text = {name: " ".join(str(values.get(name) or "").split()) for name in FIELDS}
    errors: dict[str, str] = {}
    if not text["last_name"]:
        errors["last_name"] = LAST_NAME_MISSING
    born = None
    if text["birth_date"]:
        born = parse_date(text["birth_date"]) if "/" in text["birth_date"] else None
        if born is None or born > dt.date.today() or born.year < 1880:
            errors["birth_date"] = BAD_BIRTH_DATE
    sex = text["sex"].upper()
    if sex not in ("", "F", "M"):
        errors["sex"] = BAD_SEX
    nir = text["nir"].replace(" ", "").upper()
    if nir and not _NIR.match(nir):
        errors["nir"] = BAD_NIR
    if text["postcode"] and not re.fullmatch(r"\d{5}", text["postcode"]):
        errors["postcode"] = BAD_POSTCODE
    if errors:
        return None, errors
    return NewPatient(last_name=text["last_name"].upper(), first_name=text["first_name"],
                      birth_name=text["birth_name"].upper(), birth_date=born, sex=sex, nir=nir,
                      postcode=text["postcode"], city=text["city"].upper()), {}
