"""Apply an upgrade plan (``xltools.core.upgrade``) to a commune workbook file with openpyxl.

``read_shape`` tells the core what the workbook holds; ``apply_plan`` carries out every step in
one editing session of the sink (``io.sink.WorkbookEditor``: one load, one atomic save with the
backup in Sao_luu/, refused when the package would lose a part):

- a table column is inserted in the sheet at its defined place, as Excel inserts a column: the
  cells to its right move, and so do the Excel Table (grown by the column), the data validations,
  conditional formats, merged cells, links, column widths and every formula or defined name that
  points at the moved cells; the new column gets its header (styled as its neighbour), its number
  format, font, width and data validation (dropdown) as ``xltools new`` writes them, and no value
  (an indicator added later is "not reported" in the old rows, never 0);
- a sheet is created at its defined place as ``xltools new`` builds it (header, Table, formats,
  widths, validation, frozen header, print setup);
- a list gets its column in the hidden list sheet and its defined name; values of a list are
  appended and its name grown;
- a setting row is appended to the Cấu hình table with its default; template_version is raised
  there and on the dashboard;
- renamed headers, sheets (formulas and names follow) and settings are renamed; removed ones are
  kept with a note (a cell comment) that they are no longer used;
- one Nhật ký row lists every change.

An .xlsm is loaded with its VBA project (``keep_vba``), which is written back unchanged.
"""
from __future__ import annotations

import datetime as dt
import re
from copy import copy
from typing import Any

from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.styles import Alignment, Font
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import ColumnDimension
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from ..core import messages
from ..core.change import TableChange, WorkbookChange, last_action, log_entry
from ..core.definitions import Column, Definitions, Sheet
from ..core.settings import resolve
from ..core.text import header_key, is_blank
from ..core.upgrade import Step, UpgradePlan, WorkbookShape
from .sink import WorkbookEditor, apply_to
from .writer import (
    FONT,
    REPORT_VALIDATION_ROWS,
    TABLE_STYLE,
    VALIDATION_ROWS,
    _setting_text,
    _validation,
    column_number_format,
    formula_for_row,
)

HEADER_SCAN_ROWS = 20
AUTHOR = "xltools"


# ---------------------------------------------------------------------------- reading the shape
def _own_table(ws, sheet: Sheet | None):
    if sheet is not None and sheet.table and sheet.table in ws.tables:
        return ws.tables[sheet.table]
    return next(iter(ws.tables.values()), None) if len(ws.tables) == 1 else None


def _names(col: Column) -> set[str]:
    return {header_key(n) for n in (col.header, *col.aliases, col.key)}


def _defs_sheet(defs: Definitions, title: str) -> Sheet | None:
    return next((s for s in defs.sheets if header_key(s.name) == header_key(title)), None)


def locate(ws, sheet: Sheet | None) -> tuple[int, int, int] | None:
    """(header row, first column, last column) of the sheet's table: its Excel Table, else the row
    of the first rows that holds most of the sheet's headers (a table LibreOffice did not keep)."""
    table = _own_table(ws, sheet)
    if table is not None:
        min_col, min_row, max_col, _ = range_boundaries(table.ref)
        if min_col and min_row and max_col:
            return min_row, min_col, max_col
    if sheet is None:
        return None
    wanted = set().union(*(_names(c) for c in sheet.columns)) if sheet.columns else set()
    best: tuple[int, int, int, int] | None = None
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=HEADER_SCAN_ROWS), start=1):
        hits = [c.column for c in row if header_key(c.value) in wanted and header_key(c.value)]
        if hits and (best is None or len(hits) > best[0]):
            filled = [c.column for c in row if not is_blank(c.value)]
            best = (len(hits), r, min(filled), max(filled))
    return best[1:] if best else None


def headers(ws, sheet: Sheet | None) -> tuple[str, ...]:
    where = locate(ws, sheet)
    if where is None:
        return ()
    row, first, last = where
    return tuple("" if ws.cell(row, c).value is None else str(ws.cell(row, c).value) for c in range(first, last + 1))


