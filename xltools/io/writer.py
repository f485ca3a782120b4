"""Build a commune workbook from the definitions with XlsxWriter.

Excel Tables with the stable names and Vietnamese headers, dropdowns from the
hidden list sheet, whole-number and date validation with Vietnamese messages,
frozen headers, number and date formats, widths; the data-entry sheets stay
unprotected (Excel cannot grow a Table on a protected sheet), the dashboard and
the computed sheets are protected against accidents.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_col_to_name

from .. import __version__
from ..core import messages
from ..core.definitions import Column, Definitions, Sheet, get_definitions
from ..core.errors import DefinitionsError
from ..core.frames import records
from .files import write_atomic

VALIDATION_ROWS = 5000  # rows below the header that carry dropdowns and checks
REPORT_VALIDATION_ROWS = 20000
TABLE_STYLE = "Table Style Medium 2"
FONT = "Times New Roman"


def _rows(sheet: Sheet, data: pd.DataFrame | list[dict[str, Any]] | None) -> list[list[Any]]:
    if data is None:
        return []
    items = records(data) if isinstance(data, pd.DataFrame) else list(data)
    keys = [c.key for c in sheet.columns]
    return [[cell_value(item.get(k)) for k in keys] for item in items]


def cell_value(value: Any) -> Any:
    """A Python/pandas value as a spreadsheet cell takes it (booleans as Có/Không)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return messages.text("yes" if value else "no")
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, dt.date)):
        return value.item()  # numpy scalar
    return value


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, defs: Definitions) -> None:
        self.wb = wb
        self.defs = defs
        self.cache: dict[tuple, Any] = {}
        base = {"font_name": FONT, "font_size": 12}
        self.header = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "vcenter", "align": "center"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "font_color": "#1F3864"})
        self.label = wb.add_format({**base, "bold": True})
        self.value = wb.add_format({**base, "font_color": "#1F3864"})
        self.note = wb.add_format({**base, "italic": True, "text_wrap": True, "valign": "top"})

    def column(self, col: Column) -> Any:
        fmt = self.defs.column_format(col)
        key = (fmt, col.type)
        if key not in self.cache:
            props: dict[str, Any] = {"font_name": FONT, "font_size": 12}
            if fmt:
                props["num_format"] = fmt
            if col.type in ("code", "phone", "period", "text", "list") and not fmt:
                props["num_format"] = "@"  # keep leading zeros when users type codes
            if col.type in ("date", "datetime", "bool", "period", "code"):
                props["align"] = "center"
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]


def _validation(defs: Definitions, col: Column) -> dict[str, Any] | None:
    title = messages.text("dv_error_title")
    if col.comment:
        prompt = col.comment
    else:
        prompt = None
    opts: dict[str, Any] | None
    if col.ref == "villages":
        opts = {"validate": "list", "source": "=ds_village_codes", "error_message": messages.text("dv_village")}
    elif col.list:
        opts = {"validate": "list", "source": f"={defs.lists[col.list].name}", "error_message": messages.text("dv_list")}
    elif col.type in ("int", "money"):
        opts = {"validate": "integer", "criteria": ">=", "value": 0, "error_message": messages.text("dv_int")}
    elif col.type == "number":
        opts = {"validate": "decimal", "criteria": ">=", "value": 0, "error_message": messages.text("dv_number")}
    elif col.type == "date":
        opts = {
            "validate": "date",
            "criteria": "between",
            "minimum": dt.date(2000, 1, 1),
            "maximum": dt.date(2100, 12, 31),
            "error_message": messages.text("dv_date"),
        }
    elif col.type == "period":
        opts = {"validate": "length", "criteria": "==", "value": 7, "error_message": messages.text("dv_period")}
    elif col.max_length:
        opts = {"validate": "length", "criteria": "<=", "value": col.max_length}
    else:
        opts = None
    if opts is None:
        return None
    opts.setdefault("error_title", title)
    opts["error_type"] = "stop"
    if prompt or opts.get("error_message"):
        opts["input_title"] = col.header[:32]
        opts["input_message"] = (prompt or opts["error_message"])[:255]
    return opts


