"""A real spreadsheet application opens the commune workbook and sees its data."""
from __future__ import annotations

import pytest
from conftest import libreoffice_convert

from xltools.io.reader import read_workbook

pytestmark = pytest.mark.libreoffice


def test_libreoffice_opens_the_commune_workbook(make_commune, tmp_path):
    path = make_commune()
    [converted] = libreoffice_convert([path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    # LibreOffice re-saved every sheet and table: the reader finds the same data in its copy
    original, resaved = read_workbook(path), read_workbook(converted)
    for key in ("villages", "board", "teams", "reports", "budget"):
        cols = [c for c in original.tables[key].columns if c != "_row"]
        assert resaved.tables[key][cols].astype(str).values.tolist() == original.tables[key][cols].astype(str).values.tolist(), key
