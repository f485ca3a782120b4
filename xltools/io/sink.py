"""The openpyxl sink: apply a ``WorkbookChange`` to a commune workbook file, atomically.

The file is loaded once, the change is applied (output sheets, table cells and appended
rows with the table grown over them, dashboard fields, fills), and the result is saved
to a temporary file that replaces the original after a backup (``write_atomic``). A
workbook open in Excel is refused. Before the temporary file replaces anything, its
package is compared with the original's: a picture, chart, drawn shape, comment,
conditional format, table, defined name or any other part that openpyxl would have
dropped makes the write refuse, naming what would be lost, and nothing is written.

The sink knows openpyxl and the change; nothing about validation, import or reports.
"""
from __future__ import annotations

import contextlib
import copy
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import openpyxl
from lxml import etree
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink

from ..core import messages
from ..core.change import LINK_COLOUR, TEXT_COLOUR, TEXT_FORMAT, OutputSheet, TableChange, WorkbookChange
from ..core.definitions import Definitions, Sheet, get_definitions
from ..core.errors import WorkbookError, WriteError
from ..core.text import header_key, is_blank
from .files import refuse_if_open, write_atomic
from .reader import check_file
from .writer import cell_value, column_number_format, formula_for_row
from .xmlsink import can_patch, patch

# ---------------------------------------------------------------------------- what a package holds
# Parts and elements counted before and after a write: none may disappear. Names are the
# catalogue keys (package_part_<name>) that say what would be lost.
PART_KINDS: dict[str, re.Pattern[str]] = {
    "images": re.compile(r"^xl/media/"),
    "charts": re.compile(r"^xl/charts/chart\d*\.xml$"),
    "chartsheets": re.compile(r"^xl/chartsheets/sheet\d*\.xml$"),
    "comments": re.compile(r"^xl/(comments/)?comments?\d*\.xml$"),
    "threaded_comments": re.compile(r"^xl/threadedComments/"),
    "tables": re.compile(r"^xl/tables/table\d*\.xml$"),
    "pivot_tables": re.compile(r"^xl/pivotTables/pivotTable\d*\.xml$"),
    "slicers": re.compile(r"^xl/(slicers|slicerCaches|timelines|timelineCaches)/"),
    "activex": re.compile(r"^xl/activeX/"),
    "controls": re.compile(r"^xl/ctrlProps/"),
    "vba": re.compile(r"^xl/vbaProject\.bin$"),
    "external_links": re.compile(r"^xl/externalLinks/externalLink\d*\.xml$"),
    "custom_xml": re.compile(r"^customXml/item\d*\.xml$"),
}
ELEMENT_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[bytes]]] = {
    "drawn_objects": (re.compile(r"^xl/drawings/drawing\d*\.xml$"),
                      re.compile(rb"<(?:\w+:)?(?:twoCellAnchor|oneCellAnchor|absoluteAnchor)\b")),
    "conditional_formats": (re.compile(r"^xl/worksheets/sheet\d*\.xml$"), re.compile(rb"<(?:\w+:)?cfRule\b")),
    "data_validations": (re.compile(r"^xl/worksheets/sheet\d*\.xml$"), re.compile(rb"<(?:\w+:)?dataValidation\b")),
    "defined_names": (re.compile(r"^xl/workbook\.xml$"), re.compile(rb"<(?:\w+:)?definedName\b")),
}


def package_inventory(path: str | Path) -> Counter[str]:
    """How many of each kind of part and element the package at ``path`` holds."""
    found: Counter[str] = Counter()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            for kind, pattern in PART_KINDS.items():
                if pattern.search(name):
                    found[kind] += 1
            for kind, (part, element) in ELEMENT_KINDS.items():
                if part.search(name):
                    found[kind] += len(element.findall(zf.read(info)))
    return found


