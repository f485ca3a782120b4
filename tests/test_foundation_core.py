"""Core pieces of the foundation: text parsing, settings, definitions, CSV input."""
from __future__ import annotations

import unicodedata

import pytest

from xltools.core.definitions import load_definitions
from xltools.core.errors import DefinitionsError, InputError
from xltools.core.settings import resolve
from xltools.core.text import ValueProblem, clean, parse_count, parse_number, slug
from xltools.io.csvfiles import read_csv_table


@pytest.mark.parametrize("value, expected", [(12, 12), (12.0, 12), ("12", 12), (" 7 ", 7), ("1.234", 1234),
                                             ("1 234", 1234), ("1.234.567", 1234567), (0, 0)])
def test_parse_count_accepts_how_people_write_counts(value, expected):
    assert parse_count(value) == expected


@pytest.mark.parametrize("value, reason", [("12 người", "reason_not_whole"), (-1, "reason_negative"),
                                           ("-3", "reason_negative"), (1.5, "reason_fraction"),
                                           ("1,5", "reason_fraction"), ("#REF!", "reason_error_value"),
                                           (True, "reason_not_whole"), ("", "reason_empty")])
def test_parse_count_rejects_with_a_reason(value, reason):
    with pytest.raises(ValueProblem) as err:
        parse_count(value)
    assert err.value.reason == reason


def test_parse_number_reads_vietnamese_decimals():
    assert parse_number("1.234,5") == 1234.5
    assert parse_number("12,5") == 12.5
    assert parse_number("2.5") == 2.5


def test_clean_normalises_unicode_and_spaces():
    nfd = unicodedata.normalize("NFD", "Hồng  Thủy\u00a0")
    assert clean(nfd) == "Hồng Thủy"
    assert clean("   ") is None


def test_slug_is_windows_safe():
    assert slug("Hồng Thủy") == "HongThuy"
    assert slug("Đông Sơn / A Lưới") == "DongSonALuoi"


def test_settings_defaults_and_placeholders(defs):
    s = resolve(defs, {"commune_name": "Hồng Thủy", "commune_code": "20041", "upper_level_name": "huyện A Lưới"})
    assert s["parent_body"] == "UBND XÃ HỒNG THỦY"
    assert s["upper_bcd_name"] == "BCĐ 138 huyện A Lưới"
    assert s["place_name"] == "Hồng Thủy"
    assert s["form_deadline_day"] == 18 and s["template_version"] == defs.version


def test_settings_reject_a_bad_commune_code_and_unknown_keys(defs):
    with pytest.raises(InputError, match="5"):
        resolve(defs, {"commune_code": "2004"})
    with pytest.raises(InputError, match="commune_nam"):
        resolve(defs, {"commune_nam": "x"})


def test_an_indicator_added_to_the_definitions_reaches_the_reports_table(own_definitions):
    own_definitions.add_indicator()
    defs = load_definitions(own_definitions)
    reports = defs.sheet("reports")
    assert "school_talks" in reports.keys and "school_talks" in defs.sheet("history").keys
    assert reports.column("school_talks").header == "Nói chuyện ở trường"


def test_broken_definitions_are_reported_with_the_file(own_definitions):
    (own_definitions / "lists.toml").write_text("[yes_no\n", encoding="utf-8")
    with pytest.raises(DefinitionsError, match="lists.toml"):
        load_definitions(own_definitions)


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: base letters precomposed, tone marks combining."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in _TONES))
            out += (base + "".join(p for p in parts if p in _TONES)).encode("cp1258")
    return out


def test_csv_in_windows_1258_with_semicolons(tmp_path):
    path = tmp_path / "thon.csv"
    text = "Mã thôn;Tên thôn;Số hộ;Số nhân khẩu;Đang hoạt động\n01;Thôn Lê Triêng;120;500;Có\n"
    path.write_bytes(_cp1258(text))
    frame = read_csv_table(path, "villages")
    assert frame.iloc[0]["name"] == "Thôn Lê Triêng" and frame.iloc[0]["households"] == 120


def test_csv_errors_name_the_row_and_column(tmp_path):
    path = tmp_path / "thon.csv"
    path.write_text("Mã thôn,Tên thôn,Số hộ,Số nhân khẩu,Đang hoạt động\n01,A,120,500,Có\n02,B,nhiều,40,Có\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_csv_table(path, "villages")
    assert "dòng 3" in err.value.vi and "Số hộ" in err.value.vi
    path.write_text("Tên thôn\nA\n", encoding="utf-8")
    with pytest.raises(InputError, match="Mã thôn"):
        read_csv_table(path, "villages")


def test_column_letters_round_trip():
    from hypothesis import given
    from hypothesis import strategies as st

    from xltools.core.frames import column_index, column_letter

    assert (column_letter(0), column_letter(25), column_letter(26), column_letter(16383)) == ("A", "Z", "AA", "XFD")

    @given(st.integers(min_value=0, max_value=16383))
    def round_trip(i):
        assert column_index(column_letter(i)) == i

    round_trip()
