"""xltools forms: one protected, printable form per active village, inputs named by key."""
from __future__ import annotations

import re

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import libreoffice_convert, require_soffice

from xltools import import_reports, make_forms
from xltools.cli import main
from xltools.core.definitions import get_definitions
from xltools.core.frames import records
from xltools.io.forms import fill_form as fill
from xltools.io.forms import form_inputs
from xltools.io.reader import read_workbook
from xltools.verbs.new import new, sample_commune

WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


@pytest.fixture
def commune(make_commune):
    """The sample commune without its reports of 2023-12 (the month the forms are for)."""
    return make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != "2023-12"]))


def test_one_form_per_active_village_with_windows_safe_names(commune, defs, tmp_path):
    files = make_forms(commune, "2023-12", tmp_path / "out")
    book = read_workbook(commune, sheets=["villages"])
    active = sorted(v["code"] for v in records(book.tables["villages"]) if v["active"] is not False)
    assert len(active) == 9 and "10" not in active  # village 10 of the sample is inactive
    assert sorted(f.name for f in files) == [f"PhieuBaoCao_{code}_2023-12.xlsx" for code in active]
    assert all(not WINDOWS_FORBIDDEN.search(f.name) for f in files)


def test_default_folder_is_beside_the_workbook(commune):
    files = make_forms(commune, "2023-12")
    assert files[0].parent == commune.parent / "Phieu_bao_cao_2023-12"


def test_every_input_has_a_workbook_level_name_on_an_unlocked_validated_cell(commune, defs, tmp_path):
    [form, *_] = make_forms(commune, "2023-12", tmp_path)
    wb = openpyxl.load_workbook(form)
    cfg = defs.extra("forms")
    ws = wb[cfg["sheet_name"]]
    keys = [i.key for i in defs.indicators] + [f["key"] for f in cfg["field"]]
    validations = {str(c): dv for dv in ws.data_validations.dataValidation for c in dv.sqref.ranges}
    for key in keys:
        name = wb.defined_names[key]  # workbook-level: in wb.defined_names, not a sheet's
        (sheet, ref), = name.destinations
        cell = ws[ref.replace("$", "")]
        assert sheet == ws.title
        assert cell.protection.locked is False, key
        dv = validations[cell.coordinate]
        assert dv.prompt and dv.showInputMessage, key
        ind = next((i for i in defs.indicators if i.key == key), None)
        if ind is not None and ind.numeric:
            assert (dv.type, dv.operator, dv.formula1) == ("whole", "greaterThanOrEqual", "0")
            assert dv.prompt == ind.help
            assert ws.cell(cell.row, 2).value == ind.label and ws.cell(cell.row, 2).protection.locked is not False
    assert ws.protection.sheet and not ws.protection.password
    # commune, village, period and the data window are written, locked
    text = " ".join(str(c.value) for row in ws.iter_rows(max_row=10) for c in row if c.value)
    assert "Hồng Thủy (20041)" in text and "01 - Thôn Pa Rinh 1" in text and "2023-12" in text
    assert "ngày 15/11/2023 đến ngày 14/12/2023" in text and "18/12/2023" in text
    # one A4 page
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    # one page wide (and tall, or at the least scale over two pages: the printed test looks at them)
    assert (ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight in (None, 1)  # 1 is the default
            or ws.page_setup.scale == cfg["print_min_percent"])
    # the hidden metadata sheet
    meta_ws = wb[cfg["meta_sheet"]]
    assert meta_ws.sheet_state == "hidden" and meta_ws.protection.sheet
    meta = {r[0]: r[1] for r in meta_ws.iter_rows(min_row=3, values_only=True) if r[0]}
    assert meta["commune_code"] == "20041" and meta["village_code"] == "01" and meta["period"] == "2023-12"
    assert meta["form_version"] == cfg["version"] and len(meta["form_id"]) == 32
    assert not any(n.lower().endswith("vbaproject.bin") for n in __import__("zipfile").ZipFile(form).namelist())


@pytest.mark.parametrize("day, deadline", [(5, "05/01/2024"), (31, "31/12/2023"), (0, "01/01/2024")])
def test_the_deadline_on_the_form_is_the_one_validation_applies(make_commune, tmp_path, day, deadline):
    """A deadline day before the window closes (the 15th) is that day of the next month."""
    path = make_commune(settings={"form_deadline_day": day})
    [form, *_] = make_forms(path, "2023-12", tmp_path / "out")
    ws = openpyxl.load_workbook(form).worksheets[0]
    text = " ".join(str(c.value) for row in ws.iter_rows(max_row=10) for c in row if c.value)
    assert f"chậm nhất ngày {deadline}" in text


def test_the_data_window_follows_the_cut_day_of_the_rules(commune, tmp_path, own_definitions):
    own_definitions.replace("rules.toml", "\ncut_day = 15 ", "\ncut_day = 20 ")
    [form, *_] = make_forms(commune, "2023-12", tmp_path / "out", defs=get_definitions())
    ws = openpyxl.load_workbook(form).worksheets[0]
    text = " ".join(str(c.value) for row in ws.iter_rows(max_row=10) for c in row if c.value)
    assert "ngày 20/11/2023 đến ngày 19/12/2023" in text and "chậm nhất ngày 18/01/2024" in text


def test_forms_refuse_a_period_that_is_not_a_month(commune):
    runner = CliRunner()
    res = runner.invoke(main, ["forms", str(commune), "--period", "2023-Q4"])
    assert res.exit_code == 1
    assert res.output.startswith("Lỗi: Phiếu báo cáo của thôn lập theo tháng")