def lost_parts(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Kinds of which ``after`` holds fewer than ``before`` (kind -> how many are missing)."""
    return {k: n - after.get(k, 0) for k, n in before.items() if after.get(k, 0) < n}


def refuse_losses(path: Path, before: Mapping[str, int], written: Path) -> None:
    lost = lost_parts(before, package_inventory(written))
    if lost:
        what = ", ".join(messages.text(f"package_part_{k}", count=n) for k, n in sorted(lost.items()))
        raise WorkbookError("package_would_lose", file=path.name, what=what)


# ---------------------------------------------------------------------------- the editing session
class WorkbookEditor:
    """One commune workbook loaded with openpyxl for editing (see ``edit_workbook``)."""

    def __init__(self, path: Path, defs: Definitions) -> None:
        self.path = path
        self.defs = defs
        keep_vba = path.suffix.lower() == ".xlsm"
        try:
            self.wb = openpyxl.load_workbook(path, keep_vba=keep_vba, keep_links=True, rich_text=False)
        except Exception as exc:  # openpyxl's multi-line "Unable to read workbook", KeyError, ParseError …
            from .files import damaged_error

            raise damaged_error(path, exc) from None
        self.before = package_inventory(path)

    def worksheet(self, sheet_key: str, *, create: bool = False):
        sheet = self.defs.sheet(sheet_key)
        wanted = header_key(sheet.name)
        for ws in self.wb.worksheets:
            if header_key(ws.title) == wanted:
                return ws
        if create:  # an output sheet deleted by hand: add it back at the end, protected as built
            ws = self.wb.create_sheet(sheet.name)
            ws.protection.sheet = True
            return ws
        raise WorkbookError("missing_sheet", file=self.path.name, sheet=sheet.name, major=self.defs.major)

    def by_name(self, name: str):
        wanted = header_key(name)
        return next((ws for ws in self.wb.worksheets if header_key(ws.title) == wanted), None)

    def table(self, sheet: Sheet):
        """The sheet's Excel Table: by its name, else the sheet's only one (renamed by hand)."""
        ws = self.worksheet(sheet.key)
        table = ws.tables.get(sheet.table)
        if table is None and len(ws.tables) == 1:
            table = next(iter(ws.tables.values()))
        return ws, table

    def save(self) -> Path:
        def write(tmp: Path) -> None:
            self.wb.save(tmp)
            refuse_losses(self.path, self.before, tmp)

        return write_atomic(self.path, write, check_lock=False)


@contextlib.contextmanager
def edit_workbook(path: str | Path, defs: Definitions | None = None) -> Iterator[WorkbookEditor]:
    """Open ``path`` for editing; saved atomically (with a backup) when the block succeeds."""
    path = Path(path)
    defs = defs or get_definitions()
    refuse_if_open(path)
    check_file(path, defs)
    editor = WorkbookEditor(path, defs)
    yield editor
    editor.save()


# ---------------------------------------------------------------------------- applying a change
def apply_change(path: str | Path, change: WorkbookChange, defs: Definitions | None = None) -> Path:
    """Apply ``change`` to the workbook file at ``path`` (one atomic save, backup in Sao_luu/).

    Table rows, grown tables and dashboard fields (import, export, a Nhật ký row) are written by
    the package sink (``io.xmlsink``: only the parts they touch are rewritten); a change with
    output sheets or fills by openpyxl. Either way the package is compared with the original's
    before it replaces anything."""
    path = Path(path)
    defs = defs or get_definitions()
    if can_patch(change):
        refuse_if_open(path)
        check_file(path, defs)
        before = package_inventory(path)

        def write(tmp: Path) -> None:
            try:
                patch(path, tmp, change, defs)
            except (etree.XMLSyntaxError, zipfile.BadZipFile, KeyError, ValueError) as exc:
                from .files import damaged_error

                raise damaged_error(path, exc) from None
            refuse_losses(path, before, tmp)

        return write_atomic(path, write, check_lock=False)
    with edit_workbook(path, defs) as ed:
        apply_to(ed, change)
    return path


def apply_to(ed: WorkbookEditor, change: WorkbookChange) -> None:
    """Apply ``change`` inside an editing session (tables first, then fills, outputs, fields)."""
    for tc in change.tables:
        _apply_table(ed, tc)
    for key, last in change.grow.items():
        _grow(ed, key, last)
    _apply_fills(ed, change)
    for out in change.outputs:
        _apply_output(ed.worksheet(out.key, create=True), out)
    if change.fields:
        _apply_fields(ed, change.fields)


def _put(cell, value: Any) -> None:
    """Store ``value``; a text that starts with "=" stays text (openpyxl would make it a formula)."""
    cell.value = value
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"


def _text_or_value(cell, value: Any) -> None:
    value = cell_value(value)
    if isinstance(value, str):
        cell.number_format = TEXT_FORMAT
    _put(cell, value)


def _apply_fields(ed: WorkbookEditor, values: Mapping[str, Any]) -> None:
    sheet = ed.defs.sheet("dashboard")
    ws = ed.worksheet("dashboard")
    for f in sheet.fields:
        if f.key in values:
            _text_or_value(ws[f.cell], values[f.key])


def _apply_table(ed: WorkbookEditor, tc: TableChange) -> None:
    if not tc.updates and not tc.appends:
        return
    sheet = ed.defs.sheet(tc.key)
    ws, table = ed.table(sheet)
    letters = tc.letters
    for excel_row, values in tc.updates.items():
        for key, value in values.items():
            if key in letters:
                _write_cell(ws[f"{letters[key]}{excel_row}"], sheet, key, value, ed.defs)
    for i, item in enumerate(tc.appends):
        r = tc.first_free_row + i
        for key, letter in letters.items():
            cell = styled_cell(ws, r, column_index_from_string(letter))
            formula = sheet.column(key).type == "formula"  # rewritten with the row's formula anyway
            if not formula and not is_blank(cell.value):  # never write into a cell that was not read
                raise WriteError("sink_cell_not_empty", file=ed.path.name, sheet=ws.title, cell=cell.coordinate)
            _write_cell(cell, sheet, key, item.get(key), ed.defs, letters, appended=True)
    if tc.appends:
        _grow(ed, tc.key, tc.last_row)


def styled_cell(ws, row: int, column: int):
    """The cell at (row, column); one the sheet does not hold yet takes the style Excel shows an
    empty cell there with, as the package sink does: its row's (when the row has one), else its
    column's."""
    if (row, column) in ws._cells:
        return ws._cells[(row, column)]
    cell = ws.cell(row, column)
    dim = ws.row_dimensions.get(row)  # (indexing would add a row dimension)
    if dim is not None and dim.customFormat and dim.has_style:
        cell._style = copy.copy(dim._style)
        return cell
    for col in ws.column_dimensions.values():
        if col.min and col.max and col.min <= column <= col.max and col.has_style:
            cell._style = copy.copy(col._style)
            break
    return cell


def _grow(ed: WorkbookEditor, key: str, last: int) -> None:
    """Grow the table of ``key`` down to Excel row ``last`` (never shrink it)."""
    _, table = ed.table(ed.defs.sheet(key))
    if table is None:
        return
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    if min_col is None or min_row is None or max_col is None or max_row is None:
        return  # a table over whole columns: nothing to grow
    if last > max_row:
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
        table.ref = ref
        if table.autoFilter is not None:
            table.autoFilter.ref = ref


def _write_cell(cell, sheet: Sheet, key: str, value: Any, defs: Definitions,
                letters: Mapping[str, str] | None = None, appended: bool = False) -> None:
    col = sheet.column(key)
    if col.type == "formula":
        if appended and col.formula:
            cell.value = formula_for_row(col.formula, sheet, cell.row, letters)
        return
    fmt = column_number_format(col, defs)
    if fmt:
        cell.number_format = fmt
    _put(cell, cell_value(value))


def _apply_fills(ed: WorkbookEditor, change: WorkbookChange) -> None:
    for (sheet_name, address), colour in change.fills.items():
        ws = ed.by_name(sheet_name)
        if ws is None:
            continue
        try:
            cell = ws[address]
        except (ValueError, KeyError, IndexError):
            continue
        cell.fill = PatternFill("solid", fgColor=colour.lstrip("#").upper()) if colour else PatternFill(fill_type=None)


_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRED = Alignment(wrap_text=True, horizontal="center", vertical="center")
_PLAIN = Alignment(wrap_text=False)


def _empty_output(ws) -> None:
    """Empty an output sheet by contents, links, fills and merges; its formats stay."""
    for rng in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(rng))
    ws.auto_filter.ref = None
    for row in ws.iter_rows():
        for cell in row:
            cell.value = None
            cell.hyperlink = None
            if cell.fill.fill_type is not None:
                cell.fill = PatternFill(fill_type=None)


