"""Content of the sheets the toolkit writes into the commune workbook (Kiểm tra, Tổng hợp).

The core decides what the rows say; the file writer (openpyxl) and the Excel front end
(xlwings) both write these same rows, so the button and the command show the same sheet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STYLES = ("title", "note", "text", "section", "header", "data", "total", "blank")


@dataclass(frozen=True)
class SheetRow:
    values: tuple[Any, ...] = ()
    style: str = "text"  # one of STYLES: how the writer formats the row
    number_formats: tuple[str | None, ...] = ()  # per value; None leaves the cell as it is


def grid(rows: list[SheetRow]) -> list[list[Any]]:
    """The rows as a rectangular list of lists (one call to write them all)."""
    width = max((len(r.values) for r in rows), default=0)
    return [list(r.values) + [None] * (width - len(r.values)) for r in rows]