def _settings_rows(ed: WorkbookEditor) -> tuple[Any, dict[str, str], int, dict[str, int]]:
    """The Cấu hình sheet, its letters (key, label, value), header row and key -> Excel row."""
    sheet = ed.defs.sheet("settings")
    ws = ed.by_name(sheet.name)
    if ws is None:
        return None, {}, 0, {}
    letters, row = _letters(ws, sheet)
    rows: dict[str, int] = {}
    if "key" in letters:
        for r in range(row + 1, ws.max_row + 1):
            key = ws[f"{letters['key']}{r}"].value
            if not is_blank(key):
                rows.setdefault(str(key).strip(), r)
    return ws, letters, row, rows


def _letters(ws, sheet: Sheet) -> tuple[dict[str, str], int]:
    where = locate(ws, sheet)
    if where is None:
        return {}, 1
    row, first, last = where
    out: dict[str, str] = {}
    for c in range(first, last + 1):
        key = header_key(ws.cell(row, c).value)
        for col in sheet.columns:
            if key and key in _names(col) and col.key not in out:
                out[col.key] = get_column_letter(c)
    return out, row


def _list_values(wb, name: DefinedName) -> tuple[str, ...]:
    values: list[str] = []
    try:
        destinations = list(name.destinations)
    except Exception:  # noqa: BLE001 - a name that is a formula, not a range: no values to read
        return ()
    for title, ref in destinations:
        if title not in wb.sheetnames:
            continue
        for row in wb[title][ref.replace("$", "")] if ":" in ref else [[wb[title][ref.replace("$", "")]]]:
            for cell in row:
                if not is_blank(cell.value):
                    values.append(str(cell.value))
    return tuple(values)


def read_shape(ed: WorkbookEditor) -> WorkbookShape:
    """What the loaded workbook holds, for ``core.upgrade.plan_upgrade``."""
    wb, defs = ed.wb, ed.defs
    tables = {ws.title: headers(ws, _defs_sheet(defs, ws.title)) for ws in wb.worksheets
              if ws.tables or (_defs_sheet(defs, ws.title) or Sheet("", "", "")).table}
    ws, letters, _, rows = _settings_rows(ed)
    version = None
    if ws is not None and "template_version" in rows and "value" in letters:
        value = ws[f"{letters['value']}{rows['template_version']}"].value
        version = None if is_blank(value) else str(value).strip()
    lists = {name[3:]: _list_values(wb, dn) for name, dn in wb.defined_names.items()
             if name.startswith("ds_") and name != "ds_village_codes"}
    return WorkbookShape(sheets=tuple(wb.sheetnames), tables=tables, settings=tuple(rows), lists=lists,
                         template_version=version)


# ---------------------------------------------------------------------------- references
_CELL = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")
_COL = re.compile(r"(\$?)([A-Za-z]{1,3})")
_ROW = re.compile(r"\$?\d+")


def _shift_part(part: str, column: int) -> str | None:
    m = _CELL.fullmatch(part) or _COL.fullmatch(part)
    if m is None:
        return part if _ROW.fullmatch(part) else None
    index = column_index_from_string(m.group(2).upper())
    if index >= column:
        index += 1
    return f"{m.group(1)}{get_column_letter(index)}" + ("".join(m.groups()[2:]) if m.re is _CELL else "")


def shift_ref(ref: str, column: int) -> str:
    """An A1 reference (``$E5``, ``A2:C9``, ``A:B``) after a column is inserted at ``column``."""
    parts = [_shift_part(p, column) for p in ref.split(":")]
    if any(p is None for p in parts) or not _CELL.fullmatch(ref.split(":")[0]) and not _COL.fullmatch(
            ref.split(":")[0]) and not _ROW.fullmatch(ref.split(":")[0]):
        return ref
    return ":".join(p for p in parts if p is not None)


