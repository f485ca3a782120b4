"""The button handlers (xltools.excel) against xlwings' remote engine.

Each test builds a real commune workbook, turns it into the JSON payload the VBA
client sends (``conftest.payload_from_file``), runs the handler on ``xw.Book(json=...)``
and asserts the actions the handler returned: values written to the right
cells, fills set and cleared, tables resized, the message box.
"""
from __future__ import annotations

import datetime as dt
import os

import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import pandas as pd  # noqa: E402
from conftest import actions, book_from_file, colors, sheet_index, written_cells  # noqa: E402

import xltools.excel as x  # noqa: E402
from xltools.core.periods import Period  # noqa: E402
from xltools.io.reader import read_workbook  # noqa: E402
from xltools.io.sink import edit_workbook  # noqa: E402

ERROR_FILL = "#ffc7ce"


def _alert(book):
    found = actions(book, "alert")
    assert len(found) == 1, found
    text, title, _buttons, mode, _callback = found[0]["args"]
    return text, mode


def _break_report(tables):
    """A negative count in a report of the current period (2023-12): an error on that cell."""
    reports = tables["reports"]
    reports.loc[reports.index[reports["period"] == "2023-12"][0], "team_meetings"] = -3


def _broken_cell(path, defs):
    problem = next(p for p in read_workbook(path, defs, strict=False).problems if p.key == "team_meetings")
    return f"{problem.column}{problem.row}"


def _shown(value):
    """What Excel sends for a cell: a HYPERLINK formula's friendly name, not the formula."""
    if isinstance(value, str) and value.startswith("=HYPERLINK("):
        return value.rsplit(",", 1)[1].rstrip(")").strip('"')
    return value


def _kiem_tra_rows(book, defs):
    """The rows written to Kiểm tra, as lists, keyed by Excel row."""
    cells = written_cells(book, defs.sheet("checks").name)
    rows: dict[int, dict[str, object]] = {}
    for address, value in cells.items():
        col = "".join(ch for ch in address if ch.isalpha())
        rows.setdefault(int(address[len(col):]), {})[col] = value
    return rows


def test_validate_lists_the_issue_and_highlights_its_cell(make_commune, defs):
    path = make_commune(edit=_break_report)
    cell = _broken_cell(path, defs)
    book = book_from_file(path)

    text = x.validate(book)

    reports = defs.sheet("reports").name
    rows = _kiem_tra_rows(book, defs)
    listed = [r for r in rows.values() if r.get("B") == reports and cell in str(r.get("C"))]
    assert listed, rows
    assert listed[0]["A"] == "Lỗi"
    link = [a for a in actions(book, "addHyperlink") if a["sheet_position"] == sheet_index(book, defs.sheet("checks").name)]
    assert ["#'" + reports + "'!" + cell, cell] in [a["args"][:2] for a in link]
    assert colors(book, reports)[cell] == ERROR_FILL
    assert "1 lỗi" in text
    message, mode = _alert(book)
    assert message == text and mode == "info"
    # the Kiểm tra sheet is emptied by contents before it is written, never wiped with clear()
    funcs = [(a["func"], a["sheet_position"]) for a in actions(book)]
    checks = sheet_index(book, defs.sheet("checks").name)
    assert funcs.index(("rangeClearContents", checks)) < funcs.index(("setValues", checks))
    assert ("sheetClear", checks) not in funcs and ("rangeClear", checks) not in funcs


@pytest.mark.slow
def test_validate_clears_the_highlights_of_the_previous_run(make_commune, defs, tmp_path):
    broken = make_commune("Hong.xlsx", edit=_break_report)
    cell = _broken_cell(broken, defs)
    first = book_from_file(broken)
    x.validate(first)
    previous = _kiem_tra_rows(first, defs)

    fixed = make_commune("SoTheoDoi_Test.xlsx")  # the officer corrected the value
    with edit_workbook(fixed) as ed:  # the Kiểm tra sheet as Excel shows it after the first run
        ws = ed.worksheet("checks")
        for r, values in previous.items():
            for col, value in values.items():
                ws[f"{col}{r}"] = _shown(value)
    second = book_from_file(fixed)
    x.validate(second)

    reports = defs.sheet("reports").name
    assert colors(second, reports).get(cell, "missing") is None  # old fill removed
    assert not any(cell in str(r.get("C")) for r in _kiem_tra_rows(second, defs).values() if r.get("B") == reports)


