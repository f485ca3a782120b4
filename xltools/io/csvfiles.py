"""Read a table of the commune workbook from a CSV file (villages, board, teams …).

Headers may be the Vietnamese headers of the workbook or the column keys; the
file may be UTF-8 (with or without BOM, as Excel saves it) or Windows-1258.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from ..core import messages
from ..core.definitions import Definitions, Sheet, get_definitions
from ..core.errors import InputError, WorkbookError
from ..core.frames import build_frame
from ..core.text import header_key


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def read_csv_table(path: str | Path, sheet_key: str, defs: Definitions | None = None) -> pd.DataFrame:
    """The rows of ``path`` typed as the sheet's table; the first bad value raises InputError."""
    defs = defs or get_definitions()
    sheet: Sheet = defs.sheet(sheet_key)
    path = Path(path)
    try:
        text = _decode(path.read_bytes())
    except OSError:
        raise WorkbookError("not_found", file=str(path)) from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, [])
    wanted: dict[str, str] = {}
    for col in sheet.readable_columns:
        for t in (col.header, *col.aliases, col.key):
            wanted.setdefault(header_key(t), col.key)
    positions = {}
    for i, h in enumerate(header):
        k = wanted.get(header_key(h))
        if k and k not in positions:
            positions[k] = i
    for col in sheet.readable_columns:
        if col.required and col.key not in positions:
            raise InputError("bad_csv_header", file=path.name, header=col.header)
    rows, numbers = [], []
    for n, line in enumerate(reader, start=2):
        if not any(cell.strip() for cell in line):
            continue
        rows.append({k: (line[i] if i < len(line) else None) for k, i in positions.items()})
        numbers.append(n)
    frame, problems = build_frame(defs, sheet, rows, numbers)
    if problems:
        p = problems[0]
        raise InputError("bad_csv", file=path.name, row=p.row, header=p.header, reason=messages.text(p.reason, value=p.value))
    return frame