def _sheet_of(prefix: str) -> str:
    prefix = prefix.strip()
    if prefix.startswith("'") and prefix.endswith("'"):
        prefix = prefix[1:-1].replace("''", "'")
    return prefix


def _rewrite(formula: Any, edit) -> Any:
    """``formula`` with every range operand passed through ``edit(sheet_prefix, ref) -> text``."""
    if not isinstance(formula, str) or not formula.startswith("="):
        return formula
    try:
        tok = Tokenizer(formula)
    except Exception:  # noqa: BLE001 - a formula openpyxl cannot tokenise is left as it is
        return formula
    changed = False
    for item in tok.items:
        if item.type == Token.OPERAND and item.subtype == Token.RANGE:
            prefix, bang, ref = item.value.rpartition("!")
            new = edit(prefix if bang else None, ref)
            if new != item.value:
                item.value = new
                changed = True
    return tok.render() if changed else formula


def _shifter(target: str, here: str | None, column: int):
    def edit(prefix: str | None, ref: str) -> str:
        sheet = _sheet_of(prefix) if prefix is not None else here
        if sheet != target:
            return ref if prefix is None else f"{prefix}!{ref}"
        moved = shift_ref(ref, column)
        return moved if prefix is None else f"{prefix}!{moved}"
    return edit


def _renamer(old: str, new: str):
    def edit(prefix: str | None, ref: str) -> str:
        if prefix is not None and _sheet_of(prefix) == old:
            return f"{quote_sheetname(new)}!{ref}"
        return ref if prefix is None else f"{prefix}!{ref}"
    return edit