def test_forms_command(commune, tmp_path):
    res = CliRunner().invoke(main, ["forms", str(commune), "--period", "2023-12", "-o", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert "Đã lập 9 phiếu báo cáo kỳ 2023-12" in res.output
    assert len(list((tmp_path / "p").glob("PhieuBaoCao_*_2023-12.xlsx"))) == 9


def test_an_output_folder_that_cannot_be_made_is_one_line(commune, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["forms", str(commune), "--period", "2023-12", "-o", str(blocker)])
    assert res.exit_code == 1 and res.output.startswith(f"Lỗi: Không ghi được tệp {blocker}")
    assert res.output.count("\n") == 1


def test_a_new_indicator_appears_on_the_form_and_is_imported(tmp_path, own_definitions):
    own_definitions.add_indicator()
    defs = get_definitions()
    assert defs.indicators[-1].key == "school_talks"
    settings, tables = sample_commune(defs=defs)
    tables["reports"] = tables["reports"][tables["reports"]["period"] != "2023-12"]
    path = new(tmp_path / "SoTheoDoi.xlsx", settings, tables, defs=defs)
    [form, *_] = make_forms(path, "2023-12", tmp_path / "forms")
    values = {i.key: n for n, i in enumerate(defs.numeric_indicators, start=1)}
    fill(form, values)
    assert "school_talks" in openpyxl.load_workbook(form).defined_names
    summary = import_reports(path, [form])
    assert [f.status for f in summary.files] == ["accepted"], summary.files[0].reasons
    reports = read_workbook(path).tables["reports"]
    row = reports[(reports["period"] == "2023-12") & (reports["village_code"] == "01")]
    assert int(row["school_talks"].iloc[0]) == values["school_talks"]


def test_a_forms_toml_with_a_misspelt_entry_is_one_clear_error(commune, tmp_path, own_definitions):
    toml = own_definitions.replace("forms.toml", "max_members = 60\n", "max_member = 60\n")
    for args in (["forms", str(commune), "--period", "2023-12"], ["import", str(commune), str(tmp_path)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        assert res.output.startswith(f"Lỗi: Tệp định nghĩa {toml} có lỗi: mục “limits.max_member” không có")


def _pixels(width: float) -> int:
    """Excel's screen width of a column of ``width`` characters (maximum digit width 7 px)."""
    return int((256 * width + int(128 / 7)) / 256 * 7)


def test_label_and_input_fit_a_phone_screen_at_100_percent(commune, defs, tmp_path):
    """A 390-px phone shows about 350 px of columns: the four columns, hence every label and every
    input cell, lie within them, in type of the screen's size, the width unit that of the font."""
    [form, *_] = make_forms(commune, "2023-12", tmp_path)
    wb = openpyxl.load_workbook(form)
    cfg = defs.extra("forms")
    ws = wb[cfg["sheet_name"]]
    widths = [_pixels(ws.column_dimensions[c].width) for c in "ABCD"]
    assert sum(widths) <= 350 and min(widths) >= 20, widths
    assert ws.max_column == 4
    for name in wb.defined_names.values():
        (_, ref), = name.destinations
        cell = ws[ref.replace("$", "")]
        assert cell.column <= 3 and cell.font.sz >= cfg["font_size"] and cell.font.name == "Times New Roman"
        label = ws.cell(cell.row, 2)
        assert label.alignment.wrap_text and label.font.sz >= cfg["font_size"]
    assert wb._fonts[0].name == "Times New Roman"  # Normal style: the unit of the column widths
    # fitted to one page, or printed at a scale no smaller than the definitions allow
    assert ws.sheet_properties.pageSetUpPr.fitToPage or (ws.page_setup.scale or 100) >= cfg["print_min_percent"]


@pytest.mark.libreoffice
def test_the_printed_form_is_a4_with_every_label_readable(commune, defs, tmp_path):
    """Fitted to one A4 portrait page while its labels stay at about 8 pt or more; the plan's
    twenty inputs run on over a second page, the table header repeated, the count and the
    signature together on the last."""
    pymupdf = pytest.importorskip("pymupdf")
    require_soffice()
    [form, *_] = make_forms(commune, "2023-12", tmp_path / "forms")
    [pdf] = libreoffice_convert([form], "pdf", tmp_path)
    doc = pymupdf.open(pdf)
    assert doc.page_count <= 2
    cfg = defs.extra("forms")
    pages = [[s for b in page.get_text("dict")["blocks"] for line in b.get("lines", []) for s in line["spans"]]
             for page in doc]
    for page, spans in zip(doc, pages):
        assert round(page.rect.width / 72 * 25.4) == 210 and round(page.rect.height / 72 * 25.4) == 297
        assert cfg["col_label"] in [s["text"].strip() for s in spans]  # the table header on every page
    text = " ".join(s["text"] for spans in pages for s in spans)
    for inp in form_inputs(defs):
        assert " ".join(inp.label.split()[:3]) in text
    label_sizes = [s["size"] for spans in pages for s in spans if s["text"].startswith("Số ")]
    assert label_sizes and min(label_sizes) >= 8.0, label_sizes
    last = [s["text"].strip() for s in pages[-1]]
    assert cfg["signature"] in last and cfg["filled_label"] in last
    signature = next(s for s in pages[-1] if s["text"].strip() == cfg["signature"])
    assert signature["bbox"][3] < doc[-1].rect.height - 36  # within the bottom margin