def test_validate_updates_the_dashboard_and_appends_a_log_row(make_commune, defs):
    path = make_commune(edit=_break_report)
    before = read_workbook(path, defs)
    book = book_from_file(path)
    x.validate(book)

    dashboard = written_cells(book, defs.sheet("dashboard").name)
    fields = {f.key: f.cell for f in defs.sheet("dashboard").fields}
    assert dashboard[fields["validation"]].startswith("1 lỗi / ")
    assert dashboard[fields["last_action"]].startswith("Kiểm tra dữ liệu lúc ")
    active = before.tables["villages"]["active"].fillna(True).astype(bool).sum()
    assert dashboard[fields["villages_reported"]] == f"{active}/{active}"  # as `xltools import` writes it

    log = written_cells(book, defs.sheet("log").name)
    next_row = int(before.tables["log"]["_row"].max()) + 1 if len(before.tables["log"]) else 2
    letters = before.letters["log"]
    assert log[f"{letters['action']}{next_row}"] == "Kiểm tra dữ liệu"
    assert log[f"{letters['result']}{next_row}"] == "Có lỗi"  # the same words as `xltools validate --write`


def test_aggregate_writes_the_summary_sheet(make_commune, defs, sample):
    path = make_commune()
    book = book_from_file(path)
    text = x.aggregate(book)

    summary = defs.sheet("summary").name
    cells = written_cells(book, summary)
    period = Period.parse(sample[0]["current_period"])
    assert period.label.upper() in cells["A1"]
    assert summary in text
    # the total row follows the villages; a `sum` indicator equals the villages' sum
    rows: dict[int, dict[str, object]] = {}
    for address, value in cells.items():
        col = "".join(ch for ch in address if ch.isalpha())
        rows.setdefault(int(address[len(col):]), {})[col] = value
    from xltools.core.aggregation import aggregate_book

    labels = aggregate_book(read_workbook(path, defs), period).labels
    header = next(r for r, line in rows.items() if labels["team_meetings"] in line.values())
    col = next(c for c, v in rows[header].items() if v == labels["team_meetings"])
    reports = sample[1]["reports"]
    month = reports[reports["period"] == str(period)]
    total_row = next(r for r, line in rows.items() if line.get("A") == labels["_total"])
    assert total_row == header + 1 + month["village_code"].nunique()
    assert rows[total_row][col] == int(month["team_meetings"].sum())
    assert _alert(book)[1] == "info"


def test_a_missing_setting_becomes_a_vietnamese_message_box(make_commune, defs):
    path = make_commune(settings={"current_period": ""})
    book = book_from_file(path)
    text = x.aggregate(book)  # does not raise
    message, mode = _alert(book)
    assert mode == "critical" and message == text
    assert "Tổng hợp: không thực hiện được" in message
    assert defs.setting("current_period").label in message


def test_an_unexpected_error_is_a_message_box_not_a_traceback(make_commune, monkeypatch):
    import xltools.core.aggregation

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(xltools.core.aggregation, "aggregate_book", broken)
    book = book_from_file(make_commune())
    x.aggregate(book)
    message, mode = _alert(book)
    assert mode == "critical"
    assert "lỗi không mong đợi" in message and "ZeroDivisionError" in message
    assert "Traceback" not in message


def test_a_workbook_that_is_not_ours_is_refused_in_a_message_box(tmp_path):
    import xlsxwriter

    other = tmp_path / "Khac.xlsx"
    wb = xlsxwriter.Workbook(other)
    wb.add_worksheet("Trang tính 1").write("A1", "xin chào")
    wb.close()
    book = book_from_file(other)
    x.validate(book)
    message, mode = _alert(book)
    assert mode == "critical" and "không phải Sổ theo dõi" in message


def test_a_workbook_of_another_template_version_is_refused_before_the_verb_runs(make_commune, defs):
    book = book_from_file(make_commune(settings={"template_version": "2.0"}))
    x.aggregate(book)
    message, mode = _alert(book)
    assert mode == "critical"
    assert "theo mẫu sổ phiên bản 2.0" in message
    dashboard = sheet_index(book, defs.sheet("dashboard").name)
    assert {a["sheet_position"] for a in actions(book, "setValues")} <= {dashboard}  # only the status cell


# ---------------------------------------------------------------------------- file-based verbs
def _without_month(month):
    def edit(tables):
        reports = tables["reports"]
        tables["reports"] = reports[reports["period"] != month].reset_index(drop=True)
    return edit


def test_make_forms_writes_one_form_per_active_village_next_to_the_workbook(make_commune, defs, sample, tmp_path):
    path = make_commune()
    book = book_from_file(path)
    text = x.make_forms(book)
    _message, mode = _alert(book)
    assert mode == "info", text
    active = read_workbook(path, defs).tables["villages"]["active"].fillna(True).astype(bool).sum()
    forms = list(tmp_path.glob("*/*.xlsx"))
    assert len(forms) == active
    assert str(forms[0].parent) in text
    from xltools.verbs.forms import default_folder

    # the folder `xltools forms` uses beside this workbook (forms.toml out_dir)
    assert {f.parent for f in forms} == {default_folder(path, Period.parse(sample[0]["current_period"]), defs)}