def _every_formula(wb, edit_for) -> None:
    """Pass every formula of the workbook (cells, defined names, validations, conditional formats)
    through ``edit_for(sheet title or None)``."""
    for ws in wb.worksheets:
        edit = edit_for(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" and isinstance(cell.value, str):
                    cell.value = _rewrite(cell.value, edit)
        for dv in ws.data_validations.dataValidation:
            dv.formula1 = _strip(_rewrite(_eq(dv.formula1), edit))
            dv.formula2 = _strip(_rewrite(_eq(dv.formula2), edit))
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                rule.formula = [_strip(_rewrite(_eq(f), edit)) for f in rule.formula or []]
        for dn in ws.defined_names.values():
            dn.attr_text = _strip(_rewrite(_eq(dn.attr_text), edit))
    edit = edit_for(None)
    for dn in wb.defined_names.values():
        dn.attr_text = _strip(_rewrite(_eq(dn.attr_text), edit))


def _eq(text: Any) -> Any:
    return f"={text}" if isinstance(text, str) and not text.startswith("=") else text


def _strip(text: Any) -> Any:
    return text[1:] if isinstance(text, str) and text.startswith("=") else text


# ---------------------------------------------------------------------------- inserting a column
def _shift_range(rng: CellRange, column: int) -> str:
    if rng.min_col >= column:
        rng.shift(col_shift=1)
    elif rng.max_col >= column:
        rng.expand(right=1)
    return rng.coord


def insert_column(wb, ws, column: int, own: Table | None = None) -> None:
    """Insert an empty column at ``column`` (1-based) as Excel does: everything to its right moves.
    The table ``own`` is left to the caller (it grows by the column, see ``add_column``)."""
    ws.insert_cols(column)
    for table in ws.tables.values():
        if table is own:
            continue
        rng = CellRange(table.ref)
        spans = rng.min_col < column <= rng.max_col
        table.ref = _shift_range(rng, column)
        if table.autoFilter is not None:
            table.autoFilter.ref = table.ref
        if spans and table.tableColumns:  # another table spanning the column gets a column too
            ids = [c.id for c in table.tableColumns]
            table.tableColumns.insert(column - CellRange(table.ref).min_col,
                                      TableColumn(id=max(ids) + 1, name=f"Column{max(ids) + 1}"))
    for dv in ws.data_validations.dataValidation:
        dv.sqref = MultiCellRange([_shift_range(CellRange(r.coord), column) for r in dv.sqref.ranges])
    old = ws.conditional_formatting
    moved = ConditionalFormattingList()
    for cf in old:
        sqref = " ".join(_shift_range(CellRange(r.coord), column) for r in cf.sqref.ranges)
        for rule in cf.rules:
            moved.add(sqref, rule)
    ws.conditional_formatting = moved
    for mr in list(ws.merged_cells.ranges):
        _shift_range(mr, column)
    for link in getattr(ws, "_hyperlinks", []):
        if link.ref:
            link.ref = shift_ref(link.ref, column)
    if ws.auto_filter.ref:
        ws.auto_filter.ref = _shift_range(CellRange(ws.auto_filter.ref), column)
    _shift_dimensions(ws, column)
    _every_formula(wb, lambda here: _shifter(ws.title, here, column))


def _shift_dimensions(ws, column: int) -> None:
    spans = []
    for dim in list(ws.column_dimensions.values()):
        dim.reindex()
        spans.append((dim.min, dim.max, dim))
    ws.column_dimensions.clear()
    for low, high, dim in spans:
        pieces = [(low, high)] if high < column else [(low + 1, high + 1)] if low >= column else \
            [(low, column - 1), (column + 1, high + 1)]
        for a, b in pieces:
            new = ColumnDimension(ws, index=get_column_letter(a), width=dim.width, bestFit=dim.bestFit,
                                  hidden=dim.hidden, outlineLevel=dim.outlineLevel, collapsed=dim.collapsed,
                                  min=a, max=b)
            _copy_style(dim, new)
            ws.column_dimensions[new.index] = new


def _copy_style(source: Any, target: Any) -> None:
    """The look of a cell or column dimension given to another (font, fill, border, alignment …)."""
    for attr in ("font", "fill", "border", "alignment", "number_format", "protection"):
        setattr(target, attr, copy(getattr(source, attr)))


def _cell_style(cell, col: Column, defs: Definitions) -> None:
    cell.font = Font(name=FONT, size=12)
    fmt = column_number_format(col, defs)
    if fmt:
        cell.number_format = fmt
    if col.type in ("date", "datetime", "bool", "period", "code"):
        cell.alignment = Alignment(horizontal="center")


_OPERATORS: dict[str, Any] = {">=": "greaterThanOrEqual", "<=": "lessThanOrEqual", "==": "equal", "!=": "notEqual",
              ">": "greaterThan", "<": "lessThan", "between": "between"}
_TYPES: dict[str, Any] = {"list": "list", "integer": "whole", "decimal": "decimal", "date": "date", "length": "textLength"}


def _formula_value(value: Any) -> str:
    if isinstance(value, dt.date):
        return str((value - dt.date(1899, 12, 30)).days)
    return str(value)


def data_validation(defs: Definitions, col: Column, ref: str) -> DataValidation | None:
    """The column's validation as ``xltools new`` writes it (the writer's options, for openpyxl)."""
    opts = _validation(defs, col)
    if not opts:
        return None
    dv = DataValidation(type=_TYPES[opts["validate"]], allow_blank=True, showErrorMessage=True,
                        errorStyle=opts.get("error_type", "stop"), errorTitle=opts.get("error_title"),
                        error=opts.get("error_message"), promptTitle=opts.get("input_title"),
                        prompt=opts.get("input_message"), showInputMessage=bool(opts.get("input_message")))
    if dv.type == "list":
        dv.formula1 = str(opts["source"]).lstrip("=")
    else:
        dv.operator = _OPERATORS[opts["criteria"]]
        if opts["criteria"] == "between":
            dv.formula1, dv.formula2 = _formula_value(opts["minimum"]), _formula_value(opts["maximum"])
        else:
            dv.formula1 = _formula_value(opts["value"])
    dv.add(ref)
    return dv


def _validation_rows(sheet: Sheet) -> int:
    return REPORT_VALIDATION_ROWS if sheet.key == "reports" else VALIDATION_ROWS


def _last_used_row(ws, header_row: int, first: int, last: int) -> int:
    for r in range(ws.max_row, header_row, -1):
        if any(not is_blank(ws.cell(r, c).value) for c in range(first, last + 1)):
            return r
    return header_row


def add_column(ed: WorkbookEditor, step: Step) -> None:
    wb, defs = ed.wb, ed.defs
    sheet = defs.sheet(step.sheet_key)
    col = sheet.column(step.key)
    ws = wb[step.sheet]
    where = locate(ws, sheet)
    if where is None:
        return
    header_row, first, last = where
    at = first + step.position
    table = _own_table(ws, sheet)
    bounds = range_boundaries(table.ref) if table is not None else None
    insert_column(wb, ws, at, own=table)
    if table is not None and bounds is not None:  # the table grows by the column, wherever it goes in it
        min_col, min_row, max_col, max_row = bounds
        if min_col and min_row and max_col and max_row:
            table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col + 1)}{max_row}"
            if table.autoFilter is not None:
                table.autoFilter.ref = table.ref
            ids = [c.id for c in table.tableColumns]
            table.tableColumns.insert(at - min_col, TableColumn(id=max(ids, default=0) + 1, name=col.header))
    neighbour = ws.cell(header_row, at - 1 if at > first else at + 1)
    head = ws.cell(header_row, at, col.header)
    _copy_style(neighbour, head)
    letter = get_column_letter(at)
    dim = ws.column_dimensions[letter]
    dim.width = col.width or 14
    dim.font = Font(name=FONT, size=12)
    fmt = column_number_format(col, defs)
    if fmt:
        dim.number_format = fmt
    last_row = _last_used_row(ws, header_row, first, last + 1)
    if table is not None:
        last_row = max(last_row, range_boundaries(table.ref)[3] or last_row)
    letters, _ = _letters(ws, sheet)
    for r in range(header_row + 1, last_row + 1):
        cell = ws.cell(r, at)
        _cell_style(cell, col, defs)
        if col.type == "formula" and col.formula and any(
                not is_blank(ws.cell(r, c).value) for c in range(first, last + 2) if c != at):
            cell.value = formula_for_row(col.formula, sheet, r, letters)
    if col.type != "formula":
        dv = data_validation(defs, col, f"{letter}{header_row + 1}:{letter}{header_row + _validation_rows(sheet)}")
        if dv is not None:
            ws.add_data_validation(dv)