def _write_table(wb, fm: _Formats, defs: Definitions, sheet: Sheet, data, village_letter: list[str]) -> None:
    ws = wb.add_worksheet(sheet.name)
    rows = _rows(sheet, data)
    columns = []
    for col in sheet.columns:
        spec: dict[str, Any] = {"header": col.header, "format": fm.column(col), "header_format": fm.header}
        columns.append(spec)
    last_row = max(len(rows), 1)
    ws.add_table(
        0, 0, last_row, len(columns) - 1,
        {"name": sheet.table, "columns": columns, "data": rows, "style": TABLE_STYLE},
    )
    for i, col in enumerate(sheet.columns):  # row formulas as A1 references: every application evaluates them
        if col.type == "formula" and col.formula:
            for r in range(1, last_row + 1):
                ws.write_formula(r, i, formula_for_row(col.formula, sheet, r + 1), fm.column(col))
    ws.set_row(0, 48)
    limit = REPORT_VALIDATION_ROWS if sheet.key == "reports" else VALIDATION_ROWS
    for i, col in enumerate(sheet.columns):
        ws.set_column(i, i, col.width or 14, fm.column(col))
        if col.type == "formula":
            continue
        opts = _validation(defs, col)
        if opts:
            ws.data_validation(1, i, limit, i, opts)
    ws.freeze_panes(1, 0)
    _print_setup(ws)
    ws.repeat_rows(0)
    if sheet.key == "villages":
        village_letter.append(xl_col_to_name(sheet.keys.index("code")))
    if sheet.protected:
        ws.protect("", {"autofilter": True, "sort": True})


def _write_dashboard(wb, fm: _Formats, defs: Definitions, sheet: Sheet, settings: Mapping[str, Any]) -> Any:
    ws = wb.add_worksheet(sheet.name)
    ws.set_column("A:A", 3)
    ws.set_column("B:B", 38)
    ws.set_column("C:C", 34)
    ws.set_column("D:D", 3)
    ws.set_column("E:G", 22)
    ws.write("B2", defs.title, fm.title)
    values = {
        "commune": f"{settings.get('commune_name') or ''} ({settings.get('commune_code') or ''})",
        "current_period": settings.get("current_period") or "",
        "template_version": defs.version,
    }
    for f in sheet.fields:
        row = int("".join(ch for ch in f.cell if ch.isdigit())) - 1
        ws.write(row, 1, f.label, fm.label)
        ws.write(f.cell, values.get(f.key, ""), fm.value)
    ws.merge_range("B12:G15", messages.text("dashboard_help"), fm.note)
    # where the buttons are when this workbook carries none (the .xlsx): the add-in's tab, the shortcuts
    ws.merge_range("B16:G18", messages.text("dashboard_buttons_help", tab=messages.text("addin_tab")), fm.note)
    ws.hide_gridlines(2)
    _print_setup(ws)
    if sheet.protected:
        ws.protect("")
    return ws


