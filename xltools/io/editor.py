"""Edit an existing commune workbook in place with openpyxl, atomically.

Used by every verb that writes into the commune workbook (import, validate
--write, aggregate --write). The file is loaded once, tables are replaced or
appended to as whole row blocks, free-form output sheets are rewritten, and the
result is saved to a temporary file that replaces the original, after a backup.
A workbook open in Excel is refused. For .xlsm files the VBA project and the
legacy form buttons are kept (``keep_vba``); nothing here adds comments, charts
or images, which openpyxl would drop on the dashboard.

    with edit_workbook(path) as ed:
        ed.append_rows("log", [{"time": now, "action": "import", ...}])
        ws = ed.worksheet("checks")
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter, range_boundaries

from ..core.definitions import Definitions, Sheet, get_definitions
from ..core.errors import WorkbookError
from ..core.frames import records
from ..core.sheetrows import SheetRow
from ..core.text import header_key, is_blank
from .files import refuse_if_open, write_atomic
from .reader import check_file
from .writer import cell_value


class WorkbookEditor:
    def __init__(self, path: Path, defs: Definitions) -> None:
        self.path = path
        self.defs = defs
        keep_vba = path.suffix.lower() == ".xlsm"
        try:
            self.wb = openpyxl.load_workbook(path, keep_vba=keep_vba, keep_links=True, rich_text=False)
        except Exception as exc:
            raise WorkbookError("unreadable", file=path.name, reason=str(exc) or type(exc).__name__) from None

    # -- sheets ---------------------------------------------------------------
    def worksheet(self, sheet_key: str):
        sheet = self.defs.sheet(sheet_key)
        wanted = header_key(sheet.name)
        for ws in self.wb.worksheets:
            if header_key(ws.title) == wanted:
                return ws
        raise WorkbookError("missing_sheet", file=self.path.name, sheet=sheet.name, major=self.defs.major)

    def _table(self, sheet: Sheet):
        ws = self.worksheet(sheet.key)
        table = ws.tables.get(sheet.table)
        if table is None:
            for t in ws.tables.values():  # a table renamed by hand: take the sheet's only one
                table = t
                break
        if table is None:
            raise WorkbookError("missing_header_row", file=self.path.name, sheet=sheet.name, table=sheet.table)
        return ws, table

    def _layout(self, sheet: Sheet):
        ws, table = self._table(sheet)
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        positions: dict[str, int] = {}
        wanted = {}
        for col in sheet.columns:
            for text in (col.header, *col.aliases, col.key):
                wanted.setdefault(header_key(text), col.key)
        for c in range(min_col, max_col + 1):
            key = wanted.get(header_key(ws.cell(min_row, c).value))
            if key and key not in positions:
                positions[key] = c
        return ws, table, min_col, min_row, max_col, max_row, positions

    def _write_block(self, sheet: Sheet, start_row: int, rows: list[Mapping[str, Any]], positions, ws) -> None:
        for r, item in enumerate(rows, start=start_row):
            for key, c in positions.items():
                col = sheet.column(key)
                cell = ws.cell(r, c)
                if col.type == "formula":
                    if col.formula:
                        cell.value = col.formula.replace("[@[", f"{sheet.table}[[#This Row],[").replace("[@", f"{sheet.table}[[#This Row],")
                    continue
                cell.value = cell_value(item.get(key))
                fmt = self.defs.column_format(col)
                if fmt:
                    cell.number_format = fmt
                elif col.type in ("code", "phone", "period", "text", "list"):
                    cell.number_format = "@"

    def _resize(self, table, min_col: int, min_row: int, max_col: int, last_row: int) -> None:
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max(last_row, min_row + 1)}"
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref

    def read_rows(self, sheet_key: str) -> int:
        """Number of non-blank data rows in the table (for callers that need it)."""
        sheet = self.defs.sheet(sheet_key)
        ws, table, min_col, min_row, max_col, max_row, positions = self._layout(sheet)
        return self._last_filled(ws, min_row, max_row, positions) - min_row

    @staticmethod
    def _last_filled(ws, min_row: int, max_row: int, positions) -> int:
        last = min_row
        cols = list(positions.values())
        for r, row in enumerate(ws.iter_rows(min_row=min_row + 1, max_row=max_row, values_only=True), start=min_row + 1):
            if any(not is_blank(row[c - 1]) for c in cols if c - 1 < len(row)):
                last = r
        return last

    # -- tables ---------------------------------------------------------------
    def replace_rows(self, sheet_key: str, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> None:
        """Replace every data row of the sheet's table with ``rows`` (dicts by column key)."""
        sheet = self.defs.sheet(sheet_key)
        items = records(rows) if isinstance(rows, pd.DataFrame) else list(rows)
        ws, table, min_col, min_row, max_col, max_row, positions = self._layout(sheet)
        for r in range(min_row + 1, max_row + 1):
            for c in positions.values():
                ws.cell(r, c).value = None
        self._write_block(sheet, min_row + 1, items, positions, ws)
        self._resize(table, min_col, min_row, max_col, min_row + len(items))

    def append_rows(self, sheet_key: str, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> None:
        """Add ``rows`` after the table's last non-blank row, growing the table."""
        sheet = self.defs.sheet(sheet_key)
        items = records(rows) if isinstance(rows, pd.DataFrame) else list(rows)
        if not items:
            return
        ws, table, min_col, min_row, max_col, max_row, positions = self._layout(sheet)
        last = self._last_filled(ws, min_row, max_row, positions)
        self._write_block(sheet, last + 1, items, positions, ws)
        self._resize(table, min_col, min_row, max_col, max(max_row, last + len(items)))

    def set_values(self, sheet_key: str, cells: Mapping[str, Any]) -> None:
        """Write single cells ({'C5': value}) on a free-form sheet, e.g. the dashboard."""
        ws = self.worksheet(sheet_key)
        for address, value in cells.items():
            ws[address] = cell_value(value)

    def save(self) -> Path:
        return write_atomic(self.path, lambda tmp: self.wb.save(tmp), check_lock=False)


def write_sheet_rows(ws, rows: Sequence[SheetRow], font: str = "Times New Roman", size: int = 12) -> list[int]:
    """Replace the content of an output sheet with ``rows``; return the Excel row of each."""
    if ws.max_row:
        ws.delete_rows(1, ws.max_row)
    for rng in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(rng))
    ws.auto_filter.ref = None
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    fonts = {
        "title": Font(name=font, size=size + 2, bold=True), "note": Font(name=font, size=size, italic=True),
        "section": Font(name=font, size=size, bold=True), "header": Font(name=font, size=size, bold=True),
        "total": Font(name=font, size=size, bold=True),
    }
    normal = Font(name=font, size=size)
    centred = Alignment(wrap_text=True, horizontal="center", vertical="center")
    numbers = []
    for r, row in enumerate(rows, start=1):
        numbers.append(r)
        for c, value in enumerate(row.values, start=1):
            cell = ws.cell(r, c, cell_value(value))
            cell.font = fonts.get(row.style, normal)
            if row.style in ("header", "data", "total"):
                cell.border = border
            if row.style == "header":
                cell.alignment = centred
            fmt = row.number_formats[c - 1] if c - 1 < len(row.number_formats) else None
            if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = fmt
        if row.style == "header" and len(row.values) > 1:
            ws.row_dimensions[r].height = 64
    return numbers


@contextlib.contextmanager
def edit_workbook(path: str | Path, defs: Definitions | None = None) -> Iterator[WorkbookEditor]:
    """Open ``path`` for editing; saved atomically (with a backup) when the block succeeds."""
    path = Path(path)
    refuse_if_open(path)
    check_file(path)
    editor = WorkbookEditor(path, defs or get_definitions())
    yield editor
    editor.save()


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)