# ---------------------------------------------------------------------------- sheets and lists
def _print_setup(ws) -> None:
    ws.page_setup.paperSize = 9
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.page_margins.left, ws.page_margins.right = 0.6, 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6


def add_sheet(ed: WorkbookEditor, step: Step) -> None:
    wb, defs = ed.wb, ed.defs
    sheet = defs.sheet(step.sheet_key)
    ws = wb.create_sheet(sheet.name, step.position)
    _print_setup(ws)
    if not sheet.table:  # an output sheet: empty until its verb writes it
        ws["A1"] = sheet.name.upper()
        ws["A1"].font = Font(name=FONT, size=16, bold=True, color="1F3864")
        ws["A2"] = messages.text("output_empty")
        ws["A2"].font = Font(name=FONT, size=12, italic=True)
        ws.column_dimensions["A"].width = 14
        ws.protection.sheet = sheet.protected
        return
    for i, col in enumerate(sheet.columns, start=1):
        head = ws.cell(1, i, col.header)
        head.font = Font(name=FONT, size=12, bold=True)
        head.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        letter = get_column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = col.width or 14
        dim.font = Font(name=FONT, size=12)
        fmt = column_number_format(col, defs)
        if fmt:
            dim.number_format = fmt
        _cell_style(ws.cell(2, i), col, defs)
        if col.type != "formula":
            dv = data_validation(defs, col, f"{letter}2:{letter}{1 + _validation_rows(sheet)}")
            if dv is not None:
                ws.add_data_validation(dv)
    ref = f"A1:{get_column_letter(len(sheet.columns))}2"
    style = TableStyleInfo(name=TABLE_STYLE.replace(" ", ""), showRowStripes=True)
    table = Table(displayName=sheet.table, ref=ref, tableStyleInfo=style, autoFilter=AutoFilter(ref=ref))
    table.tableColumns = [TableColumn(id=i, name=c.header) for i, c in enumerate(sheet.columns, start=1)]
    ws.add_table(table)
    ws.row_dimensions[1].height = 48
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.protection.sheet = sheet.protected