def _print_setup(ws) -> None:
    """A4 landscape, one page wide: how officers print lists."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.6, right=0.4, top=0.6, bottom=0.6)


def _write_output(wb, fm: _Formats, sheet: Sheet) -> None:
    ws = wb.add_worksheet(sheet.name)
    _print_setup(ws)
    ws.write("A1", sheet.name.upper(), fm.title)
    ws.write("A2", messages.text("output_empty"), fm.note)
    ws.set_column("A:A", 14)
    if sheet.protected:
        ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})


def _write_lists(wb, fm: _Formats, defs: Definitions, village_letter: str, villages_sheet: str) -> None:
    ws = wb.add_worksheet(defs.list_sheet)
    for i, lst in enumerate(defs.lists.values()):
        ws.write(0, i, lst.label, fm.header)
        for r, value in enumerate(lst.values, start=1):
            ws.write_string(r, i, value)
        col = xl_col_to_name(i)
        wb.define_name(lst.name, f"={quote_sheetname(defs.list_sheet)}!${col}$2:${col}${len(lst.values) + 1}")
    wb.define_name(
        "ds_village_codes",
        f"={quote_sheetname(villages_sheet)}!${village_letter}$2:${village_letter}${VALIDATION_ROWS + 1}",
    )
    ws.hide()


def build_workbook(
    target: str | Path,
    tables: Mapping[str, pd.DataFrame | list[dict[str, Any]] | None],
    settings: Mapping[str, Any],
    defs: Definitions | None = None,
    *,
    vba_project: str | Path | None = None,
    on_dashboard=None,
) -> None:
    """Write a complete commune workbook to ``target`` (not atomic: see ``write_workbook``).

    ``tables`` maps sheet keys to rows; ``settings`` is the resolved settings dict,
    written as the rows of the Cấu hình table. ``vba_project`` and ``on_dashboard``
    (a callable receiving the workbook and the dashboard sheet) serve the macro build.
    """
    defs = defs or get_definitions()
    wb = xlsxwriter.Workbook(str(target), {"in_memory": True})
    try:
        if vba_project:
            wb.add_vba_project(str(vba_project))
        wb.set_properties(
            {
                "title": defs.title,
                "subject": f"{settings.get('commune_name') or ''} ({settings.get('commune_code') or ''})",
                "author": "xltools",
                "comments": f"xltools {__version__}, definitions {defs.version}",
            }
        )
        wb.set_custom_property("xltools_definitions_version", defs.version)
        wb.set_custom_property("xltools_version", __version__)
        fm = _Formats(wb, defs)
        village_letter: list[str] = []
        setting_rows = [  # the value column is text: a date is written as the user would type it
            {"key": s.key, "label": s.label, "value": _setting_text(settings.get(s.key))} for s in defs.settings
        ]
        for sheet in defs.sheets:
            if sheet.kind == "dashboard":
                ws = _write_dashboard(wb, fm, defs, sheet, settings)
                if on_dashboard:
                    on_dashboard(wb, ws)
            elif sheet.table:
                data = setting_rows if sheet.key == "settings" else tables.get(sheet.key)
                _write_table(wb, fm, defs, sheet, data, village_letter)
            else:
                _write_output(wb, fm, sheet)
        _write_lists(wb, fm, defs, village_letter[0] if village_letter else "A", defs.sheet("villages").name)
    finally:
        wb.close()


def _setting_text(value: Any) -> Any:
    """A setting's value for the Cấu hình sheet's text column: a date as dd/mm/yyyy."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%d/%m/%Y")
    return value


def write_workbook(path: str | Path, tables, settings, defs: Definitions | None = None, **kwargs) -> Path:
    """``build_workbook`` written atomically (temporary file, then replace, old file backed up)."""
    return write_atomic(path, lambda tmp: build_workbook(tmp, tables, settings, defs, **kwargs))


def column_number_format(col: Column, defs: Definitions) -> str | None:
    """The number format of a table column's cells: the definitions' (dates, counts), else text
    for codes, phones, periods, lists and text, so that no application retypes them."""
    fmt = defs.column_format(col)
    if fmt:
        return fmt
    return "@" if col.type in ("code", "phone", "period", "text", "list") else None


# a this-row structured reference of the definitions: [@[Ngày hoàn thành]] or [@Header]
_THIS_ROW = re.compile(r"\[@\[((?:'.|[^\]])+)\]\]|\[@((?:'.|[^\[\]])+)\]")


def formula_for_row(formula: str, sheet: Sheet, row: int, letters: Mapping[str, str] | None = None) -> str:
    """The definitions' row formula written into Excel row ``row`` of ``sheet``'s table.

    Every ``[@[Header]]`` / ``[@Header]`` reference becomes the plain A1 reference of that
    column in the same row (``$E5``): Excel, LibreOffice and WPS all evaluate it, while a
    structured reference shows Err:507 in LibreOffice (and #N/A once LibreOffice has saved
    the file). ``letters`` (column key -> letter) is where the table's columns are in the
    file; by default the definitions' order from column A, as ``build_workbook`` writes them.
    A column the file no longer has becomes ``#REF!``, as Excel shows a deleted reference; a
    header the sheet's definitions do not have is a DefinitionsError.
    """
    if letters is None:
        letters = {c.key: xl_col_to_name(i) for i, c in enumerate(sheet.columns)}
    keys = {c.header: c.key for c in sheet.columns}

    def a1(match: re.Match[str]) -> str:
        header = re.sub(r"'(.)", r"\1", match.group(1) or match.group(2))  # ' escapes [ ] # ' in a header
        key = keys.get(header)
        if key is None:
            raise DefinitionsError("definitions_formula_header", file="workbook.toml", sheet=sheet.name, header=header)
        return f"${letters[key]}{row}" if key in letters else "#REF!"

    return _THIS_ROW.sub(a1, formula)
