"""The HPRIM header score, check by check (DOMAIN §7): the points and the reason of every
check, and each bound exactly at its edge. The tests of tests/test_hprim_header.py look at
whole headers; a mutation run (docs/testing.md) showed that they let a changed number of
points, a moved bound or a dropped identity condition pass, since the verdict often stayed the
same. These pin each one."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from medshake_bridge.hprim import VALID_THRESHOLD, HprimHeader, nir_key, parse_nir, score_header
from medshake_bridge.hprim.score import plausible_name

TODAY = dt.date(2024, 6, 1)
NIR = "2850575123456"
ROUTING = ("LAB01      Laboratoire", "DR042      Docteur Martin")
BASE = HprimHeader(
    patient_code="P0042",
    last_name="TESTARD",
    first_name="Élodie",
    postcode="69001",
    city="LYON",
    birth_date=dt.date(1985, 5, 7),
    birth_date_raw="07/05/1985",
    nir=parse_nir(f"{NIR}{nir_key(NIR)}"),
    nir_raw=f"{NIR}{nir_key(NIR)}",
    file_number="F-1234",
    exam_date=dt.date(2024, 5, 30),
    exam_date_raw="30/05/2024",
)
FULL_REASONS = (
    "patient code looks like an identifier (+1)",
    "last name plausible (+3)",
    "first name plausible (+1)",
    "postcode has 5 digits (+1)",
    "birth date valid (+4)",
    "NIR valid (+3)",
    "exam date valid (+3)",
    "line 11 is a code and a name (+1)",
    "line 12 is a code and a name (+1)",
)
INCOMPLETE = "identity incomplete: needs a last name and a birth date (or a NIR and an exam date)"


def _score(routing: tuple[str, str] = ROUTING, **changes: object):
    return score_header(dataclasses.replace(BASE, **changes), routing_lines=routing, today=TODAY)


def test_a_full_header_earns_every_point_with_one_reason_per_check() -> None:
    result = _score()
    assert result.reasons == FULL_REASONS
    assert (result.valid, result.points) == (True, 18)


@pytest.mark.parametrize(
    ("changes", "reason", "points"),
    [
        ({"patient_code": ""}, "patient code empty (+0)", 17),
        ({"patient_code": "A B"}, "patient code has unusual characters (+0)", 17),
        ({"patient_code": "A B" + "C" * 17}, "patient code has unusual characters (+0)", 17),
        ({"patient_code": "A B" + "C" * 18}, "patient code is long text (-2)", 15),
        ({"patient_code": "X" * 20}, "patient code looks like an identifier (+1)", 18),
        ({"last_name": ""}, "last name empty (-3)", 12),
        ({"last_name": "Bonjour,"}, "last name is not a name (-4)", 11),
        ({"first_name": ""}, "first name empty (+0)", 17),
        ({"first_name": "12"}, "first name is not a name (-2)", 15),
        ({"address_line1": "x" * 81}, "line 4 too long for an address (-1)", 17),
        ({"address_line2": "x" * 81}, "line 5 too long for an address (-1)", 17),
        ({"postcode": "", "city": ""}, "postcode and city empty (+0)", 17),
        ({"postcode": "", "city": "LYON"}, "no postcode (+0)", 17),
        ({"postcode": "", "city": "L" * 40}, "no postcode (+0)", 17),
        ({"postcode": "", "city": "L" * 41},
         "line 6 is long text, not a postcode and city (-1)", 16),
        ({"birth_date": None, "birth_date_raw": ""}, "birth date empty (-2)", 12),
        ({"birth_date": None, "birth_date_raw": "31/02/1985"}, "birth date invalid (-4)", 10),
        ({"birth_date": dt.date(1880, 1, 1)}, "birth date valid (+4)", 18),
        ({"birth_date": dt.date(1879, 12, 31)}, "birth date invalid (-4)", 10),
        ({"birth_date": TODAY + dt.timedelta(days=1)}, "birth date valid (+4)", 18),
        ({"birth_date": TODAY + dt.timedelta(days=2)}, "birth date invalid (-4)", 10),
        ({"nir": None, "nir_raw": ""}, "NIR empty (+0)", 15),
        ({"nir": None, "nir_raw": "pas de NIR"}, "line 8 is not a NIR (-2)", 13),
        ({"nir": parse_nir(f"{NIR}{int(nir_key(NIR)) % 97 + 1:02d}")},
         "NIR well formed but its key is wrong (+1)", 16),
        ({"nir": parse_nir(NIR), "nir_raw": NIR}, "NIR valid (+3)", 18),  # no key to check
        ({"exam_date": None, "exam_date_raw": ""}, "exam date empty (-1)", 14),
        ({"exam_date": None, "exam_date_raw": "hier"}, "exam date invalid (-3)", 12),
        ({"exam_date": dt.date(1980, 1, 1)}, "exam date valid (+3)", 18),
        ({"exam_date": dt.date(1979, 12, 31)}, "exam date invalid (-3)", 12),
        ({"exam_date": dt.date(2026, 12, 31)}, "exam date valid (+3)", 18),
        ({"exam_date": dt.date(2027, 1, 1)}, "exam date invalid (-3)", 12),
        ({"file_number": "F" * 31}, "file number is long text (-1)", 17),
    ],
)
def test_each_check_gives_its_points_and_says_why(changes, reason, points) -> None:
    result = _score(**changes)
    assert reason in result.reasons
    assert result.points == points


@pytest.mark.parametrize(
    ("changes", "absent"),
    [
        ({"address_line1": "x" * 80}, "line 4 too long for an address (-1)"),
        ({"address_line2": "x" * 80}, "line 5 too long for an address (-1)"),
        ({"file_number": "F" * 30}, "file number is long text (-1)"),
    ],
)
def test_a_line_at_the_length_limit_costs_nothing(changes, absent) -> None:
    result = _score(**changes)
    assert absent not in result.reasons
    assert result.points == 18


@pytest.mark.parametrize(
    ("line", "reason", "points"),
    [
        ("", "line 11 empty (+0)", 17),
        ("   ", "line 11 empty (+0)", 17),
        ("LAB01     \tLaboratoire", "line 11 is a code and a name (+1)", 18),
        ("LAB01      Laboratoire   ", "line 11 is a code and a name (+1)", 18),
        ("LAB0123456", "line 11 is not laid out as code and name (+0)", 17),  # the code only
        ("LAB01 Laboratoire", "line 11 is not laid out as code and name (+0)", 17),
        ("L" * 81, "line 11 is long text (-1)", 16),
        ("LAB01      " + "L" * 69, "line 11 is a code and a name (+1)", 18),  # 80 characters
    ],
)
def test_routing_lines_are_scored_by_their_layout(line, reason, points) -> None:
    result = _score(routing=(line, ROUTING[1]))
    assert result.reasons[7] == reason
    assert result.reasons[8] == "line 12 is a code and a name (+1)"
    assert result.points == points


def test_the_threshold_is_reached_exactly() -> None:
    # identity complete; 1 + 3 + 1 + 0 + 4 + 0 - 1 + 0 + 0 = 8 points
    bare = {"postcode": "", "city": "", "nir": None, "nir_raw": "", "exam_date": None,
            "exam_date_raw": "", "file_number": ""}
    at_threshold = _score(routing=("", ""), **bare)
    assert (at_threshold.valid, at_threshold.points) == (True, VALID_THRESHOLD) == (True, 8)
    below = _score(routing=("", ""), patient_code="", **bare)
    assert (below.valid, below.points) == (False, 7)
    assert INCOMPLETE not in below.reasons  # refused for its points, not its identity


@pytest.mark.parametrize(
    "changes",
    [
        {"last_name": "Bonjour,"},  # enough points, but no name
        {"birth_date": None, "birth_date_raw": "", "exam_date": None, "exam_date_raw": ""},
        {"birth_date": None, "birth_date_raw": "", "nir": None, "nir_raw": ""},
    ],
)
def test_points_never_make_up_for_a_missing_identity(changes) -> None:
    result = _score(**changes)
    assert result.points >= VALID_THRESHOLD
    assert result.valid is False
    assert result.reasons[-1] == INCOMPLETE


def test_a_nir_and_an_exam_date_stand_in_for_the_birth_date() -> None:
    result = _score(birth_date=None, birth_date_raw="")
    assert (result.valid, result.points) == (True, 12)
    assert INCOMPLETE not in result.reasons


def test_a_nir_with_a_wrong_key_does_not_stand_in_for_the_birth_date() -> None:
    wrong = parse_nir(f"{NIR}{int(nir_key(NIR)) % 97 + 1:02d}")
    result = _score(birth_date=None, birth_date_raw="", nir=wrong)
    assert result.points >= VALID_THRESHOLD  # enough points: refused for its identity only
    assert result.valid is False
    assert result.reasons[-1] == INCOMPLETE


def test_names_at_their_limits() -> None:
    assert plausible_name("x" * 60) is True
    assert plausible_name("x" * 61) is False
    assert plausible_name("un deux trois quatre cinq six") is True
    assert plausible_name("un deux trois quatre cinq six sept") is False
    assert plausible_name("A") is True


def test_routing_lines_come_as_exactly_two() -> None:
    # a caller passing one line (or three) is told, instead of having a line silently unscored
    with pytest.raises(ValueError):
        score_header(BASE, routing_lines=(ROUTING[0],), today=TODAY)
    with pytest.raises(ValueError):
        score_header(BASE, routing_lines=(*ROUTING, ROUTING[0]), today=TODAY)


def test_a_verdict_cannot_be_changed() -> None:
    result = _score()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.valid = False  # type: ignore[misc]