def rename_sheet(ed: WorkbookEditor, step: Step) -> None:
    ws = ed.wb[step.old]
    ws.title = step.name
    _every_formula(ed.wb, lambda here: _renamer(step.old, step.name))


def _note(cell, text: str) -> None:
    cell.comment = Comment(text, AUTHOR, width=300, height=90)


def retire(ed: WorkbookEditor, step: Step) -> None:
    text = messages.text("upgrade_retired_note", since=step.since)
    if step.action == "retire_sheet":
        ws = ed.wb[step.sheet]
        ws.sheet_properties.tabColor = "A6A6A6"
        _note(ws["A1"], text)
    elif step.action == "retire_column":
        ws = ed.wb[step.sheet]
        where = locate(ws, ed.defs.sheet(step.sheet_key))
        if where is None:
            return
        row, first, last = where
        for c in range(first, last + 1):
            if header_key(ws.cell(row, c).value) == header_key(step.name):
                _note(ws.cell(row, c), text)
    elif step.action == "retire_list":
        dn = ed.wb.defined_names.get(f"ds_{step.key}")
        for title, ref in (dn.destinations if dn is not None else []):
            first = ref.replace("$", "").split(":")[0]
            ws = ed.wb[title]
            _note(ws.cell(max(ws[first].row - 1, 1), ws[first].column), text)


def rename_column(ed: WorkbookEditor, step: Step) -> None:
    ws = ed.wb[step.sheet]
    sheet = ed.defs.sheet(step.sheet_key)
    where = locate(ws, sheet)
    if where is None:
        return
    row, first, last = where
    for c in range(first, last + 1):
        cell = ws.cell(row, c)
        if header_key(cell.value) == header_key(step.old):
            cell.value = step.name
    table = _own_table(ws, sheet)
    for tc in (table.tableColumns if table is not None else []):
        if header_key(tc.name) == header_key(step.old):
            tc.name = step.name


def _list_sheet(ed: WorkbookEditor):
    ws = ed.by_name(ed.defs.list_sheet)
    if ws is None:
        ws = ed.wb.create_sheet(ed.defs.list_sheet)
        ws.sheet_state = "hidden"
    return ws


def add_list(ed: WorkbookEditor, step: Step) -> None:
    ws = _list_sheet(ed)
    column = 1 + max((c.column for row in ws.iter_rows(min_row=1, max_row=1) for c in row
                      if not is_blank(c.value)), default=0)
    head = ws.cell(1, column, step.name)
    head.font = Font(name=FONT, size=12, bold=True)
    for r, value in enumerate(step.values, start=2):
        ws.cell(r, column).number_format = "@"
        ws.cell(r, column, value)
    _define_list(ed, step.key, ws.title, column, len(step.values))


def _define_list(ed: WorkbookEditor, key: str, title: str, column: int, count: int) -> None:
    letter = get_column_letter(column)
    name = f"ds_{key}"
    ed.wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(title)}!${letter}$2:${letter}${count + 1}")


