"""Nothing lost, whatever application touched the file (issue 9, items 1 and 2).

Rows typed below a table are rows of the table (the writers grow the table over them and
never write on top of them); what the toolkit does not understand (pictures, comments,
conditional formats, charts, another table, names, a print area) survives every writing
verb; what openpyxl cannot carry makes the verb refuse before anything is written.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import zipfile

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import openpyxl  # noqa: E402
import pytest  # noqa: E402
from conftest import actions, book_from_file, libreoffice_convert, require_soffice, written_cells  # noqa: E402
from openpyxl.chart import BarChart, Reference  # noqa: E402
from openpyxl.comments import Comment  # noqa: E402
from openpyxl.drawing.image import Image  # noqa: E402
from openpyxl.formatting.rule import CellIsRule  # noqa: E402
from openpyxl.styles import PatternFill  # noqa: E402
from openpyxl.workbook.defined_name import DefinedName  # noqa: E402
from openpyxl.worksheet.table import Table  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

import xltools.excel as x  # noqa: E402
from xltools import aggregate, import_reports, validate  # noqa: E402
from xltools.core.errors import WorkbookError  # noqa: E402
from xltools.io.forms import FormSpec, write_form  # noqa: E402
from xltools.io.reader import read_workbook  # noqa: E402
from xltools.io.sink import lost_parts, package_inventory  # noqa: E402


def _form(folder, sample, defs, code, month, value=4):
    villages = dict(zip(sample[1]["villages"]["code"], sample[1]["villages"]["name"]))
    spec = FormSpec(sample[0]["commune_code"], sample[0]["commune_name"], code, villages[code], month)
    folder.mkdir(exist_ok=True)
    target = folder / f"PhieuBaoCao_{code}_{month}.xlsx"
    write_form(target, spec, defs, {ind.key: value for ind in defs.numeric_indicators})
    return target


def _without(month, code):
    def edit(tables):
        r = tables["reports"]
        tables["reports"] = r[~((r["period"] == month) & (r["village_code"] == code))].reset_index(drop=True)
    return edit


def _type_below_table(path, defs, key, values):
    """Type a row just below a table, as LibreOffice or a paste leaves it (the table does not grow)."""
    wb = openpyxl.load_workbook(path)
    sheet = defs.sheet(key)
    ws = wb[sheet.name]
    table = ws.tables[sheet.table]
    last = int(re.findall(r"\d+", table.ref)[-1])
    headers = {c.value: c.column for c in ws[1]}
    for col in sheet.columns:
        if col.key in values:
            ws.cell(last + 1, headers[col.header]).value = values[col.key]
    wb.save(path)
    return last + 1, table.ref


# ---------------------------------------------------------------------------- 1. rows outside a table
@pytest.mark.slow
def test_a_report_typed_below_the_table_survives_an_import(make_commune, defs, sample, tmp_path):
    month = sample[0]["current_period"]
    path = make_commune(edit=_without(month, "01"))
    hand = {"period": month, "village_code": "01", "team_meetings": 2, "launches": 1, "note": "gõ tay dưới bảng"}
    row, old_ref = _type_below_table(path, defs, "reports", hand)
    log_row, _ = _type_below_table(path, defs, "log", {"action": "ghi tay", "detail": "dòng gõ dưới Nhật ký"})

    report = validate(path)
    outside = [i for i in report.issues if i.rule == "structure-row-outside-table"]
    assert {(i.sheet, i.row) for i in outside} >= {(defs.sheet("reports").name, row), (defs.sheet("log").name, log_row)}
    assert all(i.severity == "warning" and "nằm ngoài bảng, đã được tính vào bảng" in i.message for i in outside)

    summary = import_reports(path, [_form(tmp_path / "in", sample, defs, "02", month, value=9)], replace_manual=True)
    assert summary.written

    after = read_workbook(path, defs)
    reports = after.tables["reports"]
    kept = reports[reports["_row"] == row].iloc[0]
    assert kept["village_code"] == "01" and kept["note"] == "gõ tay dưới bảng" and kept["team_meetings"] == 2
    log = after.tables["log"]
    assert "dòng gõ dưới Nhật ký" in set(log["detail"])  # the hand-typed log row is still there
    wb = openpyxl.load_workbook(path)
    for key in ("reports", "log"):
        sheet = defs.sheet(key)
        end = int(re.findall(r"\d+", wb[sheet.name].tables[sheet.table].ref)[-1])
        assert end >= int(after.tables[key]["_row"].max())  # the table grew over every row it holds
    assert not [i for i in validate(path).issues if i.rule == "structure-row-outside-table"]


def test_another_table_below_is_not_read_as_rows(make_commune, defs):
    path = make_commune()
    wb = openpyxl.load_workbook(path)
    ws = wb[defs.sheet("budget").name]
    start = ws.max_row + 3
    ws.cell(start, 1, "Ghi chú của cán bộ")
    ws.cell(start, 2, "Số tiền")
    ws.cell(start + 1, 1, "Mua loa")
    ws.cell(start + 1, 2, 1_500_000)
    ws.add_table(Table(displayName="tblGhiChu", ref=f"A{start}:B{start + 1}"))
    wb.save(path)
    before = read_workbook(path, defs).tables["budget"]
    assert "Ghi chú của cán bộ" not in set(before["item"].dropna()) and "Mua loa" not in set(before["item"].dropna())


# ---------------------------------------------------------------------------- 2. what the toolkit does not understand
def _png() -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (40, 20), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def _decorate(path, defs):
    """A logo, a comment, conditional formatting, a chart, a second table, a name, a print area."""
    wb = openpyxl.load_workbook(path)
    dashboard = wb[defs.sheet("dashboard").name]
    logo = Image(io.BytesIO(_png()))
    dashboard.add_image(logo, "H2")
    villages = wb[defs.sheet("villages").name]
    villages["B2"].comment = Comment("Thôn mới sáp nhập", "Cán bộ")
    villages.conditional_formatting.add("D2:D20", CellIsRule(operator="lessThan", formula=["50"],
                                                           fill=PatternFill("solid", fgColor="FFFF00")))
    villages.print_area = "A1:I12"
    own = wb.create_sheet("Theo dõi riêng")
    own.append(["Tháng", "Số buổi"])
    for m, n in (("10", 3), ("11", 4), ("12", 2)):
        own.append([m, n])
    own.add_table(Table(displayName="tblRieng", ref="A1:B4"))
    chart = BarChart()
    chart.add_data(Reference(own, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    own.add_chart(chart, "D2")
    wb.defined_names["ThangTheoDoi"] = DefinedName("ThangTheoDoi", attr_text="'Theo dõi riêng'!$A$2:$A$4")
    wb.save(path)


@pytest.mark.slow
def test_every_writing_verb_keeps_what_it_does_not_understand(make_commune, defs, sample, tmp_path):
    month = sample[0]["current_period"]
    path = make_commune(edit=_without(month, "03"))
    _decorate(path, defs)
    before = package_inventory(path)
    assert before["images"] and before["charts"] and before["comments"] and before["conditional_formats"]

    form = _form(tmp_path / "in", sample, defs, "03", month)
    steps = [
        ("import", lambda: import_reports(path, [form])),
        ("validate --write", lambda: validate(path, write=True)),
        ("aggregate --write", lambda: aggregate(path, write=True)),
    ]
    for name, run in steps:
        run()
        after = package_inventory(path)
        assert lost_parts(before, after) == {}, name
    wb = openpyxl.load_workbook(path)
    assert wb[defs.sheet("villages").name]["B2"].comment.text == "Thôn mới sáp nhập"
    assert "ThangTheoDoi" in wb.defined_names
    assert wb[defs.sheet("villages").name].print_area


def _add_text_box(path):
    """A drawn text box beside a picture: openpyxl would drop the shape (it keeps only pictures and charts)."""
    src = path.with_suffix(".src.xlsx")
    shutil.move(path, src)
    shape = (b'<xdr:twoCellAnchor><xdr:from><xdr:col>10</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row>'
             b'<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>13</xdr:col><xdr:colOff>0</xdr:colOff>'
             b'<xdr:row>4</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
             b'<xdr:sp macro="" textlink="" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
             b'<xdr:nvSpPr><xdr:cNvPr id="9" name="Hop chu 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr>'
             b'<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1000000" cy="500000"/></a:xfrm>'
             b'<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr><xdr:txBody><a:bodyPr/><a:p><a:r>'
             b'<a:t>Ghi chu</a:t></a:r></a:p></xdr:txBody></xdr:sp><xdr:clientData/></xdr:twoCellAnchor>')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if re.match(r"xl/drawings/drawing\d+\.xml$", info.filename):
                if b"</xdr:wsDr>" in data:
                    data = data.replace(b"</xdr:wsDr>", shape + b"</xdr:wsDr>")
                else:  # the drawing namespace as the default one (openpyxl writes it so)
                    data = data.replace(b"</wsDr>", shape.replace(b"xdr:", b"") + b"</wsDr>")
            zout.writestr(info, data)
    src.unlink()


def test_a_part_openpyxl_cannot_keep_refuses_the_write_and_names_it(make_commune, defs):
    path = make_commune()
    _decorate(path, defs)
    _add_text_box(path)
    before = path.read_bytes()
    with pytest.raises(WorkbookError) as err:
        validate(path, write=True)
    assert err.value.key == "package_would_lose"
    assert "hình vẽ/hộp chữ/ảnh" in err.value.vi and "chưa bị thay đổi" in err.value.vi
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".xltools-*"))


# ---------------------------------------------------------------------------- the button keeps what it did not change
@pytest.mark.slow
def test_the_import_button_keeps_hand_typed_values_it_did_not_change(make_commune, defs, sample, tmp_path):
    month = sample[0]["current_period"]
    path = make_commune(edit=_without(month, "03"), settings={"inbox_dir": "Phiếu"})
    wb = openpyxl.load_workbook(path)
    ws = wb[defs.sheet("reports").name]
    letters = read_workbook(path, defs).letters["reports"]
    ws[f"{letters['concentrated_attendance']}3"] = "48 người"  # typed by hand: not a number
    ws[f"{letters['report_date']}4"] = "32/13/2023"
    wb.save(path)
    _form(tmp_path / "Phiếu", sample, defs, "03", month)
    book = book_from_file(path)
    x.import_reports(book)
    cells = written_cells(book, defs.sheet("reports").name)
    # only the new row was written: the rows above (with their raw values) are untouched
    assert all(int(re.findall(r"\d+", a)[0]) > 4 for a in cells)
    assert not [a for a in actions(book, "rangeClearContents") if a["sheet_position"] == 5]


# ---------------------------------------------------------------------------- a real application's file
@pytest.mark.libreoffice
def test_a_workbook_saved_by_libreoffice_keeps_its_rows_through_import(make_commune, defs, sample, tmp_path):
    require_soffice()
    month = sample[0]["current_period"]
    built = make_commune(edit=_without(month, "04"))
    out = tmp_path / "lo"
    out.mkdir()
    [saved] = libreoffice_convert([built], "xlsx:Calc MS Excel 2007 XML", out)
    n = len(read_workbook(saved, defs).tables["reports"])
    summary = import_reports(saved, [_form(tmp_path / "in", sample, defs, "04", month)])
    assert summary.written and [f.status for f in summary.files] == ["accepted"]
    after = read_workbook(saved, defs)
    assert len(after.tables["reports"]) == n + 1
    report = validate(saved, write=True)
    assert not [i for i in report.issues if i.rule.startswith("structure-")]
