"""What a verb changes in the commune workbook, as one value that two sinks apply.

The core computes a ``WorkbookChange``: the output sheets to rewrite (rows with their
styles, column widths, links, filter and frozen header), the table rows to change
(matched by Excel row, only the cells that changed) and to append (below every filled
row, growing the table), the dashboard fields, the cell fills to set and to clear, and
the Nhật ký rows. Two small sinks apply it: ``xltools.io.sink`` over openpyxl (the
file, for the commands) and ``xltools.excel`` over xlwings (the open book, for the
buttons). A sink knows its library and nothing about validation, import or reports, so
the button and the command write the same workbook by construction.

Every position is absolute (Excel rows and A1 addresses, computed from what was read),
so no sink ever looks for a free row itself and none writes into a cell that was not
read. Text cells are written with the text number format ("@"), so no application
turns "2023-12", "9/9" or "- Thành viên" into a date or a formula.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import messages
from .book import CommuneBook
from .definitions import Definitions
from .frames import ROW, column_letter
from .sheetrows import SheetRow
from .text import is_blank

TEXT_FORMAT = "@"
LINK_COLOUR = "0563C1"
TEXT_COLOUR = "000000"  # every written output cell gets its colour: the sinks never keep an old one


@dataclass(frozen=True)
class RowStyle:
    """How an output row of one ``SheetRow.style`` looks (font relative to the sheet's size)."""

    bold: bool = False
    italic: bool = False
    size_delta: int = 0
    border: bool = False
    centred: bool = False
    height: float | None = None  # only for rows of more than one cell


ROW_STYLES: dict[str, RowStyle] = {
    "title": RowStyle(bold=True, size_delta=2),
    "note": RowStyle(italic=True),
    "section": RowStyle(bold=True),
    "header": RowStyle(bold=True, border=True, centred=True, height=64),
    "total": RowStyle(bold=True, border=True),
    "data": RowStyle(border=True),
}
PLAIN = RowStyle()


@dataclass(frozen=True)
class Link:
    """A hyperlink on an output cell to a cell of another sheet of the book."""

    row: int
    column: int  # 1-based
    sheet: str  # the target sheet's name as it is in the book
    cell: str  # the target A1 address
    text: str

    @property
    def location(self) -> str:
        return "'" + self.sheet.replace("'", "''") + "'!" + self.cell


@dataclass
class OutputSheet:
    """An output sheet (Kiểm tra, Tổng hợp) whose content is replaced: rows from A1."""

    key: str
    rows: list[SheetRow]
    font: str
    size: int = 12
    widths: dict[int, float] = field(default_factory=dict)  # 1-based column -> width
    links: list[Link] = field(default_factory=list)
    filter: tuple[int, int, int] | None = None  # (header row, last row, last column) of the auto-filter
    freeze_row: int | None = None  # the first row below the frozen header

    @property
    def width(self) -> int:
        return max((len(r.values) for r in self.rows), default=0)

    def style(self, row: SheetRow) -> RowStyle:
        return ROW_STYLES.get(row.style, PLAIN)


@dataclass
class TableChange:
    """Rows of one table: cells changed in place (by Excel row) and rows added below."""

    key: str
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)  # Excel row -> column key -> value
    appends: list[dict[str, Any]] = field(default_factory=list)
    first_free_row: int = 0  # Excel row of the first appended row (below every filled row)
    letters: dict[str, str] = field(default_factory=dict)  # column key -> Excel letter, as read
    header_row: int = 1

    @property
    def last_row(self) -> int:
        """The last Excel row the table must cover after the change."""
        return self.first_free_row + len(self.appends) - 1 if self.appends else 0


@dataclass
class WorkbookChange:
    """Everything one verb changes in the commune workbook."""

    outputs: list[OutputSheet] = field(default_factory=list)
    tables: list[TableChange] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # dashboard field key -> value
    # (sheet name, A1) -> fill colour (hex); None removes the fill (a cell the previous run filled)
    fills: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # table key -> the last Excel row its Excel Table must cover (rows read below it, rows appended)
    grow: dict[str, int] = field(default_factory=dict)

    def table(self, key: str) -> TableChange | None:
        return next((t for t in self.tables if t.key == key), None)

    def covering(self, book: CommuneBook) -> WorkbookChange:
        """This change, growing every table of ``book`` over the rows read below it and the
        rows appended (so that no row stays outside its table after a write)."""
        for key in book.table_ends:
            rows = book.outside_rows(key)
            if rows:
                self.grow[key] = max(self.grow.get(key, 0), max(rows))
        for tc in self.tables:
            if tc.appends:
                self.grow[tc.key] = max(self.grow.get(tc.key, 0), tc.last_row)
        return self

    def sheet_keys(self, defs: Definitions) -> list[str]:
        """The sheets the change writes (by key), in the order of the definitions."""
        keys = {o.key for o in self.outputs} | {t.key for t in self.tables if t.updates or t.appends} | set(self.grow)
        if self.fields:
            keys.add("dashboard")
        names = {sheet for sheet, _ in self.fills}
        return [s.key for s in defs.sheets if s.key in keys or s.name in names]


def table_change(book: CommuneBook, key: str, *, updates: dict[int, dict[str, Any]] | None = None,
                 appends: list[dict[str, Any]] | None = None) -> TableChange:
    """A change of the table ``key`` of ``book``: appends go below the last row that holds anything
    (rows typed below the table by hand count: the reader took them as rows of the table; the
    table's own empty rows are free)."""
    frame = book.tables.get(key)
    header = book.header_rows.get(key) or 1
    last = int(frame[ROW].max()) if frame is not None and len(frame) else header
    sheet = book.defs.sheet(key)
    letters = book.letters.get(key) or {}
    if not letters:
        letters = {c.key: column_letter(i) for i, c in enumerate(sheet.columns)}
    letters = {**letters, **book.formula_letters.get(key, {})}
    return TableChange(key, dict(updates or {}), list(appends or []), last + 1, letters, header)


def changed_cells(frame: pd.DataFrame, rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Only the cells of ``rows`` (Excel row -> values) that differ from what ``frame`` holds."""
    if frame is None or not len(frame):
        return dict(rows)
    by_row = {int(r): i for i, r in zip(frame.index, frame[ROW])}
    out: dict[int, dict[str, Any]] = {}
    for excel_row, values in rows.items():
        i = by_row.get(int(excel_row))
        if i is None:
            out[excel_row] = dict(values)
            continue
        diff = {k: v for k, v in values.items() if k not in frame.columns or not _same(frame.at[i, k], v)}
        if diff:
            out[excel_row] = diff
    return out


def _blank(value: Any) -> bool:
    return value is pd.NA or value is pd.NaT or is_blank(value)


def _same(old: Any, new: Any) -> bool:
    old_blank, new_blank = _blank(old), _blank(new)
    if old_blank or new_blank:
        return old_blank and new_blank
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return float(old) == float(new)
    return bool(old == new)


def log_entry(*, time: dt.datetime, action: str, file: str, result: str, detail: str, user: str,
              sha256: str | None = None) -> dict[str, Any]:
    """One Nhật ký row (the one place that builds it, for every verb, command and button)."""
    return {"time": time, "action": action, "file": file, "sha256": sha256 or None,
            "result": result, "detail": detail[:2000], "user": user}


def last_action(action: str, when: dt.datetime, result: str) -> str:
    """The dashboard's "last action" text (every verb, command and button)."""
    return messages.text("excel_last_action", action=action, time=when.strftime("%d/%m/%Y %H:%M"), result=result)


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)
