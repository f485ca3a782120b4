"""``aggregate``: per village and total for a period; ``write=True`` fills the Tổng hợp sheet."""
from __future__ import annotations

from pathlib import Path

from openpyxl.utils import get_column_letter

from ..core.aggregation import Aggregate, aggregate_book, report_defs, summary_rows
from ..core.definitions import Definitions, get_definitions
from ..io.editor import edit_workbook, now, write_sheet_rows
from ..io.reader import read_workbook


def aggregate(path: str | Path, period: str | None = None, *, write: bool = False, defs: Definitions | None = None) -> Aggregate:
    """Aggregate the commune workbook at ``path`` for ``period`` (default: its current period).

    Flows are summed over the months, stocks taken from each village's latest month,
    ratios computed from summed numerators and denominators. With ``write`` the
    result replaces the content of the Tổng hợp sheet (atomically, with a backup).
    """
    defs = defs or get_definitions()
    path = Path(path)
    book = read_workbook(path, defs, strict=True)
    chosen = book.chosen_period(period)
    result = aggregate_book(book, chosen)
    if write:
        with edit_workbook(path, defs) as ed:
            write_summary_sheet(ed.worksheet("summary"), result, defs)
    return result


def write_summary_sheet(ws, agg: Aggregate, defs: Definitions) -> None:
    """Replace the content of the Tổng hợp sheet (an openpyxl worksheet) with ``agg``."""
    font = report_defs(defs).get("layout", {}).get("font", "Times New Roman")
    rows = summary_rows(agg, defs, now())
    write_sheet_rows(ws, rows, font)
    ws.column_dimensions["A"].width = 24
    for c in range(2, max(len(r.values) for r in rows) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 12
