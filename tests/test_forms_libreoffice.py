"""A real spreadsheet application opens the forms, recalculates them, prints one A4 page,
and the file it saves back still imports (defined names and the metadata sheet survive)."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import openpyxl
import pytest
from conftest import libreoffice_convert

from xltools import import_reports, make_forms
from xltools.io.forms import fill_form
from xltools.io.reader import read_workbook

pytestmark = pytest.mark.libreoffice

# "Recalculation on file load: always" for xlsx, so that cached formula values are LibreOffice's own.
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _recalc_profile(outdir: Path) -> None:
    user = outdir / ".lo-profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")


def test_libreoffice_prints_recalculates_and_resaves_importable_forms(make_commune, defs, tmp_path):
    commune = make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != "2023-12"]))
    forms = make_forms(commune, "2023-12", tmp_path / "forms")[:2]
    values = {i.key: 10 + n for n, i in enumerate(defs.numeric_indicators)}
    values.update(note="Đã tổ chức ký cam kết", reporter="Hồ Văn Thắm", report_date=dt.date(2023, 12, 16))
    for form in forms:
        fill_form(form, values)

    pdfs = libreoffice_convert(forms, "pdf", tmp_path / "pdf")
    for pdf in pdfs:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        # A4; one page, or two for a form too long for one at a readable size (tests/test_forms.py)
        assert re.search(r"Pages:\s+[12]\n", info) and "(A4)" in info
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "PHIẾU BÁO CÁO" in text and "Hồng Thủy (20041)" in text and "14/12/2023" in text

    outdir = tmp_path / "resaved"
    _recalc_profile(outdir)
    resaved = libreoffice_convert(forms, "xlsx:Calc MS Excel 2007 XML", outdir)
    cfg = defs.extra("forms")
    for path in resaved:
        wb = openpyxl.load_workbook(path, data_only=True)
        ws = wb[cfg["sheet_name"]]
        counts = [c.value for row in ws.iter_rows() for c in row if c.column == 3 and isinstance(c.value, (int, float))
                  and ws.cell(c.row, 2).value == cfg["filled_label"]]
        assert counts == [len(defs.numeric_indicators)]  # the COUNT formula, recalculated by LibreOffice
    summary = import_reports(commune, resaved)
    assert [f.status for f in summary.files] == ["accepted", "accepted"], [f.reasons for f in summary.files]
    reports = read_workbook(commune).tables["reports"]
    got = reports[reports["period"] == "2023-12"].sort_values("village_code")
    assert got["village_code"].tolist() == ["01", "02"]
    for key, value in values.items():
        assert got[key].tolist() == [value, value], key
