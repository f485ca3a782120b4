"""Issue 9, wrong answers: periods in the future, and codes that lost their leading zero.

Every bad file is built in code: a real commune workbook (``make_commune``), then changed
as Excel or a hurried officer would (openpyxl on the saved .xlsx), and run through the
public API and the command line.
"""
from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from xltools import aggregate, import_reports, make_forms
from xltools.cli import main
from xltools.core.definitions import get_definitions
from xltools.core.errors import InputError
from xltools.core.frames import ROW
from xltools.core.reports import latest_month
from xltools.core.validation import validate_book
from xltools.io.forms import fill_form
from xltools.io.reader import read_workbook

PERIOD = "2023-12"
TODAY = dt.date(2023, 12, 20)


def _month_after(month: str) -> str:
    year, mon = map(int, month.split("-"))
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


@pytest.fixture
def commune(make_commune):
    """The sample commune without its 2023-12 reports: the forms of that month are new."""
    return make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != PERIOD]))


def _set_cells(path, sheet_key: str, column_key: str, values: dict[int, object], target=None):
    """Type ``values`` (Excel row -> value) into a column of a commune workbook, as Excel would."""
    defs = get_definitions()
    sheet = defs.sheet(sheet_key)
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet.name]
    (col,) = [c.column for c in ws[1] if c.value == sheet.column(column_key).header]
    for row, value in values.items():
        ws.cell(row, col).value = value
    out = target or path
    wb.save(out)
    return out


def _set_meta(form, defs, **meta):
    """Change the hidden metadata of a form (as a spreadsheet application may rewrite it)."""
    wb = openpyxl.load_workbook(form)
    ws = wb[defs.extra("forms")["meta_sheet"]]
    for row in ws.iter_rows(min_row=1):
        if row[0].value in meta:
            row[1].value = meta[row[0].value]
    wb.save(form)
    return form


def _filled(form, defs, seed=1):
    values = {i.key: (seed * 5 + n) % 20 for n, i in enumerate(defs.numeric_indicators)}
    values.update(reporter="Hồ Văn Test", report_date=dt.datetime(2023, 12, 12))
    return fill_form(form, values)


# ---------------------------------------------------------------------- 9. periods in the future
def test_forms_refuse_a_period_beyond_next_month(commune, tmp_path):
    out = tmp_path / "forms"
    result = CliRunner().invoke(main, ["forms", str(commune), "--period", "2031-05", "-o", str(out)])
    assert result.exit_code == 1, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Lỗi: Chưa tạo phiếu: kỳ 2031-05 còn ở tương lai") and latest_month() in line
    assert not out.exists()
    # next month is fine (forms are made before the month starts); the month after is not
    assert make_forms(commune, latest_month(), tmp_path / "next")
    with pytest.raises(InputError):
        make_forms(commune, _month_after(latest_month()), tmp_path / "later")
    assert not (tmp_path / "later").exists()


def test_import_rejects_a_form_of_a_future_period(commune, tmp_path, defs):
    forms = make_forms(commune, PERIOD, tmp_path / "inbox")
    future = _set_meta(_filled(forms[0], defs), defs, period="2031-05")
    fine = _set_meta(_filled(forms[1], defs, 2), defs, period=latest_month())
    summary = import_reports(commune, [future, fine])
    rejected, accepted = summary.files
    assert rejected.status == "rejected" and accepted.status == "accepted", [f.reasons for f in summary.files]
    assert rejected.reasons == [f"Tệp {future.name}: kỳ báo cáo “2031-05” còn ở tương lai; chỉ nhận phiếu đến "
                                f"kỳ {latest_month()} (tháng sau). Hãy kiểm tra lại kỳ trên phiếu."]
    reports = read_workbook(commune).tables["reports"]
    assert "2031-05" not in set(reports["period"]) and latest_month() in set(reports["period"])


@pytest.mark.slow
def test_validation_warns_about_report_rows_in_the_future(make_commune):
    defs = get_definitions()
    sheet = defs.sheet("reports")
    path = make_commune()
    rows = read_workbook(path).tables["reports"]
    first, second = int(rows[ROW].iloc[0]), int(rows[ROW].iloc[1])
    # 2024-01 began on 15/12/2023 (fine on the 20th); 2024-02 has not begun; a date after today
    _set_cells(path, "reports", "period", {first: "2024-02", second: "2024-01"})
    _set_cells(path, "reports", "report_date", {second: dt.datetime(2024, 1, 5)})
    report = validate_book(read_workbook(path, strict=False), today=TODAY)
    hits = [i for i in report.issues if i.rule == "plan-future-report"]
    letters = read_workbook(path).letters["reports"]
    assert sorted(i.cell for i in hits) == sorted([f"{letters['period']}{first}", f"{letters['report_date']}{second}"])
    assert all(i.severity == "warning" for i in hits)
    by_cell = {i.cell: i.message for i in hits}
    assert "Kỳ báo cáo là 2024-02, còn ở tương lai (hôm nay là 20/12/2023)" in by_cell[f"{letters['period']}{first}"]
    assert f"{sheet.column('report_date').header} là 05/01/2024" in by_cell[f"{letters['report_date']}{second}"]
    # the same workbook checked a few weeks later has nothing in the future
    later = validate_book(read_workbook(path, strict=False), today=dt.date(2024, 2, 20))
    assert not [i for i in later.issues if i.rule == "plan-future-report"]


