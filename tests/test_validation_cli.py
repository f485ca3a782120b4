"""`xltools validate` and `validate(..., write=True)`: output formats, exit codes, the Kiểm tra sheet."""
from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import clean

from xltools import validate
from xltools.cli import main
from xltools.core.validation import FIELDS, RULES


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def broken(make_commune):
    """A clean commune with one error (reached > known, L4) and one warning (no launch, D2)."""
    def edit(t):
        clean(t)
        t["reports"].loc[2, "drug_people_known"] = 1
        t["reports"].loc[2, "drug_people_reached"] = 3
        t["reports"].loc[0, "movement_launches"] = 0
    return make_commune(edit=edit)


def test_text_groups_by_sheet_and_exits_1_on_errors(broken):
    result = run("validate", broken)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("1 lỗi, 1 cảnh báo, 0 thông tin.")
    assert lines[2] == "Sheet “Báo cáo thôn” (2 vấn đề)"
    assert lines[3].split()[:2] == ["Cảnh", "báo"] and "D2" in lines[3] and "[plan-monthly-launch]" in lines[3]
    assert "L4" in lines[4] and lines[4].strip().startswith("Lỗi")


def test_warnings_only_exit_0(make_commune):
    result = run("validate", make_commune(edit=clean), "--period", "2023-06")
    assert result.exit_code == 0, result.output
    assert "(kỳ 2023-06): 0 lỗi, 0 cảnh báo" in result.output


def test_json_and_csv(broken):
    result = run("validate", broken, "--format", "json")
    assert result.exit_code == 1
    records = json.loads(result.output)
    assert [tuple(r) for r in records] == [FIELDS] * 2
    assert {(r["rule"], r["cell"], r["severity"]) for r in records} == {
        ("plan-monthly-launch", "D2", "warning"), ("plan-reached-le-known", "L4", "error")}
    csv_out = run("validate", broken, "--format", "csv").output.splitlines()
    assert csv_out[0] == ",".join(FIELDS) and len(csv_out) == 3


def test_list_rules():
    result = run("validate", "--list-rules")
    assert result.exit_code == 0
    assert all(f"`{rule_id}`" in result.output for rule_id in RULES)
    assert "| mã quy tắc |" in result.output.splitlines()[0]
    as_json = json.loads(run("validate", "--list-rules", "--format", "json").output)
    assert {r["id"] for r in as_json} == set(RULES)


def test_exit_2_when_not_a_commune_workbook(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip at all")
    result = CliRunner().invoke(main, ["validate", str(fake)])
    assert result.exit_code == 2 and "lưu lại dạng .xlsx" in result.output
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Danh sách"
    wb.save(other)
    result = CliRunner().invoke(main, ["validate", str(other)])
    assert result.exit_code == 2 and "không phải Sổ theo dõi" in result.output
    assert result.output.count("\n") == 1  # one line
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "missing.xlsx")])
    assert result.exit_code == 2 and "Không tìm thấy" in result.output
    (tmp_path / "folder.xlsx").mkdir()  # a folder: the same one Vietnamese line, not click's English
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "folder.xlsx")])
    assert result.exit_code == 2 and result.output.startswith("Lỗi: ") and result.output.count("\n") == 1


def test_exit_2_for_another_major_version(make_commune):
    path = make_commune(edit=clean, settings={"template_version": "2.0"})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "phiên bản 2.0" in result.output


def test_bad_period_is_one_line(make_commune):
    result = CliRunner().invoke(main, ["validate", str(make_commune(edit=clean)), "--period", "2023-13"])
    assert result.exit_code == 1 and result.output.startswith("Lỗi: Kỳ báo cáo “2023-13” không hợp lệ")


def _checks(path):
    wb = openpyxl.load_workbook(path)
    ws = wb["Kiểm tra"]
    header = [c.value for c in ws[4]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=5, values_only=True) if any(r)]
    return wb, ws, header, rows


