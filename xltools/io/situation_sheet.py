"""The Tình hình sheet of a submission and a rollup's Tình hình các đơn vị (XlsxWriter), and the
reading back of Tình hình (``core.situation`` says what they hold)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from ..core.definitions import Definitions, report_defs
from ..core.messages import fill
from ..core.situation import UnitSituation, canonical, row_label, row_words, situation_checksum, units_table, words
from ..core.text import clean

INFO_KEY = "situation_sha256"


@dataclass(frozen=True)
class SituationSheets:
    """What build_submission adds: the Tình hình rows and, in a rollup, its units."""

    rows: Sequence[tuple[str, str]]
    units: Sequence[UnitSituation] | None = None
    period_label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", canonical(self.rows))

    def info(self) -> tuple[str, str]:
        return INFO_KEY, situation_checksum(self.rows)


def write_situation_sheets(wb: xlsxwriter.Workbook, sheets: SituationSheets, defs: Definitions) -> None:
    """Tình hình (key, label, value, words), then Tình hình các đơn vị when there are units."""
    rep = report_defs(defs)
    w = words(defs)
    font = rep["layout"].font
    f_title = wb.add_format({"font_name": font, "bold": True, "font_size": 14})
    f_head = wb.add_format({"font_name": font, "bold": True, "border": 1, "text_wrap": True, "valign": "vcenter"})
    f_text = wb.add_format({"font_name": font, "num_format": "@", "text_wrap": True, "valign": "top"})
    ws = wb.add_worksheet(rep["sheets"]["situation"])
    ws.write_string(0, 0, str(w.get("title", "")), f_title)
    for c, h in enumerate(w.get("columns", [])):
        ws.write_string(2, c, str(h), f_head)
    for i, (key, value) in enumerate(sheets.rows, start=3):
        ws.write_string(i, 0, key, f_text)
        ws.write_string(i, 1, row_label(key, defs), f_text)
        ws.write_string(i, 2, value, f_text)  # as text: what the checksum covers, whatever the locale
        ws.write_string(i, 3, row_words(key, value, defs), f_text)
    for c, width in enumerate((26, 50, 24, 40)):
        ws.set_column(c, c, width)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if sheets.units is None:
        return
    header, rows = units_table(sheets.units, defs)
    us = wb.add_worksheet(rep["sheets"]["units_situation"])
    f_num = wb.add_format({"font_name": font, "num_format": "#,##0", "border": 1, "valign": "top"})
    f_cell = wb.add_format({"font_name": font, "text_wrap": True, "border": 1, "valign": "top"})
    f_bold = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1, "valign": "top"})
    f_bold_num = wb.add_format({"font_name": font, "bold": True, "num_format": "#,##0", "border": 1, "valign": "top"})
    us.write_string(0, 0, fill(str(w.get("units_title", "")), period_label=sheets.period_label.upper()), f_title)
    us.write_string(1, 0, str(w.get("units_note", "")))
    for c, h in enumerate(header):
        us.write_string(3, c, str(h), f_head)
    last = len(rows) - 1
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            total = r == last
            if isinstance(value, int) and not isinstance(value, bool):
                us.write_number(4 + r, c, value, f_bold_num if total else f_num)
            else:
                us.write_string(4 + r, c, "" if value is None else str(value), f_bold if total else f_cell)
    us.set_row(3, 48)
    us.set_column(0, 0, 5)
    us.set_column(1, 1, 10)
    us.set_column(2, 2, 22)
    us.set_column(3, len(header) - 1, 14)
    us.freeze_panes(4, 3)
    us.set_landscape()
    us.set_paper(9)
    us.fit_to_pages(1, 0)
    us.repeat_rows(3)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else clean(str(value)) or ""


def situation_rows(grid: Sequence[Sequence[Any]]) -> list[tuple[str, str]]:
    """The (key, value) rows of a Tình hình sheet read by calamine (from its fourth row)."""
    out = []
    for line in grid[3:]:
        cells = list(line[:3]) + [""] * (3 - len(line[:3]))
        key = _text(cells[0])
        if key:
            out.append((key, _text(cells[2])))
    return out