def test_import_reports_writes_the_new_rows_into_the_open_book(make_commune, defs, sample, tmp_path):
    from xltools.io.forms import FormSpec, write_form

    month = sample[0]["current_period"]
    path = make_commune(edit=_without_month(month), settings={"inbox_dir": "Phiếu đã nhận"})
    inbox = tmp_path / "Phiếu đã nhận"
    inbox.mkdir()
    villages = sample[1]["villages"]
    for code, name in list(zip(villages["code"], villages["name"]))[:2]:
        spec = FormSpec(sample[0]["commune_code"], sample[0]["commune_name"], code, name, month)
        values = {ind.key: 3 for ind in defs.numeric_indicators}
        write_form(inbox / f"PhieuBaoCao_{code}_{month}.xlsx", spec, defs, values)
    (inbox / "hỏng.xlsx").write_bytes(b"not a workbook")
    before = read_workbook(path, defs)

    book = book_from_file(path)
    text = x.import_reports(book)

    message, mode = _alert(book)
    assert mode == "info", message
    assert "hỏng.xlsx" in message
    reports = defs.sheet("reports").name
    cells = written_cells(book, reports)
    letters = before.letters["reports"]
    new_rows = len(before.tables["reports"]) + 2
    written_periods = [cells.get(f"{letters['period']}{r}") for r in range(2, new_rows + 2)]
    assert written_periods.count(month) == 2
    resize = [a for a in actions(book, "resizeTable") if a["sheet_position"] == sheet_index(book, reports)]
    assert resize and resize[-1]["args"][1].endswith(f"${new_rows + 1}")
    log = written_cells(book, defs.sheet("log").name)
    assert any("PhieuBaoCao_" in str(v) for v in log.values())
    assert text == message
    dashboard = written_cells(book, defs.sheet("dashboard").name)
    reported = next(f.cell for f in defs.sheet("dashboard").fields if f.key == "villages_reported")
    active = before.tables["villages"]["active"].fillna(True).astype(bool).sum()
    assert dashboard[reported] == f"2/{active}"  # the two imported villages of this month


@pytest.mark.slow
def test_export_writes_the_submission_to_the_outbox(make_commune, defs, sample, tmp_path):
    path = make_commune(settings={"outbox_dir": "Báo cáo gửi"})
    book = book_from_file(path)
    text = x.export(book)
    message, mode = _alert(book)
    assert mode == "info", message
    files = list((tmp_path / "Báo cáo gửi").glob("BC138_*.xlsx"))
    assert [f.name for f in files] == [f"BC138_{sample[0]['commune_code']}_{sample[0]['current_period']}.xlsx"]
    assert files[0].name in text
    draft = files[0].with_suffix(".docx")  # the Word draft the officials finish, as `export --docx` writes it
    assert draft.is_file() and draft.name in text


def test_export_refused_by_validation_errors_says_so(make_commune, defs, tmp_path):
    path = make_commune(edit=_break_report, settings={"outbox_dir": "Báo cáo gửi"})
    book = book_from_file(path)
    x.export(book)
    message, mode = _alert(book)
    assert mode == "critical"
    assert message.startswith("Xuất báo cáo gửi cấp trên: không thực hiện được.\n"), message
    assert path.name in message and "“Kiểm tra dữ liệu”" in message and "--force" not in message
    assert not list(tmp_path.glob("Báo cáo gửi/*.xlsx"))


def test_handlers_read_each_sheet_once(make_commune, defs, monkeypatch):
    calls = []
    real = x.read_grid

    def counting(ws):
        calls.append(ws.name)
        return real(ws)

    monkeypatch.setattr(x, "read_grid", counting)
    book = book_from_file(make_commune())
    x.validate(book)
    assert len(calls) == len(set(calls))
    assert _alert(book)[1] == "info"


def test_dates_and_numbers_arrive_typed(make_commune, defs):
    book = book_from_file(make_commune())
    session = x.Session(book)
    cb = session.commune()
    reference = read_workbook(make_commune("Ref.xlsx"), defs)
    for key in ("villages", "reports", "milestones", "budget"):
        pd.testing.assert_frame_equal(cb.tables[key], reference.tables[key], check_dtype=True)
    assert cb.settings == reference.settings
    assert isinstance(cb.tables["villages"]["team_founded"].dropna().iloc[0], dt.date)
