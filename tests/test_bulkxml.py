"""Big tables written as sheet XML after XlsxWriter (io/bulkxml.py): the same cells as XlsxWriter's."""
from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
import python_calamine as pc
import xlsxwriter
from conftest import libreoffice_convert, require_soffice

from xltools.io.bulkxml import bulk_rows, rewrite_parts

HEADER = ["Mã", "Tên", "Giá trị", "Ghi chú"]
ROWS = [
    ["001", "Thôn Pa Rinh 1", 24, "Họp Tổ"],
    ["002", "  Thôn có khoảng trắng  ", 0, "A & B < C > D"],
    ["003", None, None, "_x0041_ giữ nguyên, \x07 ký tự điều khiển"],
    ["004", "Dòng\nhai dòng", 1234567, ""],
    ["001", "Thôn Pa Rinh 1", -5, "Họp Tổ"],  # repeated texts share one string
]
HEIGHTS = {2: 31.5}  # the sheet's row 3 (0-based 2): the first data row after the header at row 1


def _book(bulk: bool) -> bytes:
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    head = wb.add_format({"bold": True, "border": 1})
    text = wb.add_format({"num_format": "@", "text_wrap": True})
    num = wb.add_format({"num_format": "#,##0", "border": 1})
    ws = wb.add_worksheet("Số liệu")
    ws.write_string(0, 0, "Tiêu đề")
    for c, h in enumerate(HEADER):
        ws.write_string(1, c, h, head)
    if bulk:
        bulk_rows(wb).add(ws, 2, ROWS, [text] * 4, [num] * 4, HEIGHTS)
    else:
        for i, row in enumerate(ROWS, start=2):
            if i in HEIGHTS:
                ws.set_row(i, HEIGHTS[i])
            for c, v in enumerate(row):
                if isinstance(v, int):
                    ws.write_number(i, c, v, num)
                else:
                    ws.write_string(i, c, "" if v is None else v, text)
    ws.autofilter(1, 0, 1 + len(ROWS), 3)
    wb.add_worksheet("Sau").write_string(0, 0, "một sheet khác")
    wb.close()
    data = buffer.getvalue()
    return rewrite_parts(data, bulk_rows(wb).edits(data)) if bulk else data


def _cells(data: bytes, tmp_path: Path, name: str) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        out[(ws.title, "dimensions")] = ws.dimensions
        for row in ws.iter_rows():
            for c in row:
                out[(ws.title, c.coordinate)] = (c.value, c.number_format, c.font.b, c.border.left.style,
                                                 c.alignment.wrap_text)
        out[(ws.title, "heights")] = {r: d.height for r, d in ws.row_dimensions.items() if d.height}
    return out


def test_the_bulk_rows_are_the_cells_xlsxwriter_writes(tmp_path):
    ours, theirs = _cells(_book(True), tmp_path, "bulk.xlsx"), _cells(_book(False), tmp_path, "plain.xlsx")
    assert ours == theirs
    assert ours[("Số liệu", "B4")][0] == "  Thôn có khoảng trắng  "
    assert ours[("Số liệu", "D5")][0].startswith("_x0041_ giữ nguyên, ")  # a literal escape stays literal
    assert ours[("Số liệu", "C6")][:2] == (1234567, "#,##0")
    assert ours[("Số liệu", "heights")] == {3: 31.5}
    assert ours[("Số liệu", "dimensions")] == "A1:D7"


def test_calamine_reads_the_bulk_rows(tmp_path):
    path = tmp_path / "bulk.xlsx"
    path.write_bytes(_book(True))
    grid = pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Số liệu").to_python(skip_empty_area=False)
    assert [row[:4] for row in grid[2:]] == [["" if v is None else float(v) if isinstance(v, int) else v for v in row]
                                              for row in ROWS]


def test_a_table_without_a_shared_strings_part_is_refused_plainly():
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_number(0, 0, 1)
    bulk_rows(wb).add(ws, 1, [[2]], [wb.add_format()], [wb.add_format()])
    wb.close()
    with pytest.raises(ValueError, match="sharedStrings"):
        bulk_rows(wb).edits(buffer.getvalue())


@pytest.mark.slow  # LibreOffice
def test_libreoffice_reads_and_saves_the_bulk_rows_as_xlsxwriters(tmp_path):
    require_soffice()
    for name, bulk in (("bulk.xlsx", True), ("plain.xlsx", False)):
        (tmp_path / name).write_bytes(_book(bulk))
    ours, theirs = libreoffice_convert([tmp_path / "bulk.xlsx", tmp_path / "plain.xlsx"],
                                       "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    assert _cells(ours.read_bytes(), tmp_path, "ours.xlsx") == _cells(theirs.read_bytes(), tmp_path, "theirs.xlsx")
    ws = openpyxl.load_workbook(ours)["Số liệu"]
    assert [c.value for c in ws[4]][:4] == ["002", "  Thôn có khoảng trắng  ", 0, "A & B < C > D"]
    assert ws["C3"].number_format == "#,##0" and ws["A3"].number_format == "@"
