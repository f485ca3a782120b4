"""The JSON payload that xlwings' VBA client sends, built from a real workbook file.

``payload_from_file`` and the helpers that read a handler's actions are in ``conftest.py``
(``tests/test_excel.py`` uses them too); this checks the payload itself.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import xlwings as xw  # noqa: E402
from conftest import payload_from_file  # noqa: E402


def test_the_payload_is_what_the_vba_client_sends(make_commune, defs):
    path = make_commune()
    payload = payload_from_file(path)
    assert payload["client"] == "VBA" and payload["version"] == xw.__version__
    names = [s["name"] for s in payload["sheets"]]
    assert names[0] == defs.sheet("dashboard").name
    villages = payload["sheets"][names.index(defs.sheet("villages").name)]
    assert villages["tables"][0]["name"] == defs.sheet("villages").table
    assert villages["tables"][0]["range_address"].startswith("$A$1:")
    header, first = villages["values"][0], villages["values"][1]
    assert header[0] == defs.sheet("villages").column("code").header
    assert first[0] == "01"  # codes stay text
    founded = first[header.index(defs.sheet("villages").column("team_founded").header)]
    assert founded is None or founded.endswith("T00:00:00.000Z")
    book = xw.Book(json=payload)
    sheet = book.sheets[defs.sheet("villages").name]
    assert sheet.range("A2").value == "01"
    assert any(n["name"] == "ds_village_codes" for n in payload["names"])
