"""A real spreadsheet application prints the submission and the rollup (LibreOffice, poppler)."""
from __future__ import annotations

import re
import subprocess

import pytest
from conftest import libreoffice_convert

from xltools import export, rollup
from xltools.core.numbers import group_number, percent
from xltools.core.sample import generated_communes
from xltools.verbs.aggregate import aggregate
from xltools.verbs.new import new

pytestmark = pytest.mark.libreoffice


def _pages(pdf) -> list[str]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"Page\s+\d+ size:\s+(.*)", info)


def _text(pdf, first: int | None = None, last: int | None = None) -> str:
    cmd = ["pdftotext", "-layout"]
    if first:
        cmd += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*cmd, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_libreoffice_prints_the_submission_and_the_rollup(make_commune, tmp_path):
    commune = make_commune("SoTheoDoi_HongThuy.xlsx")
    quarter = export(commune, "2023-Q4", tmp_path / "out")
    month = export(commune, "2023-12", tmp_path / "out")
    other_settings, other_tables = generated_communes()[0]
    other = export(new(tmp_path / "other.xlsx", other_settings, other_tables), "2023-12", tmp_path / "out")
    rolled = rollup([month, other], "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474").path
    quarter_pdf, rolled_pdf = libreoffice_convert([quarter, rolled], "pdf", tmp_path / "pdf")  # one soffice call

    agg = aggregate(commune, "2023-Q4")
    for pdf in (quarter_pdf, rolled_pdf):
        sizes = _pages(pdf)
        assert sizes and all("(A4)" in s for s in sizes), sizes
        first = _text(pdf, 1)
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in first and "BÁO CÁO" in first
        assert not first.lstrip().startswith("1\n")  # no page number on page 1
        report = _text(pdf)
        assert "TM. BAN CHỈ ĐẠO" in report and "TRƯỞNG BAN" in report and "Nơi nhận:" in report
        # one page wide: the total row carries its last ratio on the same printed line
        total_line = next(line for line in report.splitlines() if line.strip().startswith("Tổng cộng") and "%" in line)
        assert total_line.rstrip().endswith("%")
    # page numbers start on page 2
    assert _text(quarter_pdf, 2).strip().splitlines()[0].strip() == "2"
    quarter_text = _text(quarter_pdf)
    assert "Quỳnh Văn Đức" in quarter_text and "quý IV năm 2023" in quarter_text
    total = agg.total()
    attendance = group_number(total["concentrated_attendance"])
    assert "." in attendance and attendance in quarter_text  # Vietnamese grouping 1.234 whatever the locale
    last_rate = percent(agg.rates_of(total)[agg.derived[-1][0]])
    assert last_rate in next(line for line in quarter_text.splitlines() if line.strip().startswith("Tổng cộng") and "%" in line)