def _apply_output(ws, out: OutputSheet) -> None:
    _empty_output(ws)
    for r, row in enumerate(out.rows, start=1):
        style = out.style(row)
        font = Font(name=out.font, size=out.size + style.size_delta, bold=style.bold, italic=style.italic,
                    color=TEXT_COLOUR)
        for c, value in enumerate(row.values, start=1):
            cell = ws.cell(r, c)
            _text_or_value(cell, value)
            cell.font = font
            if style.border:
                cell.border = _BORDER
            # the alignment is set on every cell: an old wrap left on the sheet would fold a note
            cell.alignment = _CENTRED if style.centred else _PLAIN
            fmt = row.number_formats[c - 1] if c - 1 < len(row.number_formats) else None
            if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = fmt
        if style.height and len(row.values) > 1:
            ws.row_dimensions[r].height = style.height
    for c, width in out.widths.items():
        ws.column_dimensions[get_column_letter(c)].width = width
    for link in out.links:
        cell = ws.cell(link.row, link.column)
        target = ws.parent[link.sheet].title if link.sheet in ws.parent.sheetnames else link.sheet
        location = "'" + target.replace("'", "''") + "'!" + link.cell
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=location, display=link.text)
        cell.font = Font(name=out.font, size=out.size, color=LINK_COLOUR, underline="single")
    if out.filter:
        header, last, width = out.filter
        ws.auto_filter.ref = f"A{header}:{get_column_letter(width)}{max(last, header)}"
    ws.freeze_panes = f"A{out.freeze_row}" if out.freeze_row else None


def column_of(address: str) -> int:
    return column_index_from_string("".join(ch for ch in address if ch.isalpha()))