def add_list_values(ed: WorkbookEditor, step: Step) -> None:
    dn = ed.wb.defined_names.get(f"ds_{step.key}")
    if dn is None:
        return
    for title, ref in dn.destinations:
        if title not in ed.wb.sheetnames:
            continue
        ws = ed.wb[title]
        plain = ref.replace("$", "")
        min_col, min_row, _, max_row = range_boundaries(plain if ":" in plain else f"{plain}:{plain}")
        if min_col is None or min_row is None or max_row is None:
            continue
        for i, value in enumerate(step.values, start=1):
            ws.cell(max_row + i, min_col).number_format = "@"
            ws.cell(max_row + i, min_col, value)
        letter = get_column_letter(min_col)
        dn.attr_text = f"{quote_sheetname(title)}!${letter}${min_row}:${letter}${max_row + len(step.values)}"
        return


# ---------------------------------------------------------------------------- applying the plan
STRUCTURE = {"rename_sheet": rename_sheet, "add_sheet": add_sheet, "retire_sheet": retire,
             "rename_column": rename_column, "add_column": add_column, "retire_column": retire,
             "add_list": add_list, "add_list_values": add_list_values, "retire_list": retire}


def apply_plan(ed: WorkbookEditor, plan: UpgradePlan, *, when: dt.datetime, user: str, sha256: str | None) -> None:
    """Carry out ``plan`` in the editing session (saved by the caller)."""
    defs = ed.defs
    for step in plan.steps:
        if step.action in STRUCTURE:
            STRUCTURE[step.action](ed, step)
    ws, letters, header, rows = _settings_rows(ed)
    change = WorkbookChange()
    if ws is not None:
        values = {k: ws[f"{letters['value']}{r}"].value for k, r in rows.items()} if "value" in letters else {}
        known = {s.key for s in defs.settings}
        defaults = resolve(defs, {k: v for k, v in values.items() if k in known}, strict=False)
        settings = TableChange("settings", letters=letters, header_row=header)
        settings.first_free_row = _last_used_row(ws, header, 1, ws.max_column) + 1
        for step in plan.steps:
            if step.action == "add_setting":
                value = defs.version if step.key == "template_version" else defaults.get(step.key)
                settings.appends.append({"key": step.key, "label": step.name, "value": _setting_text(value)})
            elif step.action == "rename_setting" and step.old in rows:
                settings.updates.setdefault(rows[step.old], {})["key"] = step.key
            elif step.action == "version" and "template_version" in rows:
                settings.updates.setdefault(rows["template_version"], {})["value"] = defs.version
            elif step.action == "retire_setting" and step.key in rows and "label" in letters:
                _note(ws[f"{letters['label']}{rows[step.key]}"],
                      messages.text("upgrade_retired_note", since=step.since))
        change.tables.append(settings)
    action = messages.text("upgrade_log_action")
    result = messages.text("excel_result_ok")
    log_sheet = defs.sheet("log")
    log_ws = ed.by_name(log_sheet.name)
    if log_ws is not None:
        log_letters, log_header = _letters(log_ws, log_sheet)
        log = TableChange("log", letters=log_letters, header_row=log_header)
        log.first_free_row = _last_used_row(log_ws, log_header, 1, log_ws.max_column) + 1
        detail = messages.text("upgrade_log_detail", old=plan.found_version or "?", new=defs.version,
                               steps="; ".join(plan.lines()))
        log.appends.append(log_entry(time=when, action=action, file=ed.path.name, sha256=sha256, result=result,
                                     detail=detail, user=user))
        change.tables.append(log)
    change.fields = {"template_version": defs.version, "last_action": last_action(action, when, result)}
    apply_to(ed, change)
    _dashboard_labels(ed)


def _dashboard_labels(ed: WorkbookEditor) -> None:
    """The label of a dashboard field added since the workbook was made (column B of its row, as
    ``new`` writes it), where that cell is still empty."""
    ws = ed.by_name(ed.defs.sheet("dashboard").name)
    if ws is None:
        return
    for f in ed.defs.sheet("dashboard").fields:
        label = ws[f"B{ws[f.cell].row}"]
        if label.value in (None, "") and not isinstance(label, MergedCell):
            label.value = f.label
            label.font = copy(ws["B4"].font)
