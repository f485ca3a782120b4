"""``validate``: check a commune workbook and, with ``write``, show the result inside it.

Reads the workbook once (python-calamine, tolerant mode), runs every rule of
``xltools.validation`` and returns the ``Report``. With ``write=True`` one
``edit_workbook`` session (atomic save, backup in Sao_luu/) rewrites the Kiểm tra
sheet (a hyperlink to each cell), clears the highlights of the previous run and
fills the offending cells, updates the dashboard's validation status and appends
a row to the Nhật ký log.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from ..core import messages
from ..core.book import CommuneBook
from ..core.definitions import Definitions, get_definitions
from ..core.errors import WorkbookError
from ..core.periods import Period
from ..core.text import header_key
from ..core.validation import SEVERITIES, Report, validate_book
from ..core.validation.core import rules_config
from ..core.validation.render import FIRST_ISSUE_ROW, checks_rows, listed_cells
from ..core.validation.structure import refuse_foreign
from ..io.editor import edit_workbook, now, write_sheet_rows
from ..io.files import current_user
from ..io.reader import read_workbook
from ..io.writer import FONT

_SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def validate(
    path: str | Path, period: str | None = None, *, write: bool = False, defs: Definitions | None = None,
    today: dt.date | None = None,
) -> Report:
    """Validate the commune workbook at ``path``; with ``write`` show the result in it.

    Raises WorkbookError (exit 2) when the file cannot be read as a commune
    workbook (not found, not xlsx, encrypted, not ours, another major version).
    Bad data never raises: it is in the report.
    """
    path = Path(path)
    defs = defs or get_definitions()
    chosen = Period.parse(period) if period is not None else None  # a typo fails before the long read
    book = read_workbook(path, defs, strict=False)
    refuse_foreign(book)
    report = validate_book(book, chosen, today=today)
    if write:
        write_report(path, book, report, defs)
    return report


# ---------------------------------------------------------------------- writing
def _colour(value: Any) -> str:
    return str(value or "").strip().lstrip("#").upper()


def _sheets_by_name(wb) -> dict[str, Any]:
    """The worksheets by their name as ``header_key`` folds it (case, spaces, NFC)."""
    return {header_key(ws.title): ws for ws in wb.worksheets}


def _clear_highlights(sheets: dict[str, Any], cells: list[tuple[str, str]], colours: set[str]) -> None:
    """Remove our fills from the cells of the previous run (a fill the user chose stays)."""
    for sheet_name, address in cells:
        ws = sheets.get(header_key(sheet_name))
        if ws is None:
            continue
        try:
            cell = ws[address]
        except (ValueError, KeyError, IndexError):
            continue
        rgb = _colour(getattr(cell.fill.fgColor, "rgb", ""))
        if cell.fill.fill_type == "solid" and rgb[-6:] in colours:
            cell.fill = PatternFill(fill_type=None)


def _set_highlights(sheets: dict[str, Any], report: Report, fills: dict[str, str]) -> int:
    worst: dict[tuple[str, str], str] = {}
    for issue in report.issues:
        if not issue.cell or not fills.get(issue.severity):
            continue
        key = (issue.sheet, issue.cell)
        if key not in worst or _SEVERITY_ORDER[issue.severity] < _SEVERITY_ORDER[worst[key]]:
            worst[key] = issue.severity
    done = 0
    for (sheet_name, address), severity in worst.items():
        ws = sheets.get(header_key(sheet_name))
        if ws is None:
            continue
        ws[address].fill = PatternFill("solid", fgColor=fills[severity])
        done += 1
    return done


def _checks_sheet(ed, defs: Definitions):
    try:
        return ed.worksheet("checks")
    except WorkbookError:  # the sheet was deleted: add it back at the end
        ws = ed.wb.create_sheet(defs.sheet("checks").name)
        ws.protection.sheet = True
        return ws


def _header_cell(book: CommuneBook, defs: Definitions, issue) -> str:
    """Where a table-level issue points: its column's header cell, else A1."""
    for sheet in defs.sheets:
        if sheet.name == issue.sheet and issue.column and sheet.key in book.header_rows:
            return f"{issue.column}{book.header_rows[sheet.key]}"
    return "A1"


def _write_checks(ws, sheets: dict[str, Any], book: CommuneBook, report: Report, cfg: dict[str, Any],
                  defs: Definitions, when: dt.datetime) -> None:
    columns = cfg.get("columns", [])
    write_sheet_rows(ws, checks_rows(report, defs, when), FONT)
    for c, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(c)].width = col.get("width", 14)
    # the link goes on the cell address, or on the sheet name for an issue about a whole table
    position = {col["key"]: c for c, col in enumerate(columns, start=1)}
    for r, issue in enumerate(report.issues, start=FIRST_ISSUE_ROW):
        c = position.get("cell" if issue.cell else "sheet")
        target = sheets.get(header_key(issue.sheet)) if issue.sheet else None
        if c is None or target is None:
            continue
        cell = ws.cell(r, c)
        address = issue.cell or _header_cell(book, defs, issue)
        title = target.title.replace("'", "''")  # a quote inside a quoted sheet name is doubled
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{title}'!{address}", display=str(cell.value))
        cell.font = Font(color="0563C1", underline="single")
    if report.issues and columns:
        last = FIRST_ISSUE_ROW + len(report.issues) - 1
        ws.auto_filter.ref = f"A{FIRST_ISSUE_ROW - 1}:{get_column_letter(len(columns))}{last}"
    ws.freeze_panes = f"A{FIRST_ISSUE_ROW}"


def write_report(path: Path, book: CommuneBook, report: Report, defs: Definitions) -> int:
    """Show ``report`` inside the workbook (one atomic save); returns the number of highlighted cells."""
    cfg = dict(rules_config(defs).get("checks_sheet", {}))
    fills = {s: _colour(cfg.get(f"{s}_fill")) for s in SEVERITIES}
    ours = {c for c in fills.values() if c}
    when = now()
    with edit_workbook(path, defs) as ed:
        ws = _checks_sheet(ed, defs)
        sheets = _sheets_by_name(ed.wb)
        _clear_highlights(sheets, listed_cells(ws.iter_rows(values_only=True), defs), ours)
        highlighted = _set_highlights(sheets, report, fills)
        _write_checks(ws, sheets, book, report, cfg, defs, when)
        dashboard = {f.key: f.cell for f in defs.sheet("dashboard").fields}
        stamp = when.strftime("%d/%m/%Y %H:%M")
        status = {}
        if "validation" in dashboard:
            status[dashboard["validation"]] = messages.text(
                "validate_dashboard", errors=report.errors, warnings=report.warnings, time=stamp)
        if "last_action" in dashboard:
            status[dashboard["last_action"]] = f"{messages.text('validate_log_action')} ({stamp})"
        if status:
            try:
                ed.set_values("dashboard", status)
            except WorkbookError:  # no dashboard: the Kiểm tra sheet still tells
                pass
        period = messages.text("validate_log_period", period=report.period) if report.period else ""
        try:
            ed.append_rows("log", [{
                "time": when,
                "action": messages.text("validate_log_action"),
                "file": path.name,
                "sha256": book.sha256,
                "result": messages.text("validate_log_ok" if report.ok else "validate_log_errors"),
                "detail": messages.text("validate_log_detail", errors=report.errors, warnings=report.warnings,
                                        infos=report.infos, period=period),
                "user": current_user(),
            }])
        except WorkbookError:  # a damaged log sheet is itself an issue of the report
            pass
    return highlighted


