"""The package sink (io/xmlsink.py): rows and fields written by editing only the parts they touch."""
from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
import pytest
from conftest import append_rows, libreoffice_convert, require_soffice, rezip

from xltools.core.change import WorkbookChange, table_change
from xltools.core.errors import WorkbookError, WriteError
from xltools.io.reader import read_workbook
from xltools.io.sink import apply_change


def _parts(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_an_import_rewrites_only_the_parts_it_touches(make_commune, defs):
    path = make_commune()
    before = _parts(path)
    append_rows(path, "log", [{"time": dt.datetime(2024, 1, 2, 8, 0), "action": "thử", "result": "OK"}], defs)
    after = _parts(path)
    assert after.keys() == before.keys()  # no part added or dropped
    changed = {name for name in before if before[name] != after[name]}
    log_part = next(n for n in changed if n.startswith("xl/worksheets/sheet"))
    tables = {n for n in changed if n.startswith("xl/tables/")}
    assert len(tables) <= 1  # the Nhật ký table, when it had to grow over the new row
    assert changed <= {log_part, "xl/styles.xml"} | tables  # no formula written: workbook.xml keeps its bytes
    assert "xl/sharedStrings.xml" not in changed and "docProps/core.xml" not in changed


def test_text_dates_and_numbers_read_back_as_written(make_commune, defs):
    path = make_commune()
    when = dt.datetime(2024, 2, 29, 13, 45)
    append_rows(path, "log", [{"time": when, "action": "  Nhập  ", "detail": "=SUM(A1:A3)\nhai dòng",
                               "result": "2023-12"}], defs)
    ws = openpyxl.load_workbook(path)[defs.sheet("log").name]
    letters = read_workbook(path, defs).letters["log"]
    row = ws.max_row
    assert ws[f"{letters['time']}{row}"].value == when
    assert ws[f"{letters['action']}{row}"].value == "  Nhập  "  # spaces kept (xml:space="preserve")
    detail = ws[f"{letters['detail']}{row}"]
    assert detail.value == "=SUM(A1:A3)\nhai dòng" and detail.data_type != "f"  # text, never a formula
    result = ws[f"{letters['result']}{row}"]
    assert result.value == "2023-12" and result.number_format == "@"
    table = next(iter(ws.tables.values()))
    assert table.ref.endswith(str(row))  # the table grew over the new row


def test_a_1904_workbook_gets_its_own_date_serials(make_commune, defs, tmp_path):
    path = make_commune()
    with zipfile.ZipFile(path) as zf:
        workbook = zf.read("xl/workbook.xml").decode()
    assert "date1904" not in workbook
    mac = rezip(path, tmp_path / "mac.xlsx",
                replace={"xl/workbook.xml": workbook.replace("<workbookPr", '<workbookPr date1904="1"', 1).encode()})
    when = dt.datetime(2024, 3, 1, 0, 0)
    append_rows(mac, "log", [{"time": when, "action": "thử"}], defs)
    wb = openpyxl.load_workbook(mac)
    assert wb.epoch == dt.datetime(1904, 1, 1)
    ws = wb[defs.sheet("log").name]
    assert ws[f"{read_workbook(mac, defs).letters['log']['time']}{ws.max_row}"].value == when


def test_a_cell_that_was_not_read_is_never_overwritten(make_commune, defs):
    path = make_commune()
    book = read_workbook(path, defs)
    change = WorkbookChange()
    tc = table_change(book, "log", appends=[{"action": "thử"}])
    change.tables.append(tc)
    wb = openpyxl.load_workbook(path)  # a value below the table that the reader did not take as a row
    letter = tc.letters["detail"]
    wb[defs.sheet("log").name][f"{letter}{tc.first_free_row}"] = "ghi chú"
    wb.save(path)
    before = path.read_bytes()
    with pytest.raises(WriteError) as err:
        apply_change(path, change, defs)
    assert f"{letter}{tc.first_free_row}" in err.value.vi
    assert path.read_bytes() == before


def test_a_damaged_styles_part_is_one_line_and_nothing_is_written(make_commune, defs, tmp_path):
    path = make_commune()
    styles = _parts(path)["xl/styles.xml"]
    broken = rezip(path, tmp_path / "broken.xlsx", replace={"xl/styles.xml": styles[: len(styles) // 2]})
    before = broken.read_bytes()
    with pytest.raises(WorkbookError) as err:
        append_rows(broken, "log", [{"action": "thử"}], defs)
    assert "\n" not in err.value.vi and broken.name in err.value.vi and "hỏng" in err.value.vi
    assert broken.read_bytes() == before
    assert not list(tmp_path.glob(".xltools-*"))  # no temporary file left


@pytest.mark.libreoffice
def test_libreoffice_opens_what_the_package_sink_wrote_and_computes_its_formulas(make_commune, defs, tmp_path):
    require_soffice()
    path = make_commune()
    deadline = dt.date(2020, 1, 1)  # long past: the status formula says overdue
    append_rows(path, "milestones", [{"step_no": 9, "step": "Bước thêm", "deadline": deadline}], defs)
    [saved] = libreoffice_convert([path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    back = read_workbook(saved, defs)
    steps = back.tables["milestones"]
    last = steps.iloc[-1]
    assert last["step"] == "Bước thêm" and last["deadline"] == deadline
    ws = openpyxl.load_workbook(saved, data_only=True)[defs.sheet("milestones").name]
    status_letter = read_workbook(saved, defs).formula_letters["milestones"]["status"]
    assert ws[f"{status_letter}{int(last['_row'])}"].value  # computed by LibreOffice from the written formula
