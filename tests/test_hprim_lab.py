"""``****LAB****`` sections: RES and TEX lines, short lines, empty labels, abnormal flags."""

from __future__ import annotations

import pytest

from medshake_bridge.hprim import LabResult, parse_lab_lines, parse_number, parse_res_line


def test_full_res_line() -> None:
    line = "RES|Hémoglobine|HB|N|10,9|g/dl|12|16|L|F|109|g/l|120|160"
    assert parse_res_line(line) == LabResult(
        label="Hémoglobine",
        code="HB",
        kind="N",
        value="10,9",
        unit="g/dl",
        normal_low="12",
        normal_high="16",
        flag="L",
        status="F",
        value2="109",
        unit2="g/l",
        normal_low2="120",
        normal_high2="160",
    )


def test_short_res_line_leaves_missing_fields_empty() -> None:
    result = parse_res_line("RES|Sérologie toxoplasmose|TOXO|A|positif")
    assert result is not None
    assert (result.label, result.kind, result.value) == ("Sérologie toxoplasmose", "A", "positif")
    assert (result.unit, result.normal_low, result.flag, result.normal_high2) == ("", "", "", "")


def test_label_only_line() -> None:
    result = parse_res_line("RES|Commentaire")
    assert result == LabResult(label="Commentaire")


def test_extra_fields_are_ignored_and_values_stripped() -> None:
    result = parse_res_line("  res| Glucose | GLU |N| 1,32 |g/l|0,70|1,10||F|||||extra|more")
    assert result is not None
    assert (result.label, result.code, result.value, result.status) == (
        "Glucose",
        "GLU",
        "1,32",
        "F",
    )


@pytest.mark.parametrize(
    "line", ["RES||HB|N|12", "RES|   |HB|N|12", "RES|", "TEX|x", "RESULTAT|x", ""]
)
def test_lines_without_label_or_not_res_give_nothing(line: str) -> None:
    assert parse_res_line(line) is None


@pytest.mark.parametrize(
    ("flag", "value", "low", "high", "abnormal"),
    [
        ("L", "10", "12", "16", True),
        ("H", "20", "12", "16", True),
        ("LL", "5", "12", "16", True),
        ("HH", "30", "12", "16", True),
        ("hh", "30", "", "", True),
        ("N", "30", "12", "16", False),  # the lab's own verdict wins
        ("H", "14", "12", "16", True),
        ("", "14", "12", "16", False),
        ("", "11,9", "12", "16", True),
        ("", "16.1", "12", "16", True),
        ("", "16", "12", "16", False),
        ("", "480", "150", "", False),
        ("", "480", "", "400", True),
        ("", "<0,5", "1", "2", False),
        ("", "positif", "", "", False),
        ("", "1 250", "100", "1 000", True),
    ],
)
def test_abnormal(flag: str, value: str, low: str, high: str, abnormal: bool) -> None:
    result = LabResult(label="X", value=value, normal_low=low, normal_high=high, flag=flag)
    assert result.abnormal is abnormal


@pytest.mark.parametrize(
    ("raw", "number"),
    [("1,25", 1.25), ("1.25", 1.25), ("-3", -3.0), ("1 250,5", 1250.5), (",5", 0.5), ("12.", 12.0)],
)
def test_numbers(raw: str, number: float) -> None:
    assert parse_number(raw) == pytest.approx(number)


@pytest.mark.parametrize("raw", ["", "<0,5", ">100", "1,2,3", "positif", "1e3", "nan", "inf"])
def test_not_numbers(raw: str) -> None:
    assert parse_number(raw) is None


def test_section_keeps_order_and_skips_empty_labels_and_other_lines() -> None:
    results, texts = parse_lab_lines(
        [
            "TEX|HÉMATOLOGIE",
            "RES|Hémoglobine|HB|N|13|g/dl|12|16|N|F",
            "RES||XX|N|1",
            "une ligne libre",
            "RES|Plaquettes|PLQ|N|480|G/l|150|400",
            "TEX|Contrôle à prévoir.|",
        ]
    )
    assert [result.label for result in results] == ["Hémoglobine", "Plaquettes"]
    assert [result.abnormal for result in results] == [False, True]
    assert texts == ["HÉMATOLOGIE", "Contrôle à prévoir."]
