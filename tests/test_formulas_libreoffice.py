"""The commune workbook's row formulas (Tiến độ's status) work in every application: they are
plain A1 references, LibreOffice computes them in a new workbook and in one it saved itself."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import append_rows, libreoffice_convert, require_soffice

from xltools.cli import main
from xltools.core.definitions import Definitions
from xltools.io.reader import read_workbook
from xltools.io.writer import formula_for_row

# "Recalculation on file load: always" for xlsx, so that cached formula values are LibreOffice's own.
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

TODAY = dt.date.today()


def _milestones() -> pd.DataFrame:
    """One step in each state of the status formula (done, no deadline, overdue, in progress)."""
    rows = [
        (1, "Thành lập Ban Chỉ đạo", TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=80)),
        (2, "Khảo sát, đánh giá tình hình", None, None),
        (3, "Xây dựng kế hoạch", TODAY - dt.timedelta(days=30), None),
        (4, "Tổ chức lễ ra mắt mô hình", TODAY + dt.timedelta(days=200), None),
    ]
    return pd.DataFrame([{"step_no": n, "step": s, "deadline": d, "done_on": done} for n, s, d, done in rows])


def _expected(path: Path, defs: Definitions) -> list[str]:
    """What the status formula means, worked out in Python from the dates the workbook holds."""
    out = []
    for rec in read_workbook(path, defs).tables["milestones"].to_dict("records"):
        deadline, done = rec["deadline"], rec["done_on"]
        if pd.notna(done):
            out.append("Đã hoàn thành")
        elif pd.isna(deadline):
            out.append("Chưa có thời hạn")
        else:
            out.append("Quá hạn" if pd.Timestamp(deadline).date() < TODAY else "Đang thực hiện")
    return out


def _status_cells(path: Path, defs: Definitions, data_only: bool) -> list:
    sheet = defs.sheet("milestones")
    ws = openpyxl.load_workbook(path, data_only=data_only)[sheet.name]
    headers = [c.value for c in ws[1]]
    col = headers.index(sheet.column("status").header) + 1
    last = len(read_workbook(path, defs).tables["milestones"]) + 1
    return [ws.cell(r, col).value for r in range(2, last + 1)]


def _recalculated(path: Path, outdir: Path) -> Path:
    user = outdir / ".lo-profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    [out] = libreoffice_convert([path], "xlsx:Calc MS Excel 2007 XML", outdir)
    return out


def _commune_with_appended_step(make_commune, defs: Definitions) -> Path:
    """A new workbook (XlsxWriter) and one more step appended by the sink (openpyxl)."""
    path = make_commune(milestones=_milestones())
    append_rows(path, "milestones", [{"step_no": 5, "step": "Duy trì hoạt động", "deadline": TODAY + dt.timedelta(days=30)}], defs)
    return path


def test_a_new_workbook_has_a1_row_formulas(make_commune, defs):
    path = make_commune(milestones=_milestones())
    sheet = defs.sheet("milestones")
    formulas = _status_cells(path, defs, data_only=False)
    assert len(formulas) == len(_milestones())
    for row, text in enumerate(formulas, start=2):
        assert text == formula_for_row(sheet.column("status").formula, sheet, row)
        assert "[" not in text and sheet.table not in text  # no structured reference left
        assert re.findall(r"\$[A-Z]+(\d+)", text) and set(re.findall(r"\$[A-Z]+(\d+)", text)) == {str(row)}
    # the references point at the Thời hạn and Ngày hoàn thành columns of the file
    ws = openpyxl.load_workbook(path)[sheet.name]
    headers = {c.column_letter: c.value for c in ws[1]}
    named = {headers[letter] for letter in re.findall(r"\$([A-Z]+)\d+", formulas[0])}
    assert named == {sheet.column("deadline").header, sheet.column("done_on").header}


def test_a_row_appended_by_the_sink_gets_the_same_formula(make_commune, defs):
    path = _commune_with_appended_step(make_commune, defs)
    sheet = defs.sheet("milestones")
    formulas = _status_cells(path, defs, data_only=False)
    assert len(formulas) == len(_milestones()) + 1
    assert formulas[-1] == formula_for_row(sheet.column("status").formula, sheet, len(formulas) + 1)


def test_the_formula_follows_the_columns_where_the_file_has_them(defs):
    sheet = defs.sheet("milestones")
    formula = sheet.column("status").formula
    letters = {c.key: chr(ord("B") + i) for i, c in enumerate(sheet.columns)}  # the table starts at column B
    text = formula_for_row(formula, sheet, 9, letters)
    assert f"${letters['done_on']}9" in text and f"${letters['deadline']}9" in text and "[" not in text
    del letters["deadline"]  # a column deleted from the file: Excel's own #REF!, the rest still refers
    text = formula_for_row(formula, sheet, 9, letters)
    assert "#REF!" in text and f"${letters['done_on']}9" in text


def test_a_formula_naming_an_unknown_column_is_one_line_and_no_workbook(own_definitions, tmp_path):
    own_definitions.replace("workbook.toml", "IF([@[Ngày hoàn thành]]", "IF([@[Ngày xong]]")
    target = tmp_path / "SoTheoDoi_Moi.xlsx"
    result = CliRunner().invoke(main, ["new", str(target)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "workbook.toml" in lines[0] and "“Ngày xong”" in lines[0] and "“Tiến độ”" in lines[0]
    assert not target.exists()


@pytest.mark.libreoffice
def test_libreoffice_computes_the_status_in_a_new_and_a_libreoffice_saved_workbook(make_commune, defs, tmp_path):
    require_soffice()
    path = make_commune(milestones=_milestones())
    expected = _expected(path, defs)
    assert set(expected) == {"Đã hoàn thành", "Chưa có thời hạn", "Quá hạn", "Đang thực hiện"}

    fresh = _recalculated(path, tmp_path / "fresh")
    assert _status_cells(fresh, defs, data_only=True) == expected

    # saved by LibreOffice (its own formulas and table now), then opened and recalculated again
    [saved] = libreoffice_convert([path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "saved")
    again = _recalculated(saved, tmp_path / "again")
    assert _status_cells(again, defs, data_only=True) == expected
