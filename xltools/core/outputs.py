"""The change each writing verb makes in the commune workbook, for the command and the button.

``validation_change`` (Kiểm tra, highlights, dashboard, Nhật ký), ``summary_change``
(Tổng hợp), ``import_change`` (report rows, Lịch sử, Nhật ký, dashboard) and
``action_change`` (a button that writes files elsewhere: the dashboard and Nhật ký only).
Each returns one ``WorkbookChange``; ``xltools.io.sink`` applies it to the file and
``xltools.excel`` to the open book.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from . import messages
from .aggregation import Aggregate
from .book import CommuneBook
from .change import Link, OutputSheet, WorkbookChange, changed_cells, last_action, log_entry, table_change
from .definitions import Definitions
from .prose import summary_rows
from .reports import REJECTED, ImportSummary, MergeResult, log_rows, reported_text, village_states
from .validation import SEVERITIES, Report
from .validation.core import rules_config
from .validation.render import FIRST_ISSUE_ROW, checks_rows

STAMP = "%d/%m/%Y %H:%M"
MAX_LINKS = 500  # issues of Kiểm tra that get a hyperlink to their cell (one call each in Excel)
SUMMARY_WIDTHS = (24, 12)  # Tổng hợp: the first column (villages), then every other


def output_font(defs: Definitions) -> str:
    return str(defs.layout.font)


def reported_fields(book: CommuneBook, reports: pd.DataFrame | None = None) -> dict[str, Any]:
    """The dashboard's 'reported/expected' villages and current period (when a period is set)."""
    period = book.settings.get("current_period")
    villages = book.tables.get("villages")
    reports = book.tables.get("reports") if reports is None else reports
    if not period or villages is None or reports is None:
        return {}
    return {"villages_reported": reported_text(reports, village_states(villages), str(period)),
            "current_period": str(period)}


# ---------------------------------------------------------------------------- validate
def validation_change(book: CommuneBook, report: Report, *, when: dt.datetime, user: str, file: str,
                      previous: Sequence[tuple[str, str]] = ()) -> WorkbookChange:
    """Kiểm tra rewritten (a link to each cell), the previous highlights cleared and the cells of
    this run filled, the dashboard's status, one Nhật ký row."""
    defs = book.defs
    cfg = rules_config(defs).get("checks_sheet", {})
    columns = cfg.get("columns", [])
    fills = {s: str(cfg.get(f"{s}_fill") or "").strip().lstrip("#").upper() for s in SEVERITIES}
    rows = checks_rows(report, defs, when)
    position = {col["key"]: c for c, col in enumerate(columns, start=1)}
    links = []
    for r, issue in enumerate(report.issues[:MAX_LINKS], start=FIRST_ISSUE_ROW):
        c = position.get("cell" if issue.cell else "sheet")
        if c is None or not issue.sheet:
            continue
        text = rows[r - 1].values[c - 1] if c - 1 < len(rows[r - 1].values) else None
        links.append(Link(r, c, issue.sheet, issue.cell or _header_cell(book, issue), str(text or "")))
    last = FIRST_ISSUE_ROW + len(report.issues) - 1
    sheet = OutputSheet(
        "checks", rows, output_font(defs), 12,
        widths={c: float(col.get("width", 14)) for c, col in enumerate(columns, start=1)},
        links=links,
        filter=(FIRST_ISSUE_ROW - 1, last, len(columns)) if report.issues and columns else None,
        freeze_row=FIRST_ISSUE_ROW,
    )
    change = WorkbookChange(outputs=[sheet])
    for key in previous:
        change.fills[key] = None
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worst: dict[tuple[str, str], str] = {}
    for issue in report.issues:
        if issue.cell and fills.get(issue.severity):
            key = (issue.sheet, issue.cell)
            if key not in worst or rank[issue.severity] < rank[worst[key]]:
                worst[key] = issue.severity
    change.fills.update({key: fills[sev] for key, sev in worst.items()})
    action = messages.text("validate_log_action")
    result = messages.text("validate_log_ok" if report.ok else "validate_log_errors")
    change.fields = {
        "validation": messages.text("validate_dashboard", errors=report.errors, warnings=report.warnings,
                                    time=when.strftime(STAMP)),
        "last_action": last_action(action, when, result),
        **reported_fields(book),
    }
    period = messages.text("validate_log_period", period=report.period) if report.period else ""
    detail = messages.text("validate_log_detail", errors=report.errors, warnings=report.warnings,
                           infos=report.infos, period=period)
    change.tables.append(table_change(book, "log", appends=[log_entry(
        time=when, action=action, file=file, sha256=book.sha256, result=result, detail=detail, user=user)]))
    return change.covering(book)