def test_the_new_rule_is_in_the_catalogue(defs):
    result = CliRunner().invoke(main, ["validate", "--list-rules"])
    (line,) = [x for x in result.output.splitlines() if "`plan-future-report`" in x]
    entry = defs.extra("rules")["rule"]["plan-future-report"]
    assert entry["description"] in line and entry["fix"] in line and "| Cảnh báo |" in line



# ---------------------------------------------------------------------- 12. codes typed as numbers
def _issues(path, period=None):
    return validate_book(read_workbook(path, strict=False), period, today=TODAY).issues


@pytest.mark.slow
def test_a_village_code_typed_as_a_number_is_matched_with_a_warning(make_commune, tmp_path):
    path = make_commune()
    rows = read_workbook(path).tables["reports"]
    teams = read_workbook(path).tables["teams"]
    mine = rows.loc[rows["village_code"] == "03", ROW].astype(int).tolist()
    team_row = int(teams.loc[teams["village_code"] == "05", ROW].iloc[0])
    before = _issues(path)
    totals = aggregate(path, "2023").total()
    typed = _set_cells(path, "reports", "village_code", {r: 3 for r in mine}, target=tmp_path / "typed.xlsx")
    _set_cells(typed, "teams", "village_code", {team_row: 5.0})
    after = _issues(typed)
    matched = [i for i in after if i.rule == "cell-code-matched"]
    letters = read_workbook(typed).letters
    assert sorted(i.cell for i in matched) == sorted(
        [f"{letters['reports']['village_code']}{r}" for r in mine] + [f"{letters['teams']['village_code']}{team_row}"])
    assert all(i.severity == "warning" for i in matched)
    first = next(i for i in matched if i.sheet == get_definitions().sheet("reports").name)
    assert "ghi 3, thiếu số 0 ở đầu" in first.message and "đã hiểu là mã “03”" in first.message
    # nothing else changed: no unknown village, no missing report, the same totals
    assert sorted(map(_key, after)) == sorted(map(_key, before + matched)) and not [
        i for i in after if i.rule == "ref-unknown-village"]
    assert aggregate(typed, "2023").total() == totals


def _key(issue):
    return issue.rule, issue.sheet, issue.cell, issue.message


def test_a_code_that_could_be_two_villages_stays_an_error(make_commune, sample, tmp_path):
    villages = sample[1]["villages"]
    extra = villages.iloc[[0]].assign(code="003", name="Thôn Ba Mới")
    path = make_commune(villages=pd.concat([villages, extra], ignore_index=True))
    rows = read_workbook(path).tables["reports"]
    row = int(rows.loc[rows["village_code"] == "03", ROW].iloc[0])
    _set_cells(path, "reports", "village_code", {row: 3})
    issues = _issues(path)
    cell = f"{read_workbook(path).letters['reports']['village_code']}{row}"
    assert [i.rule for i in issues if i.cell == cell] == ["ref-unknown-village"]
    assert not [i for i in issues if i.rule == "cell-code-matched"]


def test_an_imported_form_whose_village_code_became_a_number(commune, tmp_path, defs):
    forms = make_forms(commune, PERIOD, tmp_path / "inbox")
    form = next(f for f in forms if "_03_" in f.name)
    _set_meta(_filled(form, defs), defs, village_code=3)  # a number, as LibreOffice or WPS may save it
    result = CliRunner().invoke(main, ["import", str(commune), str(form), "--format", "json"])
    assert result.exit_code == 0, result.output
    warning = f"Tệp {form.name}: mã thôn trên phiếu ghi 3, thiếu số 0 ở đầu"
    done = json.loads(result.output)
    assert [f["status"] for f in done["files"]] == ["accepted"] and any(w.startswith(warning) for w in done["warnings"])
    summary = import_reports(commune, [form], dry_run=True)  # the same file again: unchanged, same warning
    (file,) = summary.files
    assert file.status == "unchanged" and file.village_code == "03"
    assert any(w.startswith(warning) and "“03”" in w for w in summary.warnings)
    assert any(warning in line for line in summary.lines(defs))  # printed by the command line too
    reports = read_workbook(commune).tables["reports"]
    assert list(reports.loc[reports["period"] == PERIOD, "village_code"]) == ["03"]


def test_an_imported_form_with_an_ambiguous_number_is_rejected(make_commune, sample, tmp_path, defs):
    villages = sample[1]["villages"]
    extra = villages.iloc[[0]].assign(code="003", name="Thôn Ba Mới")
    reports = sample[1]["reports"]
    commune = make_commune(villages=pd.concat([villages, extra], ignore_index=True),
                           reports=reports[reports["period"] != PERIOD])
    form = next(f for f in make_forms(commune, PERIOD, tmp_path / "inbox") if "_03_" in f.name)
    _set_meta(_filled(form, defs), defs, village_code=3)
    (file,) = import_reports(commune, [form]).files
    assert file.status == "rejected" and file.reasons == [f"Tệp {form.name}: mã thôn “3” không có trong sheet Thôn."]
