"""``aggregate``: per village and total for a period; ``write=True`` fills the Tổng hợp sheet."""
from __future__ import annotations

from pathlib import Path

from openpyxl.styles import Alignment, Border, Font, Side

from ..aggregation import Aggregate, aggregate_book, fill, report_defs
from ..definitions import Definitions, get_definitions
from ..errors import InputError
from ..io.editor import edit_workbook, now
from ..io.reader import read_workbook
from ..io.submission import general_lines


def aggregate(path: str | Path, period: str | None = None, *, write: bool = False, defs: Definitions | None = None) -> Aggregate:
    """Aggregate the commune workbook at ``path`` for ``period`` (default: its current period).

    Flows are summed over the months, stocks taken from each village's latest month,
    ratios computed from summed numerators and denominators. With ``write`` the
    result replaces the content of the Tổng hợp sheet (atomically, with a backup).
    """
    defs = defs or get_definitions()
    path = Path(path)
    book = read_workbook(path, defs, strict=True)
    chosen = period or book.settings.get("current_period")
    if not chosen:
        raise InputError("aggregate_no_period")
    result = aggregate_book(book, chosen)
    if write:
        with edit_workbook(path, defs) as ed:
            write_summary_sheet(ed.worksheet("summary"), result, defs)
    return result


def write_summary_sheet(ws, agg: Aggregate, defs: Definitions) -> None:
    """Replace the content of the Tổng hợp sheet (an openpyxl worksheet) with ``agg``."""
    rep = report_defs(defs)
    font = rep.get("layout", {}).get("font", "Times New Roman")
    summary = rep.get("summary", {})
    text = rep.get("text", {})
    if ws.max_row:
        ws.delete_rows(1, ws.max_row)
    for rng in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(rng))
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    normal, bold = Font(name=font, size=12), Font(name=font, size=12, bold=True)
    ws.cell(1, 1, fill(summary.get("title", ""), period_label=agg.period.label.upper())).font = Font(name=font, size=14, bold=True)
    ws.cell(2, 1, fill(summary.get("generated", ""), time=now().strftime("%d/%m/%Y %H:%M"))).font = Font(name=font, italic=True)
    row = 3
    for line in general_lines(agg, rep):
        ws.cell(row, 1, line).font = normal
        row += 1
    row += 1
    header, rows = agg.table_rows()
    n_ind = len(agg.indicators)
    for c, label in enumerate(header, start=1):
        cell = ws.cell(row, c, label)
        cell.font, cell.border = bold, border
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    ws.row_dimensions[row].height = 64
    for i, values in enumerate(rows):
        row += 1
        is_total = i == len(rows) - 1
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row, c, v)
            cell.font, cell.border = (bold if is_total else normal), border
            if c > 1:
                cell.number_format = "0.0%" if c - 1 > n_ind else "#,##0"
    row += 2
    if agg.milestones is not None and len(agg.milestones):
        m = agg.milestones
        ws.cell(row, 1, text.get("section_milestones", "")).font = bold
        ws.cell(row + 1, 1, fill(text.get("milestones_summary", ""), done=int((m["status_key"] == "done").sum()),
                                 total=len(m), overdue=int((m["status_key"] == "overdue").sum()))).font = normal
        row += 3
    if agg.budget is not None and len(agg.budget):
        ws.cell(row, 1, text.get("section_budget", "")).font = bold
        row += 1
        for c, label in enumerate(text.get("budget_columns", []), start=1):
            cell = ws.cell(row, c, label)
            cell.font, cell.border = bold, border
        for rec in agg.budget.astype(object).itertuples(index=False):
            row += 1
            for c, v in enumerate(rec, start=1):
                cell = ws.cell(row, c, None if v is None or str(v) == "<NA>" else v)
                cell.font, cell.border = normal, border
                if c > 1:
                    cell.number_format = "#,##0"
    ws.column_dimensions["A"].width = 24
    for c in range(2, len(header) + 1):
        ws.column_dimensions[ws.cell(1, c).column_letter].width = 12
