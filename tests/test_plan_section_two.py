"""Issue 12 item 12: what the plan's section II asks that 1.1 did not capture (mass media as its own
kind of propaganda, launch-ceremony turnout, the board's inspections, crime-alarm systems needed /
installed, agencies and enterprises on the territory) is on the village form, imported, aggregated
and written in the report's prose."""
from __future__ import annotations

import openpyxl
import pytest

from xltools import aggregate, export, import_reports, make_forms
from xltools.core.definitions import get_definitions, report_defs
from xltools.io.forms import fill_form
from xltools.io.reader import read_workbook
from xltools.io.submission_reader import read_submission

NEW = ("mass_media", "launch_attendance", "board_inspections", "alarm_needed", "alarm_installed")
PERIOD = "2023-12"


@pytest.fixture
def commune(make_commune):
    return make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != PERIOD]))


def _paragraphs(xlsx) -> list[str]:
    rows = list(openpyxl.load_workbook(xlsx, read_only=True)["Báo cáo"].iter_rows(values_only=True))
    return [str(r[0]) for r in rows if r and r[0] is not None] + \
        [str(v) for row in rows for v in row if isinstance(v, str)]


def test_the_new_indicators_are_defined_with_their_kind():
    defs = get_definitions()
    known = {i.key: i for i in defs.indicators}
    assert set(NEW) <= set(known)
    assert known["alarm_needed"].agg == known["alarm_installed"].agg == "last"  # stocks
    assert known["mass_media"].agg == known["launch_attendance"].agg == "sum"  # flows
    # broadcasts are counted as mass media, no longer among the visual items
    assert "phát thanh" not in known["visual_items"].label and "phát thanh" in known["mass_media"].label
    assert {"agencies_count", "enterprises_count"} <= {s.key for s in defs.settings}


@pytest.mark.slow
def test_each_new_indicator_is_on_the_form_imported_aggregated_and_in_the_prose(commune, tmp_path):
    defs = get_definitions()
    forms = make_forms(commune, PERIOD, tmp_path / "forms")
    values = {i.key: n for n, i in enumerate(defs.numeric_indicators, start=1)}
    values.update(alarm_needed=7, alarm_installed=5)
    for form in forms:
        assert set(NEW) <= set(openpyxl.load_workbook(form).defined_names)
        fill_form(form, values)
    summary = import_reports(commune, forms)
    assert {f.status for f in summary.files} == {"accepted"}, [f.reasons for f in summary.files]
    reports = read_workbook(commune).tables["reports"]
    month = reports[reports["period"] == PERIOD]
    for key in NEW:
        assert month[key].astype(int).tolist() == [values[key]] * len(forms), key

    total = aggregate(commune, PERIOD).total()
    for key in NEW:
        assert total[key] == values[key] * len(forms), key

    out = export(commune, PERIOD, tmp_path / "out", force=True)
    lines = _paragraphs(out)
    text = "\n".join(lines)
    n = len(forms)
    assert f"{values['mass_media'] * n} lượt phát thanh" in text
    assert f"{values['launch_attendance'] * n} lượt người dự" in text
    assert f"{values['board_inspections'] * n} lượt kiểm tra" in text
    assert f"cần lắp đặt {7 * n} hệ thống, đã lắp đặt {5 * n} hệ thống" in text
    assert "lượt phát thanh)" not in text  # the visual line no longer counts broadcasts
    # the sample's agencies and enterprises on the territory, in section I
    assert "Trên địa bàn xã có 7 cơ quan, đơn vị, trường học và 3 doanh nghiệp" in text
    totals = {r.key: r.value for r in read_submission(out).rows if not r.part_code}  # for the level above
    for key in NEW:
        assert int(totals[key]) == values[key] * n, key


def test_the_sample_gives_the_new_indicators_realistic_values(make_commune):
    reports = read_workbook(make_commune()).tables["reports"]
    for key in NEW:
        assert reports[key].notna().all() and (reports[key] >= 0).all(), key
    assert (reports["alarm_installed"] <= reports["alarm_needed"]).all()
    assert reports["mass_media"].sum() > 0 and reports["launch_attendance"].sum() > 0


def test_a_line_naming_mass_media_falls_back_when_a_copy_of_the_definitions_lacks_it():
    groups = report_defs(get_definitions())["text"]["results_groups"]
    line = next(e for g in groups for e in g["lines"] if "{mass_media}" in e["text"])
    assert "otherwise" in line and "{" not in line["otherwise"]


@pytest.mark.slow
def test_the_budget_by_purpose_and_by_month_and_the_border_villages_in_the_report(make_commune, tmp_path):
    book = make_commune()
    villages = read_workbook(book).tables["villages"]
    border = villages[villages["border"].fillna(False).astype(bool)]
    assert len(border) >= 2
    text = "\n".join(_paragraphs(export(book, "2023-Q1", tmp_path / "q1", force=True)))
    # the sample's launch ceremony (Lễ ra mắt, five rows of 2023-02) and the maintenance row (no month)
    assert "Theo mục đích chi: Lễ ra mắt mô hình: dự toán 17.500.000 đồng, được duyệt 16.000.000 đồng, " \
           "đã chi 15.510.000 đồng; Duy trì hoạt động: dự toán 12.000.000 đồng" in text
    assert "(các khoản có ghi tháng chi): 15.510.000 đồng." in text
    line = next(t for t in text.split("\n") if "thôn biên giới (" in t)
    assert line.startswith(f"- {len(border)} thôn biên giới ({', '.join(border['name'])})")
    agg = aggregate(book, "2023-Q1")
    parts = agg.parts[agg.parts["code"].isin(border["code"])]
    assert f" {int(parts['movement_launches'].sum())} lần phát động" in line
    assert f"đã lắp đặt {int(parts['alarm_installed'].sum())} trên {int(parts['alarm_needed'].sum())} hệ thống" in line
    # the months of the ceremony are outside 2023-12: nothing spent in that month's rows
    december = "\n".join(_paragraphs(export(book, PERIOD, tmp_path / "dec", force=True)))
    assert "(các khoản có ghi tháng chi): 0 đồng." in december


def test_no_border_line_when_no_village_is_a_border_village(make_commune, sample, tmp_path):
    villages = sample[1]["villages"].copy()
    villages["border"] = False
    text = "\n".join(_paragraphs(export(make_commune(villages=villages), PERIOD, tmp_path / "o", force=True)))
    assert "thôn biên giới (" not in text and "Kết quả ở các thôn biên giới" not in text