def _header_cell(book: CommuneBook, issue: Any) -> str:
    """Where a table-level issue points: its column's header cell, else A1."""
    for sheet in book.defs.sheets:
        if sheet.name == issue.sheet and issue.column and sheet.key in book.header_rows:
            return f"{issue.column}{book.header_rows[sheet.key]}"
    return "A1"


# ---------------------------------------------------------------------------- aggregate
def summary_change(book: CommuneBook, agg: Aggregate, *, when: dt.datetime, user: str, file: str) -> WorkbookChange:
    """Tổng hợp rewritten with the aggregate of the period, the dashboard's status, one Nhật ký row."""
    defs = book.defs
    rows = summary_rows(agg, defs, when)
    width = max((len(r.values) for r in rows), default=1)
    widths = {c: float(SUMMARY_WIDTHS[0] if c == 1 else SUMMARY_WIDTHS[1]) for c in range(1, width + 1)}
    action = messages.text("aggregate_log_action")
    result = messages.text("excel_result_ok")
    detail = messages.text("excel_aggregated", period=agg.period.label, sheet=defs.sheet("summary").name)
    change = WorkbookChange(outputs=[OutputSheet("summary", rows, output_font(defs), 12, widths=widths)])
    change.fields = {"last_action": last_action(action, when, result), **reported_fields(book),
                     "current_period": str(agg.period)}
    change.tables.append(table_change(book, "log", appends=[log_entry(
        time=when, action=action, file=file, sha256=book.sha256, result=result, detail=detail, user=user)]))
    return change.covering(book)


# ---------------------------------------------------------------------------- import
def import_change(book: CommuneBook, merged: MergeResult, summary: ImportSummary, *, when: dt.datetime,
                  user: str) -> WorkbookChange:
    """Changed report cells in place (only those that differ), new rows below, the replaced rows
    to Lịch sử, one Nhật ký row per file, the dashboard's status."""
    reports = book.tables["reports"]
    change = WorkbookChange(tables=[
        table_change(book, "reports", updates=changed_cells(reports, merged.updates), appends=merged.appends),
        table_change(book, "history", appends=merged.history),
        table_change(book, "log", appends=log_rows(summary, book.defs, user=user, time=when)),
    ])
    fields = reported_fields(book, merged.frame)
    if "villages_reported" not in fields:
        period = _latest_period(summary)
        if period:
            villages = village_states(book.tables["villages"])
            fields["villages_reported"] = reported_text(merged.frame, villages, period)
    fields["last_action"] = messages.text("import_last_action", time=when.strftime(STAMP),
                                          counts=summary.counts_text(book.defs))
    change.fields = {k: v for k, v in fields.items() if v is not None}
    return change.covering(book)


def _latest_period(summary: ImportSummary) -> str | None:
    periods = [f.period for f in summary.files if f.status != REJECTED and f.period]
    return max(periods) if periods else None


# ---------------------------------------------------------------------------- other buttons
def action_change(book: CommuneBook, *, action: str, result: str, detail: str, when: dt.datetime, user: str,
                  file: str, fields: Mapping[str, Any] | None = None) -> WorkbookChange:
    """What a button that writes elsewhere (forms, export) or failed leaves in the book:
    the dashboard's last action and one Nhật ký row."""
    change = WorkbookChange(fields={"last_action": last_action(action, when, result), **(fields or {})})
    change.tables.append(table_change(book, "log", appends=[log_entry(
        time=when, action=action, file=file, result=result, detail=detail, user=user)]))
    return change.covering(book)