def test_write_shows_the_result_in_the_workbook(broken):
    result = run("validate", broken, "--write")
    assert result.exit_code == 1 and "Đã ghi kết quả vào sheet “Kiểm tra”" in result.output
    wb, ws, header, rows = _checks(broken)
    assert header == ["Mức độ", "Sheet", "Ô", "Cột", "Giá trị", "Nội dung", "Cách sửa", "Mã quy tắc"]
    assert [(r["Mức độ"], r["Sheet"], r["Ô"], r["Mã quy tắc"]) for r in rows] == [
        ("Cảnh báo", "Báo cáo thôn", "D2", "plan-monthly-launch"),
        ("Lỗi", "Báo cáo thôn", "L4", "plan-reached-le-known"),
    ]
    assert rows[1]["Cách sửa"] and rows[1]["Giá trị"] == "3"
    link = ws["C6"].hyperlink
    assert link.location == "'Báo cáo thôn'!L4"
    reports = wb["Báo cáo thôn"]
    assert reports["L4"].fill.fgColor.rgb.endswith("FFC7CE")  # error: red
    assert reports["D2"].fill.fgColor.rgb.endswith("FFEB9C")  # warning: yellow
    assert reports["L5"].fill.fill_type is None
    assert wb["Bảng điều khiển"]["C7"].value.startswith("1 lỗi / 1 cảnh báo")
    log = [r for r in wb["Nhật ký"].iter_rows(min_row=2, values_only=True) if any(r)]
    assert len(log) == 1 and log[0][1] == "Kiểm tra dữ liệu" and log[0][4] == "Có lỗi"
    assert log[0][5] == "1 lỗi, 1 cảnh báo, 0 thông tin"
    assert list((broken.parent / "Sao_luu").glob("*.xlsx"))  # the previous file is kept


@pytest.mark.slow
def test_next_run_clears_old_highlights_and_keeps_user_fills(broken):
    validate(broken, write=True, today=dt.date(2023, 12, 20))
    wb = openpyxl.load_workbook(broken)
    ws = wb["Báo cáo thôn"]
    ws["L4"] = 1  # fixed
    ws["B9"].fill = openpyxl.styles.PatternFill("solid", fgColor="00B0F0")  # the officer's own colour
    wb.save(broken)
    report = validate(broken, write=True, today=dt.date(2023, 12, 20))
    assert report.ok and report.warnings == 1
    wb, ws, header, rows = _checks(broken)
    reports = wb["Báo cáo thôn"]
    assert reports["L4"].fill.fill_type is None
    assert reports["D2"].fill.fgColor.rgb.endswith("FFEB9C")
    assert reports["B9"].fill.fgColor.rgb.endswith("00B0F0")
    assert [r["Ô"] for r in rows] == ["D2"]
    assert wb["Bảng điều khiển"]["C7"].value.startswith("0 lỗi / 1 cảnh báo")
    assert len([r for r in wb["Nhật ký"].iter_rows(min_row=2, values_only=True) if any(r)]) == 2


def test_write_without_issues_says_so(make_commune):
    path = make_commune(edit=clean)
    report = validate(path, "2023-06", write=True)
    assert report.issues == []
    wb, ws, header, rows = _checks(path)
    assert ws["A5"].value == "Không phát hiện vấn đề nào."
    assert "0 lỗi, 0 cảnh báo" in ws["A2"].value


@pytest.mark.slow
def test_table_level_issue_links_to_the_column_header(make_commune):
    def edit(t):
        clean(t)
        t["board"] = t["board"][t["board"]["village_code"] != "05"].reset_index(drop=True)
    path = make_commune(edit=edit)
    validate(path, write=True, today=dt.date(2023, 12, 20))
    wb, ws, header, rows = _checks(path)
    (row,) = [r for r in rows if r["Mã quy tắc"] == "plan-board-village-heads"]
    assert row["Ô"] is None
    assert ws["B5"].hyperlink.location == "'Ban điều hành'!E1"


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_demo_plants_mistakes_and_validates(demo):
    assert demo.exit_code == 0, demo.output
    lines = demo.lines
    (at,) = [n for n, line in enumerate(lines) if line.startswith("Đã kiểm tra sổ mẫu")]
    assert "2 lỗi" in lines[at]
    errors = [line for line in lines[at + 1:] if line.startswith("    ")]  # the errors, under the summary
    assert any("Tổ điều hành" in line and "0 Tổ trưởng" in line for line in errors)
    assert any("(3) lớn hơn" in line for line in errors)
    report = validate(demo.workbook, today=dt.date(2023, 12, 20))
    by_rule = report.by_rule()
    assert by_rule["plan-team-leader"] == 1 and by_rule["plan-reached-le-known"] == 1
    missing = [i for i in report.issues if i.rule == "plan-missing-report"]
    assert ("07", True) in {(i.value, "2023-11" in i.message) for i in missing}
    late = [i for i in report.issues if i.rule == "plan-late-report" and "25/11/2023" in i.message]
    assert len(late) == 1
    wb = openpyxl.load_workbook(demo.workbook)
    assert wb["Kiểm tra"].max_row > 5
