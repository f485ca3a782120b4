"""Turn a real workbook file into the JSON payload that xlwings' VBA client sends.

Mirrors ``xlwings/addin/Remote.bas`` (``RunRemotePython``): client, version, the
book (name, active sheet, selection), workbook-level names, and per sheet its
name, pictures, tables (addresses as ``$A$1:$C$3``) and the values from A1 to the
end of the used range. Values as VBA's JSON converter writes them: dates as ISO
text ending in ``Z``, whole numbers as integers, empty cells as null, errors as
their ``#…`` text. Tests build ``xw.Book(json=payload)`` from it (remote engine).
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import openpyxl  # noqa: E402
import python_calamine as pc  # noqa: E402
import xlwings as xw  # noqa: E402
from openpyxl.utils import range_boundaries  # noqa: E402


def _json_value(value: Any) -> Any:
    if value == "" or value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.000Z")
    if isinstance(value, dt.time):
        return value.strftime("1899-12-30T%H:%M:%S.000Z")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _absolute(ref: str) -> str:
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    from openpyxl.utils import get_column_letter as L

    return f"${L(min_col)}${min_row}:${L(max_col)}${max_row}"


def payload_from_file(path: str | Path, *, name: str | None = None, active: int = 0, selection: str = "A1") -> dict[str, Any]:
    """The payload of a workbook file. ``name`` is the book name sent (default: the full path,
    so that handlers resolve folders next to the file as they do with Excel's FullName)."""
    path = Path(path)
    wb = pc.CalamineWorkbook.from_path(str(path))
    grids = {}
    try:
        for sheet_name in wb.sheet_names:
            grids[sheet_name] = wb.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    finally:
        wb.close()
    book = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
    sheets = []
    for ws in book.worksheets:
        grid = grids.get(ws.title) or [[]]
        values = [[_json_value(v) for v in row] for row in grid] if grid and grid[0] else [[]]
        tables = []
        for table in ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            from openpyxl.utils import get_column_letter as L

            tables.append({
                "name": table.name,
                "range_address": _absolute(table.ref),
                "header_row_range_address": f"${L(min_col)}${min_row}:${L(max_col)}${min_row}",
                "data_body_range_address": (f"${L(min_col)}${min_row + 1}:${L(max_col)}${max_row}"
                                            if max_row > min_row else None),
                "total_row_range_address": None,
                "show_headers": True,
                "show_totals": False,
                "table_style": table.tableStyleInfo.name if table.tableStyleInfo else "",
                "show_autofilter": True,
            })
        sheets.append({"name": ws.title, "pictures": [], "tables": tables, "values": values})
    names = []
    for dn_name, dn in book.defined_names.items():
        for sheet_title, ref in dn.destinations:
            if sheet_title in book.sheetnames:
                names.append({
                    "name": dn_name, "sheet_index": book.sheetnames.index(sheet_title),
                    "address": ref.replace("$", ""), "book_scope": True,
                    "scope_sheet_name": None, "scope_sheet_index": None,
                })
                break
    return {
        "client": "VBA",
        "version": xw.__version__,
        "book": {"name": name or str(path), "active_sheet_index": active, "selection": selection},
        "names": names,
        "sheets": sheets,
    }


def book_from_file(path: str | Path, **kwargs: Any) -> xw.Book:
    """``xw.Book(json=...)`` of a workbook file (the remote engine)."""
    return xw.Book(json=payload_from_file(path, **kwargs))


def actions(book: xw.Book, func: str | None = None) -> list[dict[str, Any]]:
    out = book.json()["actions"]
    return [a for a in out if func is None or a["func"] == func]


def sheet_index(book: xw.Book, name: str) -> int:
    return [s.name for s in book.sheets].index(name)


def written_cells(book: xw.Book, sheet: str) -> dict[str, Any]:
    """A1 address -> value of every setValues action on ``sheet`` (last write wins)."""
    from openpyxl.utils import get_column_letter as L

    pos = sheet_index(book, sheet)
    out: dict[str, Any] = {}
    for a in actions(book, "setValues"):
        if a["sheet_position"] != pos:
            continue
        for r, row in enumerate(a["values"]):
            for c, v in enumerate(row):
                out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = v
    return out


def colors(book: xw.Book, sheet: str) -> dict[str, str | None]:
    """A1 address -> fill set on ``sheet`` (None: fill removed): setRangeColors of xlwings
    0.37.5+, or one setRangeColor per cell on the older xlwings of Python 3.10."""
    from openpyxl.utils import get_column_letter as L

    pos = sheet_index(book, sheet)
    out: dict[str, str | None] = {}
    for a in actions(book):
        if a["sheet_position"] != pos:
            continue
        if a["func"] == "setRangeColors":
            for r, row in enumerate(a["args"][0]):
                for c, v in enumerate(row):
                    if v != "keep":
                        out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = v.lower() if v else v
        elif a["func"] == "setRangeColor":
            colour = a["args"][0] if isinstance(a["args"], list) else a["args"]
            colour = colour.lower() if colour else None
            for r in range(a["row_count"]):
                for c in range(a["column_count"]):
                    out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = colour
    return out


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
