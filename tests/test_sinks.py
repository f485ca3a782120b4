"""The same WorkbookChange through both sinks gives the same workbook, cell by cell.

The openpyxl sink writes the file; the xlwings sink writes the open book, here through
xlwings' remote engine, whose recorded actions are replayed onto the same file with
openpyxl. The two results are then compared: values, number formats, fonts, fills,
wrapping, links, column widths and table ranges of every sheet the change writes
(horizontal alignment and borders are COM-only calls the remote engine cannot record).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import openpyxl  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import actions, book_from_file, replay  # noqa: E402

import xltools.excel as x  # noqa: E402
from xltools.core.aggregation import aggregate_book  # noqa: E402
from xltools.core.outputs import summary_change, validation_change  # noqa: E402
from xltools.core.validation import validate_book  # noqa: E402
from xltools.io.forms import FormSpec, write_form  # noqa: E402
from xltools.io.reader import read_workbook  # noqa: E402
from xltools.io.sink import apply_change  # noqa: E402
from xltools.verbs.importing import plan_import  # noqa: E402

WHEN = dt.datetime(2024, 1, 5, 9, 30)
# ---------------------------------------------------------------------------- comparing
def _rgb(colour) -> str | None:
    rgb = getattr(colour, "rgb", None)
    return str(rgb)[-6:].upper() if isinstance(rgb, str) else None


def snapshot(path, names):
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        if ws.title not in names:
            continue
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                fill = _rgb(cell.fill.fgColor) if cell.fill.fill_type == "solid" else None
                link = cell.hyperlink.location if cell.hyperlink is not None else None
                if cell.value is None and fill is None and link is None:
                    continue
                f = cell.font
                cells[cell.coordinate] = {
                    "value": cell.value, "format": cell.number_format if cell.value is not None else None,
                    "font": (f.name, f.size, bool(f.bold), bool(f.italic), _rgb(f.color)) if cell.value is not None else None,
                    "fill": fill, "link": link,
                    "wrap": bool(cell.alignment.wrap_text) if cell.value is not None else None,
                }
        widths = {k: d.width for k, d in ws.column_dimensions.items() if d.width}
        out[ws.title] = {"cells": cells, "tables": {t.name: t.ref for t in ws.tables.values()}, "widths": widths}
    return out


def both_sinks(path, change, defs, tmp_path):
    """The file after the openpyxl sink and after the xlwings sink (replayed)."""
    by_file = tmp_path / "file.xlsx"
    by_button = tmp_path / "button.xlsx"
    shutil.copy(path, by_file)
    shutil.copy(path, by_button)
    apply_change(by_file, change, defs)
    book = book_from_file(by_button)
    x.Session(book, defs).apply(change)
    replay(book, by_button)
    names = {defs.sheet(k).name for k in change.sheet_keys(defs)} | {s for s, _ in change.fills}
    return snapshot(by_file, names), snapshot(by_button, names), names


def assert_same(a, b):
    assert a.keys() == b.keys()
    for sheet in a:
        assert a[sheet]["tables"] == b[sheet]["tables"], sheet
        assert a[sheet]["widths"] == b[sheet]["widths"], sheet
        ca, cb = a[sheet]["cells"], b[sheet]["cells"]
        diff = {k: (ca.get(k), cb.get(k)) for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)}
        assert diff == {}, (sheet, dict(list(diff.items())[:5]))


# ---------------------------------------------------------------------------- the cases
def _break_report(tables):
    reports = tables["reports"]
    reports.loc[reports.index[reports["period"] == "2023-12"][0], "team_meetings"] = -3


@pytest.mark.slow
def test_validation_change_is_the_same_through_both_sinks(make_commune, defs, tmp_path):
    path = make_commune(edit=_break_report)
    book = read_workbook(path, defs, strict=False)
    report = validate_book(book, "2023-12")
    previous = [(defs.sheet("villages").name, "C3"), (defs.sheet("reports").name, "D4")]
    change = validation_change(book, report, when=WHEN, user="cán bộ", file=path.name, previous=previous)
    assert change.outputs[0].links and any(change.fills.values()) and None in change.fills.values()
    by_file, by_button, names = both_sinks(path, change, defs, tmp_path)
    assert defs.sheet("checks").name in names and defs.sheet("log").name in names
    assert_same(by_file, by_button)
    checks = by_file[defs.sheet("checks").name]["cells"]
    # text stays text: "2023-12" and a sheet name are written with the text format
    assert all(c["format"] == "@" for c in checks.values() if isinstance(c["value"], str))


@pytest.mark.slow
def test_summary_change_is_the_same_through_both_sinks(make_commune, defs, tmp_path):
    path = make_commune()
    book = read_workbook(path, defs)
    change = summary_change(book, aggregate_book(book, "2023-Q4"), when=WHEN, user="cán bộ", file=path.name)
    by_file, by_button, _ = both_sinks(path, change, defs, tmp_path)
    assert_same(by_file, by_button)
    summary = by_file[defs.sheet("summary").name]["cells"]
    assert any(c["format"] == "0.0%" for c in summary.values())  # ratios keep their format from the button too


@pytest.fixture
def forms_for(defs, sample, tmp_path):
    def make(month, codes, value=3):
        inbox = tmp_path / "Phiếu"
        inbox.mkdir(exist_ok=True)
        villages = dict(zip(sample[1]["villages"]["code"], sample[1]["villages"]["name"]))
        for code in codes:
            spec = FormSpec(sample[0]["commune_code"], sample[0]["commune_name"], code, villages[code], month)
            write_form(inbox / f"PhieuBaoCao_{code}_{month}.xlsx", spec, defs,
                       {ind.key: value for ind in defs.numeric_indicators})
        return inbox
    return make


@pytest.mark.slow
def test_import_change_is_the_same_through_both_sinks(make_commune, defs, sample, forms_for, tmp_path):
    path = make_commune()
    month = sample[0]["current_period"]
    inbox = forms_for(month, ["01", "02"], value=7)  # both replace an existing row of that month
    book = read_workbook(path, defs, strict=False)
    summary, change = plan_import(book, [inbox], exclude=path.resolve(), replace_manual=True)
    assert [f.status for f in summary.files] == ["replaced", "replaced"]
    reports = change.table("reports")
    assert reports is not None and reports.updates
    # only the cells that changed are written: never the cells the form did not change
    assert all("period" not in cells and "village_code" not in cells for cells in reports.updates.values())
    by_file, by_button, _ = both_sinks(path, change, defs, tmp_path)
    assert_same(by_file, by_button)


# ---------------------------------------------------------------------------- the button refuses as the command does
def _with_cells(path, defs, key, cells):
    wb = openpyxl.load_workbook(path)
    ws = wb[defs.sheet(key).name]
    letters = read_workbook(path, defs).letters[key]
    for (column, row), value in cells.items():
        ws[f"{letters[column]}{row}"] = value
    wb.save(path)
    return path


@pytest.mark.parametrize("cells", [
    {("report_date", 3): "32/13/2023"},  # a bad date in an optional column: what it is, the same for both
    {("team_meetings", 3): "48 người"},  # text in a count
    {("team_meetings", 4): -2},
], ids=["bad-optional-date", "text-in-a-count", "negative-count"])
@pytest.mark.slow
def test_the_export_button_decides_as_the_command(make_commune, defs, tmp_path, cells):
    from xltools import export
    from xltools.core.errors import XltoolsError

    path = _with_cells(make_commune(settings={"outbox_dir": "Gửi đi"}), defs, "reports", cells)
    try:
        export(path, out_dir=tmp_path / "by-command")
        command = "exported"
    except XltoolsError as err:
        command = err.key
    book = book_from_file(path)
    text = x.export(book, folder=tmp_path / "by-button")
    alert = actions(book, "alert")[0]["args"]
    button = "exported" if alert[3] == "info" else "refused"
    assert (command == "exported") == (button == "exported"), (command, text)
    if command == "exported":
        made = list((tmp_path / "by-button").glob("*.xlsx"))
        assert [p.name for p in made] == [p.name for p in (tmp_path / "by-command").glob("*.xlsx")]


def test_a_write_that_fails_midway_says_which_sheets_were_written(make_commune, defs, monkeypatch):
    path = make_commune(edit=_break_report)
    book = book_from_file(path)

    def broken(self, values):
        raise OSError("Excel stopped answering")

    monkeypatch.setattr(x.XlwingsSink, "_fields", broken)
    text = x.validate(book)
    assert "bị dừng giữa chừng" in text and "Excel stopped answering" in text
    # the log row, the fills and Kiểm tra were written before the dashboard failed
    for key in ("log", "reports", "checks"):
        assert f"“{defs.sheet(key).name}”" in text
    assert f"“{defs.sheet('dashboard').name}”" not in text.split("Các sheet đã được ghi:")[1].split(";")[0]


# ---------------------------------------------------------------------------- the package sink against openpyxl
def _by_openpyxl(path, change, defs, target):
    """The same change through the openpyxl sink (the one validate and aggregate use)."""
    from xltools.io.sink import apply_to, edit_workbook

    shutil.copy(path, target)
    with edit_workbook(target, defs) as ed:
        apply_to(ed, change)
    return target


def _milestone_change(path, defs, when):
    """Rows appended to Tiến độ (a formula column), a Nhật ký row and dashboard fields."""
    from xltools.core.change import WorkbookChange, log_entry, table_change

    book = read_workbook(path, defs, strict=False)
    change = WorkbookChange(fields={"last_action": "Thử – 9/9", "current_period": "2023-12"})
    change.tables.append(table_change(book, "milestones", appends=[
        {"step": "Họp dân – 2023-12", "deadline": when.date(), "done_on": None, "owner": "- Thành viên"},
        {"step": "Kiểm tra", "deadline": when.date(), "done_on": when.date(), "owner": "0912345678"}]))
    change.tables.append(table_change(book, "log", appends=[log_entry(
        time=when, action="thử", file=path.name, result="OK", detail="=1+1", user="cán bộ")]))
    return change.covering(book)


@pytest.mark.parametrize("case", ["import", "appends"])
def test_the_package_sink_writes_what_the_openpyxl_sink_writes(case, make_commune, defs, sample, forms_for,
                                                              tmp_path):
    import datetime as dt

    from xltools.io.xmlsink import can_patch

    path = make_commune()
    if case == "import":
        inbox = forms_for(sample[0]["current_period"], ["01", "02"], value=7)
        _, change = plan_import(read_workbook(path, defs, strict=False), [inbox], exclude=path.resolve(),
                                replace_manual=True)
    else:
        change = _milestone_change(path, defs, dt.datetime(2024, 1, 15, 9, 30))
    assert can_patch(change)
    by_package = tmp_path / "package.xlsx"
    shutil.copy(path, by_package)
    apply_change(by_package, change, defs)
    by_openpyxl = _by_openpyxl(path, change, defs, tmp_path / "openpyxl.xlsx")
    names = {defs.sheet(k).name for k in change.sheet_keys(defs)}
    assert_same(snapshot(by_package, names), snapshot(by_openpyxl, names))
    # and both read back as the same commune
    a, b = read_workbook(by_package, defs), read_workbook(by_openpyxl, defs)
    for key in a.tables:
        pd.testing.assert_frame_equal(a.tables[key], b.tables[key], check_dtype=False)
    assert a.settings == b.settings
