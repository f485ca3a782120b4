"""Write the submission workbook (BC138_<unit>_<period>.xlsx) with XlsxWriter.

Sheets (names from workbook/report.toml): ``Báo cáo`` in the Decree 30/2020 layout,
``Biểu đồ`` with native charts, ``Số liệu`` (the long table the level above rolls
up), ``Thông tin`` (versions, unit, period, checksums, validation counts) and, only
when asked, ``Thành phần`` (board and team members). The same writer serves a
commune's export and a rollup one level up. Password encryption uses standard
Office encryption (msoffcrypto-tool), so Excel asks for the password.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from .. import __version__
from ..core.aggregation import LEVEL_COMMUNE, Aggregate, DataRow
from ..core.definitions import Definitions, ReportLayout, get_definitions, report_defs
from ..core.frames import records
from ..core.messages import fill
from ..core.numbers import group_number, percent
from ..core.report_body import (
    HEADING,
    NOTE,
    SECTION,
    TABLE,
    Block,
    ReportBody,
    date_text,
    report_body,
    results_table,
    split_general,
)
from .bulkxml import bulk_rows, rewrite_parts
from .files import write_atomic
from .situation_sheet import SituationSheets, write_situation_sheets

MM_PER_INCH = 25.4
DATA_COLUMNS = DataRow._fields


# -- text metrics -------------------------------------------------------------------------
# Advance widths (1/1000 em) of ASCII 32..126 in Times New Roman, which Liberation Serif and
# the PDF base-14 Times match: row heights of wrapped text and the header rules are computed
# from the printed width of the text, not guessed from its length.
_WIDTHS = {
    "regular": "250 333 408 500 500 833 778 180 333 333 500 564 250 333 250 278 500 500 500 500 500 500 500 500 500 "
               "500 278 278 564 564 564 444 921 722 667 667 722 611 556 722 722 333 389 722 611 889 722 722 556 722 "
               "667 556 611 722 722 944 722 722 611 333 278 333 469 500 333 444 500 444 500 444 333 500 500 278 278 "
               "500 278 778 500 500 500 500 333 389 278 500 500 722 500 500 444 480 200 480 541",
    "bold": "250 333 555 500 500 1000 833 278 333 333 500 570 250 333 250 278 500 500 500 500 500 500 500 500 500 500 "
            "333 333 570 570 570 500 930 722 667 722 722 667 611 778 778 389 500 778 667 944 722 778 611 778 722 556 "
            "667 722 722 1000 722 722 667 333 278 333 581 500 333 500 556 444 556 444 333 500 556 278 333 556 278 833 "
            "556 500 556 556 444 389 333 556 500 722 500 500 444 394 220 394 520",
    "italic": "250 333 420 500 500 833 778 214 333 333 500 675 250 333 250 278 500 500 500 500 500 500 500 500 500 "
              "500 333 333 675 675 675 500 920 611 611 667 722 611 611 722 722 333 444 667 556 833 667 722 611 722 "
              "611 500 556 722 611 833 611 556 556 389 278 389 422 500 333 500 500 444 500 444 278 500 500 278 278 "
              "444 278 722 500 500 500 500 389 389 278 500 444 667 444 444 389 400 275 400 541",
}
_ADVANCE = {k: [int(x) for x in v.split()] for k, v in _WIDTHS.items()}
_OTHER_WIDTHS = {"“": 444, "”": 444, "‘": 333, "’": 333, "–": 500, "—": 1000, "…": 1000, "đ": 500, "Đ": 722}
PT_PER_PX = 0.75  # 96 px per inch, 72 pt per inch
PT_PER_MM = 72 / MM_PER_INCH


def text_width(text: str, size: float, *, bold: bool = False, italic: bool = False) -> float:
    """The printed width of ``text`` in points (Times New Roman metrics)."""
    return _advance("bold" if bold else "italic" if italic else "regular", text) * size / 1000


@lru_cache(maxsize=1 << 16)
def _advance(style: str, text: str) -> int:
    """The advance of ``text`` in thousandths of an em, remembered: a rollup's tables measure the
    same words (unit names, numbers, labels) thousands of times."""
    table = _ADVANCE[style]
    total = 0
    for ch in text:
        if ch in _OTHER_WIDTHS:
            total += _OTHER_WIDTHS[ch]
            continue
        code = ord(unicodedata.normalize("NFD", ch)[0])  # a Vietnamese letter is as wide as its base letter
        total += table[code - 32] if 32 <= code < 127 else 500
    return total


@lru_cache(maxsize=1 << 16)
def lines_needed(text: str, width_pt: float, size: float, *, bold: bool = False, italic: bool = False) -> int:
    """How many lines ``text`` wraps to in a cell ``width_pt`` wide (word wrap, as a spreadsheet does)."""
    usable = max(width_pt - 6.0, size)  # the cell's inner padding, both sides
    space = text_width(" ", size, bold=bold, italic=italic)
    count = 0
    for para in str(text).split("\n"):
        count += 1
        line = 0.0
        for word in para.split(" "):
            w = text_width(word, size, bold=bold, italic=italic)
            if line and line + space + w > usable:
                count += 1
                line = w
            else:
                line += (space if line else 0.0) + w
            while line > usable:  # a word longer than the line is broken
                count += 1
                line -= usable
    return count


def _row_height(lines: int, size: float) -> float:
    return round(lines * size * 1.25 + 4, 1)


def _page_geometry(layout: ReportLayout, landscape: bool) -> tuple[float, float]:
    """(printable width, printable height) of an A4 page in points, at 100 %."""
    width_mm, height_mm = (297.0, 210.0) if landscape else (210.0, 297.0)
    width = (width_mm - layout.margin_left_mm - layout.margin_right_mm) * PT_PER_MM
    height = (height_mm - layout.margin_top_mm - layout.margin_bottom_mm) * PT_PER_MM
    return width, height - float(layout.page_reserve_pt)


def _page_setup(ws, layout: ReportLayout, *, landscape: bool, number_pages: bool = True) -> None:
    """A4, the Decree's margins, printed at 100 % (never shrunk to fit), page numbers from page 2."""
    ws.set_paper(int(layout.paper))
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(
        left=layout.margin_left_mm / MM_PER_INCH, right=layout.margin_right_mm / MM_PER_INCH,
        top=layout.margin_top_mm / MM_PER_INCH, bottom=layout.margin_bottom_mm / MM_PER_INCH,
    )
    if number_pages:
        ws.set_header(layout.page_number_header, {"margin": 0.3})
    ws.set_print_scale(100)
    ws.hide_gridlines(2)


def printed_number(value: Any) -> str:
    """A count as printed: 1.234.567.890, -1.234, '–' when there is none (whatever the locale)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return group_number(value)


class _Sheet:
    """Lays out a printed sheet row by row on a grid of columns, with its own page breaks:
    every row height is set here, so the page a row falls on is known, a table's header is
    written again at the top of each page it continues on, and a block is kept together."""

    def __init__(self, wb: xlsxwriter.Workbook, ws, layout: ReportLayout, widths_pt: Sequence[float],
                 page_height: float) -> None:
        self.wb, self.ws, self.layout = wb, ws, layout
        self.widths = list(widths_pt)
        self.n_cols = len(widths_pt)
        self.font = layout.font
        self.body = float(layout.size_body)
        self.page_height = page_height
        self.row = 0
        self.used = 0.0
        self.breaks: list[int] = []
        self.sections = 0  # the Roman-numbered sections written so far
        self.cache: dict[tuple, Any] = {}
        for i, w in enumerate(self.widths):
            ws.set_column_pixels(i, i, round(w / PT_PER_PX))

    def fmt(self, **props: Any):
        key = tuple(sorted(props.items()))
        if key not in self.cache:
            base = {"font_name": self.font, "font_size": self.body, "valign": "top", "text_wrap": True}
            base.update(props)
            self.cache[key] = self.wb.add_format(base)
        return self.cache[key]

    def span_width(self, first: int, last: int) -> float:
        return sum(self.widths[first: last + 1])

    def height(self, text: str, first: int, last: int, size: float, **props: Any) -> float:
        lines = lines_needed(text, self.span_width(first, last), size, bold=bool(props.get("bold")),
                             italic=bool(props.get("italic")))
        return _row_height(lines, size)

    def room(self) -> float:
        return self.page_height - self.used

    def new_page(self) -> None:
        if self.used > 0:
            self.breaks.append(self.row)
            self.used = 0.0

    def keep(self, height: float) -> None:
        """Start a new page unless ``height`` points still fit on this one."""
        if height > self.room():
            self.new_page()

    def cell(self, row: int, first: int, last: int, text: str, f) -> None:
        if last > first:
            self.ws.merge_range(row, first, row, last, text, f)
        else:
            self.ws.write_string(row, first, text, f)

    def advance(self, height: float) -> None:
        self.ws.set_row(self.row, height)
        self.used += height
        self.row += 1

    def para(self, text: str, *, first: int = 0, last: int | None = None, size: float | None = None,
             keep_with: float = 0.0, **props: Any) -> None:
        last = self.n_cols - 1 if last is None else last
        size = float(size or self.body)
        h = self.height(text, first, last, size, **props)
        self.keep(h + keep_with)
        self.cell(self.row, first, last, text, self.fmt(font_size=size, **props))
        self.advance(h)

    def gap(self, height: float = 9.0) -> None:
        if self.used == 0:  # never a blank line at the top of a page
            return
        if height > self.room():
            self.new_page()
            return
        self.advance(height)

    def table(self, spans: Sequence[tuple[int, int]], header: Sequence[str], rows: Sequence[Sequence[Any]], *,
              aligns: Sequence[str] | None = None, total_last: bool = False, keep_before: float = 0.0,
              rewrite_header: bool = True) -> None:
        """A bordered table; its header is written again at the top of every page it runs onto
        (``rewrite_header``; a sheet holding only this table repeats it as print titles instead)."""
        size = float(self.layout.size_table)
        aligns = list(aligns or ["left"] * len(spans))
        f_head = self.fmt(font_size=size, bold=True, border=1, align="center", valign="vcenter")

        def height_of(values: Sequence[Any], bold: bool) -> float:
            return max(_row_height(lines_needed(str(v), self.span_width(*s), size, bold=bold), size)
                       for s, v in zip(spans, values))

        head_h = height_of(header, True)

        def write_header() -> None:
            for span, label in zip(spans, header):
                self.cell(self.row, span[0], span[1], str(label), f_head)
            self.advance(head_h)

        first_h = height_of(rows[0], False) if rows else 0.0
        self.keep(keep_before + head_h + first_h)
        write_header()
        heights = [height_of(values, total_last and n == len(rows) - 1) for n, values in enumerate(rows)]
        for n, values in enumerate(rows):
            bold = total_last and n == len(rows) - 1
            h = heights[n]
            # the total row never stands alone on a page: the row before it goes along
            need = h + heights[-1] if total_last and n == len(rows) - 2 else h
            if need > self.room():
                self.new_page()
                if rewrite_header:
                    write_header()
                else:  # the sheet's print titles repeat the header above this page
                    self.used = head_h
            for span, value, align in zip(spans, values, aligns):
                f = self.fmt(font_size=size, border=1, bold=bold, align=align, valign="vcenter")
                self.cell(self.row, span[0], span[1], "" if value is None else str(value), f)
            self.advance(h)

    def finish(self) -> None:
        if self.breaks:
            self.ws.set_h_pagebreaks(self.breaks)
        self.ws.print_area(0, 0, max(self.row - 1, 0), self.n_cols - 1)
        # the printed numbers are text (1.234 whatever the locale): no "number stored as text" marks
        self.ws.ignore_errors({"number_stored_as_text": f"A1:{xl_rowcol_to_cell(max(self.row, 1), self.n_cols)}"})


def _date_line(rep: dict[str, Any], place: str, day: dt.date) -> str:
    pad = set(rep["layout"].pad_months)
    month = f"{day.month:02d}" if day.month in pad else str(day.month)
    return fill(rep["text"]["date_line"], place=place, day=f"{day.day:02d}", month=month, year=day.year)


def _number_text(header: Mapping[str, Any], text: Mapping[str, Any]) -> str:
    number = header.get("doc_number")
    shown = f"{int(number):02d}" if isinstance(number, int) or (number is not None and str(number).isdigit()) else str(number or "")
    return fill(text["number"], number=shown or " " * 6, doc_code=header.get("doc_code") or "")  # no number yet: room to write it


def _rule(ws, row: int, x_pt: float, width_pt: float, widths: Sequence[float]) -> None:
    """A thin horizontal line (a text box one pixel high) from ``x_pt`` for ``width_pt`` on ``row``."""
    col, left = 0, 0.0
    while col < len(widths) - 1 and left + widths[col] <= x_pt:
        left += widths[col]
        col += 1
    ws.insert_textbox(row, col, "", {
        "width": max(1, round(width_pt / PT_PER_PX)), "height": 1,
        "x_offset": round((x_pt - left) / PT_PER_PX), "y_offset": 2,
        "line": {"color": "black", "width": 0.75}, "fill": {"none": True},
        "object_position": 3,
    })


def signed_and_technical_lines(agg: Aggregate, rep: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Section I's sentences for the signed page, and those about the software (thresholds not
    configured, files rejected or replaced) which go to the notes sheet instead."""
    return split_general(agg, rep)


def _unit_of(defs: Definitions, key: str) -> tuple[str, str]:
    try:
        ind = defs.indicator(key)
        return ind.label, ind.unit
    except Exception:  # an indicator of a rollup's data that this toolkit does not define
        return key, ""


def annex_plan(agg: Aggregate, rep: dict[str, Any]) -> list[dict[str, Any]]:
    """The annexes (Phụ lục): per part, the indicators in as many tables as fit a landscape
    page at the table size, then the ratios; each with its own sheet and page setup."""
    layout, text = rep["layout"], rep.get("text", {})
    size = float(layout.size_table)
    wide_w, _ = _page_geometry(layout, True)
    tall_w, _ = _page_geometry(layout, False)
    parts = records(agg.parts)
    names = [str(p["name"] or p["code"]) for p in parts] + [text["total"]]
    name_w = max(text_width(n, size, bold=True) for n in names) + 10
    name_w = min(max(name_w, 60.0), 130.0)
    no_w = 28.0
    total = agg.total()

    def col_width(label: str, values: Sequence[str]) -> float:
        longest = max([text_width(v, size, bold=True) for v in values] + [0.0])
        words = max([text_width(w, size, bold=True) for w in label.split()] + [0.0])
        return max(float(layout.annex_value_min_pt), longest + 10, words + 10)

    plan = []
    keys = list(agg.indicators)
    values = {k: [printed_number(p.get(k)) for p in parts] + [printed_number(total.get(k))] for k in keys}
    # stocks a village carried from an earlier month (no report for the last month) are marked
    carried = agg.facts.get("carried") or {}
    stocks = [k for k in keys if agg.agg.get(k) == "last"]
    for i, p in enumerate(parts):
        if str(p["code"]) in carried:
            for k in stocks:
                if values[k][i] != "–":
                    values[k][i] += text.get("carried_mark", "")
    footnote = text.get("carried_footnote", "") if carried and stocks else ""
    widths = {k: col_width(agg.labels.get(k, k), values[k]) for k in keys}
    limit = wide_w * float(layout.annex_width_share)
    chunk: list[str] = []
    chunks: list[list[str]] = []
    for k in keys:
        if chunk and no_w + name_w + sum(widths[c] for c in chunk) + widths[k] > limit:
            chunks.append(chunk)
            chunk = []
        chunk.append(k)
    if chunk:
        chunks.append(chunk)
    for c in chunks:
        plan.append({"kind": "values", "keys": c, "title": text["annex_values_title"],
                     "footnote": footnote if set(c) & set(stocks) else "",
                     "widths": [no_w, name_w] + [widths[k] for k in c],
                     "header": [text["column_no"], "", *[agg.labels.get(k, k) for k in c]],
                     "rows": [[str(i + 1), names[i], *[values[k][i] for k in c]] for i in range(len(parts))]
                     + [["", names[-1], *[values[k][-1] for k in c]]]})
    if agg.derived:
        decimals, comma = int(layout.percent_decimals), bool(layout.decimal_comma)
        rates = [agg.rates_of(p) for p in parts] + [agg.rates_of(total)]
        shown = {k: [percent(r[k], decimals, comma) for r in rates] for k, _ in agg.derived}
        rate_widths = [max(col_width(label, shown[k]), 70.0) for k, label in agg.derived]
        plan.append({"kind": "rates", "keys": [k for k, _ in agg.derived], "title": text["annex_rates_title"], "footnote": "",
                     "widths": [no_w, name_w] + rate_widths,
                     "header": [text["column_no"], "", *[label for _, label in agg.derived]],
                     "rows": [[str(i + 1), names[i], *[shown[k][i] for k, _ in agg.derived]] for i in range(len(parts))]
                     + [["", names[-1], *[shown[k][-1] for k, _ in agg.derived]]]})
    for n, item in enumerate(plan, start=1):
        item["number"] = n
        item["landscape"] = sum(item["widths"]) > tall_w * float(layout.annex_width_share)
    return plan


def results_rows(agg: Aggregate, defs: Definitions) -> list[list[str]]:
    """The results table of the report: TT, indicator, unit, the total; then the ratios."""
    return [list(row) for row in results_table(agg, defs)]


def write_body(r: _Sheet, blocks: Sequence[Block], n_cols: int) -> None:
    """The body of the report (``core.report_body``) on the sheet: a heading kept with what follows
    it, a table with its header written again on each page it runs onto."""
    size = float(r.layout.size_table)

    def lead(n: int) -> float:
        """What must follow a heading on its page: the next table's header and first row, or 40 pt."""
        nxt = blocks[n + 1] if n + 1 < len(blocks) else None
        if nxt is None or nxt.kind != TABLE:
            return 40.0
        spans = _spread(n_cols, nxt.weights)
        return sum(max((_row_height(lines_needed(str(v), r.span_width(*sp), size, bold=bold), size)
                        for sp, v in zip(spans, row)), default=0.0)
                   for row, bold in ((nxt.header, True), (nxt.rows[0] if nxt.rows else (), False)))

    for i, b in enumerate(blocks):
        if b.kind == SECTION:
            r.para(b.text, bold=True, keep_with=max(60.0, lead(i)))
        elif b.kind == HEADING:
            r.para(b.text, bold=True, italic=True, keep_with=max(50.0, lead(i)))
        elif b.kind == NOTE:
            r.para(b.text, italic=True, align="justify")
        elif b.kind == TABLE:
            r.table(_spread(n_cols, b.weights), b.header, b.rows, aligns=list(b.aligns), total_last=b.total_last)
            if i + 1 < len(blocks) and blocks[i + 1].kind != NOTE:
                r.gap()
        else:
            r.para(b.text, align="justify")


def write_report_sheet(
    wb: xlsxwriter.Workbook, agg: Aggregate, header: Mapping[str, Any], defs: Definitions,
    annexes: Sequence[Mapping[str, Any]] = (), body: ReportBody | None = None,
) -> None:
    """The printable Báo cáo sheet (Decree 30/2020/NĐ-CP, annex I): portrait, at 100 %, the
    per-part tables in annexes, its own page breaks, the signature block on one page."""
    rep = report_defs(defs)
    layout, text = rep["layout"], rep.get("text", {})
    ws = wb.add_worksheet(rep["sheets"]["report"])
    page_w, page_h = _page_geometry(layout, False)
    n_cols = int(layout.grid_columns)
    col_w = page_w * float(layout.width_share) / n_cols
    r = _Sheet(wb, ws, layout, [col_w] * n_cols, page_h)
    size_h = float(layout.size_header)
    left_cols = int(layout.header_left_columns)
    left, right = (0, left_cols - 1), (left_cols, n_cols - 1)
    upper = agg.level != LEVEL_COMMUNE
    params = {**{k: v for k, v in header.items() if isinstance(v, (str, int))}, "unit_name": agg.unit_name,
              "period_label": agg.period.label}

    # -- header blocks: two columns, the rules under the issuing body and under the motto ---------
    blocks = [
        ((str(header.get("parent_body") or "").upper(), size_h, {}),
         (text["national"], size_h, {"bold": True})),
        ((str(header.get("issuing_body") or "").upper(), size_h, {"bold": True}),
         (text["motto"], float(layout.size_motto), {"bold": True})),
    ]
    for (ltext, lsize, lprops), (rtext, rsize, rprops) in blocks:
        h = max(r.height(ltext, *left, lsize, **lprops), r.height(rtext, *right, rsize, **rprops))
        r.cell(r.row, *left, ltext, r.fmt(font_size=lsize, align="center", **lprops))
        r.cell(r.row, *right, rtext, r.fmt(font_size=rsize, align="center", **rprops))
        r.advance(h)
    issuing = str(header.get("issuing_body") or "").upper() or "-"
    issuing_w = min(text_width(issuing, size_h, bold=True), r.span_width(*left) - 6)
    short = issuing_w * float(layout.issuing_rule_share)
    left_centre = r.span_width(*left) / 2
    _rule(ws, r.row, left_centre - short / 2, short, r.widths)
    motto_w = text_width(text["motto"], float(layout.size_motto), bold=True)
    right_centre = r.span_width(0, left[1]) + r.span_width(*right) / 2
    _rule(ws, r.row, right_centre - motto_w / 2, motto_w, r.widths)
    r.advance(10)
    number = _number_text(header, text)
    day = header.get("date") or dt.date.today()
    date_line = _date_line(rep, str(header.get("place_name") or ""), day)
    h = max(r.height(number, *left, r.body), r.height(date_line, *right, r.body, italic=True))
    r.cell(r.row, *left, number, r.fmt(align="center"))
    r.cell(r.row, *right, date_line, r.fmt(align="center", italic=True))
    r.advance(h)
    r.gap(14)
    r.para(text["title"], size=layout.size_title, bold=True, align="center")
    subject = fill(text["subject_upper" if upper else "subject"], model_name=header.get("model_name") or "",
                   period_label=agg.period.label)
    r.para(subject, bold=True, align="center")
    start, end = agg.period.window(int(header.get("cut_day") or 15))
    r.para(fill(text["window"], start=date_text(start), end=date_text(end)), italic=True, align="center")
    r.gap(12)
    body = body or report_body(agg, header, defs, annexes=[a["number"] for a in annexes])
    write_body(r, body.blocks, n_cols)

    # -- the closing sentence, Nơi nhận and the signature: kept together on one page --------------
    closing = body.closing
    size_rl = float(layout.size_recipients_list)
    size_rlabel = float(layout.size_recipients)
    recipients = header.get("recipients") or text["recipients_upper" if upper else "recipients"]
    lines = ["- " + fill(x, **params) + ";" for x in recipients] + ["- " + text["archive"]]
    rec_cols = (0, int(layout.recipients_columns) - 1)
    sig_cols = (rec_cols[1] + 1, n_cols - 1)
    left_cells = [(text["recipients_label"], size_rlabel, {"bold": True, "italic": True})] + [(x, size_rl, {}) for x in lines]
    right_cells = [(text["signature_for"], r.body, {"bold": True}), (text["signature_title"], r.body, {"bold": True})]
    block = []
    for i in range(max(len(left_cells), len(right_cells))):
        lc = left_cells[i] if i < len(left_cells) else None
        rc = right_cells[i] if i < len(right_cells) else None
        h = max(r.height(lc[0], *rec_cols, lc[1], **lc[2]) if lc else 0.0,
                r.height(rc[0], *sig_cols, rc[1], **rc[2]) if rc else 0.0)
        block.append((lc, rc, h))
    seal = float(layout.signature_space_mm) * PT_PER_MM
    below_title = sum(h for _, _, h in block[len(right_cells):])
    spacer = max(seal - below_title, 0.0)
    signer = str(header.get("signer") or "")
    name_h = r.height(signer or "-", *sig_cols, r.body, bold=True)
    closing_h = r.height(closing, 0, n_cols - 1, r.body)
    r.gap(6)
    r.keep(closing_h + 10 + sum(h for _, _, h in block) + spacer + name_h)
    r.para(closing, align="justify")
    r.gap(10)
    for lc, rc, h in block:
        if lc:
            r.cell(r.row, *rec_cols, lc[0], r.fmt(font_size=lc[1], **lc[2]))
        if rc:
            r.cell(r.row, *sig_cols, rc[0], r.fmt(font_size=rc[1], align="center", **rc[2]))
        r.advance(h)
    if spacer:
        r.advance(spacer)
    r.cell(r.row, *sig_cols, signer, r.fmt(align="center", bold=True))
    r.advance(name_h)

    _page_setup(ws, layout, landscape=False)
    r.finish()


def write_annex_sheet(wb: xlsxwriter.Workbook, agg: Aggregate, annex: Mapping[str, Any], header: Mapping[str, Any],
                      defs: Definitions) -> None:
    """One annex (Phụ lục): its title, the table per part with the total row; the table's header
    repeats on every page of this sheet (nothing else is on it)."""
    rep = report_defs(defs)
    layout, text = rep["layout"], rep.get("text", {})
    upper = agg.level != LEVEL_COMMUNE
    name = fill(text["annex_name"], number=annex["number"])
    ws = wb.add_worksheet(fill(rep["sheets"]["annex"], number=annex["number"]))
    _, page_h = _page_geometry(layout, annex["landscape"])
    r = _Sheet(wb, ws, layout, annex["widths"], page_h)
    part = text["column_unit" if upper else "column_village"]
    r.para(name, bold=True, align="center")
    r.para(fill(annex["title"], part_label=part.lower()).upper(), bold=True, align="center")
    day = header.get("date") or dt.date.today()
    r.para(fill(text["annex_attached_upper" if upper else "annex_attached"], number=_number_text(header, text).split(" ", 1)[-1],
                date=date_text(day), unit_name=agg.unit_name, issuing_body=str(header.get("issuing_body") or "")),
           italic=True, align="center")
    r.gap(10)
    head = list(annex["header"])
    head[1] = part
    head_row = r.row
    spans = [(i, i) for i in range(len(annex["widths"]))]
    r.table(spans, head, annex["rows"], aligns=["center", "left"] + ["right"] * (len(head) - 2), total_last=True,
            rewrite_header=False)
    if annex.get("footnote"):
        r.para(annex["footnote"], italic=True, size=layout.size_table)
    ws.repeat_rows(head_row)  # the sheet holds one table: its header repeats above each page
    _page_setup(ws, layout, landscape=annex["landscape"])
    r.finish()


def write_notes_sheet(wb: xlsxwriter.Workbook, agg: Aggregate, header: Mapping[str, Any], defs: Definitions) -> None:
    """Ghi chú: what the signed pages leave out (how ratios are computed, thresholds not
    configured, a forced export, the files of a rollup): for the officer, not for signing."""
    rep = report_defs(defs)
    layout, notes = rep["layout"], rep.get("notes", {})
    ws = wb.add_worksheet(rep["sheets"]["notes"])
    page_w, page_h = _page_geometry(layout, False)
    r = _Sheet(wb, ws, layout, [page_w * 0.95 / 8] * 8, page_h)
    r.para(notes.get("title", ""), bold=True)
    r.gap()
    lines = []
    if header.get("forced_errors"):
        lines.append(fill(notes.get("forced", ""), errors=header["forced_errors"]))
    if agg.derived:
        lines.append(notes.get("rates", ""))
    lines += signed_and_technical_lines(agg, rep)[1]
    for line in lines:
        if line:
            r.para("- " + line, align="justify")
    if agg.status is not None and len(agg.status) and "file" in agg.status:
        r.gap()
        cols = notes.get("files_columns", [])
        rows = [[s["code"], s["name"], s["file"], s["created_at"], s["status"]] for s in records(agg.status)]
        r.table(_spread(8, [1, 2, 3, 1.2, 0.8]), cols, rows)
    _page_setup(ws, layout, landscape=False)
    r.finish()


def _spread(n_cols: int, weights: Sequence[float]) -> list[tuple[int, int]]:
    """Split columns 0..n_cols-1 into consecutive spans roughly proportional to ``weights``."""
    total = sum(weights) or 1
    spans, start = [], 0
    for i, w in enumerate(weights):
        remaining = len(weights) - i - 1
        width = max(1, round(n_cols * w / total))
        end = min(start + width - 1, n_cols - 1 - remaining)
        if i == len(weights) - 1:
            end = n_cols - 1
        spans.append((start, end))
        start = end + 1
    return spans


def _magnitude_groups(keys: Sequence[str], peaks: Mapping[str, float], ratio: float) -> list[list[str]]:
    """Keys split so that on one chart the largest series is at most ``ratio`` times the smallest:
    small counts are never flattened against large ones."""
    order = sorted(keys, key=lambda k: peaks.get(k, 0.0))
    groups: list[list[str]] = []
    for k in order:
        if groups and max(peaks.get(groups[-1][0], 0.0), 1.0) * ratio >= max(peaks.get(k, 0.0), 1.0):
            groups[-1].append(k)
        else:
            groups.append([k])
    return [[k for k in keys if k in g] for g in groups]  # series keep the definitions' order


def write_charts_sheet(wb: xlsxwriter.Workbook, agg: Aggregate, defs: Definitions) -> None:
    """Native charts, one per printed page (portrait, 100 %): the counts per part (small and large
    counts on separate charts; horizontal bars, a page of parts at a time, when there are many),
    the ratios per part, the monthly trend. Their data sit to the right of the printed area."""
    rep = report_defs(defs)
    ch, text, layout = rep.get("charts", {}), rep.get("text", {}), rep["layout"]
    ws = wb.add_worksheet(rep["sheets"]["charts"])
    sheet = rep["sheets"]["charts"]
    font = layout.font
    f_head = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1})
    f_cell = wb.add_format({"font_name": font, "border": 1})
    f_pct = wb.add_format({"font_name": font, "border": 1, "num_format": "0.0%"})
    upper = agg.level != LEVEL_COMMUNE
    part_label = text["column_unit" if upper else "column_village"]
    params = {"part_label": part_label.lower(), "period_label": agg.period.label, "year": agg.period.year}
    parts = records(agg.parts)
    n = len(parts)
    page_w, page_h = _page_geometry(layout, False)
    print_cols = 10
    col_px = int(page_w * 0.93 / print_cols / PT_PER_PX)
    ws.set_column_pixels(0, print_cols - 1, col_px)
    chart_w = col_px * print_cols - 10
    row_px = 20
    rows_per_page = int(page_h / (row_px * PT_PER_PX)) - 1
    chart_h = (rows_per_page - 1) * row_px
    data_col = print_cols + 2  # the chart data, right of the printed area
    ws.set_column(data_col, data_col, 24)
    ws.set_column(data_col + 1, data_col + 20, 12)
    ws.write_string(0, data_col, ch.get("data_title", ""), wb.add_format({"font_name": font, "bold": True}))
    many = int(ch.get("bars_when_more_than", 12))
    max_bars = int(ch.get("max_bars_per_chart", 80))
    ratio = float(ch.get("magnitude_ratio", 4))
    axis_font = {"name": font, "size": int(ch.get("axis_font_size", 10))}
    charts: list[Any] = []
    data_row = 1

    def block(title_cells: Sequence[str], labels: Sequence[str], columns: Sequence[Sequence[Any]], f) -> int:
        """Write a data block at ``data_row``; return its header row."""
        nonlocal data_row
        top = data_row
        for j, label in enumerate(title_cells):
            ws.write_string(top, data_col + j, label, f_head)
        for i, label in enumerate(labels, start=1):
            ws.write_string(top + i, data_col, label, f_cell)
            for j, col in enumerate(columns, start=1):
                v = col[i - 1]
                if v is None:
                    ws.write_blank(top + i, data_col + j, None, f)
                else:
                    ws.write_number(top + i, data_col + j, v, f)
        data_row = top + len(labels) + 3
        return top

    def make(kind: str, top: int, series: Sequence[int], first: int, last: int, title: str, x_name: str,
             y_name: str, *, rate: bool = False, peak: float | None = None) -> None:
        horizontal = kind == "bar"
        chart = wb.add_chart({"type": kind})
        for j in series:
            s: dict[str, Any] = {"name": [sheet, top, data_col + j], "categories": [sheet, top + first, data_col, top + last, data_col],
                 "values": [sheet, top + first, data_col + j, top + last, data_col + j]}
            if kind == "line":
                s["marker"] = {"type": "circle"}
            chart.add_series(s)
        chart.set_title({"name": title, "name_font": {"name": font, "size": 12}})
        cat_axis = {"name": x_name, "name_font": axis_font, "num_font": axis_font}
        val_axis = {"name": y_name, "name_font": axis_font, "num_font": axis_font, "min": 0,
                    "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}}
        if rate:
            val_axis.update({"num_format": "0%", "max": 1})
        elif peak is not None and peak <= 10:  # small counts: whole-number ticks, never "0.5"
            val_axis["major_unit"] = 1
        if horizontal:  # XlsxWriter's x axis of a bar chart is the horizontal value axis
            # the first part on top, the value axis kept at the bottom
            chart.set_x_axis(val_axis)
            chart.set_y_axis({**cat_axis, "reverse": True, "crossing": "max"})
        else:
            chart.set_x_axis(cat_axis)
            chart.set_y_axis(val_axis)
        chart.set_legend({"position": "bottom", "font": axis_font})
        tall = horizontal or last - first > many
        chart.set_size({"width": chart_w, "height": chart_h if tall else min(chart_h, 560)})
        charts.append(chart)

    def per_part(top: int, keys_n: int, title: str, y_name: str, *, rate: bool = False, groups=None,
                 peaks: Sequence[float] = ()) -> None:
        for group in groups or [list(range(1, keys_n + 1))]:
            peak = max((peaks[j - 1] for j in group), default=None) if peaks else None
            if n > many:
                size = max(1, max_bars // max(len(group), 1))
                for start in range(0, n, size):
                    stop = min(start + size, n)
                    suffix = fill(ch.get("part_range", ""), first=start + 1, last=stop) if n > size else ""
                    make("bar", top, group, start + 1, stop, title + suffix, part_label, y_name, rate=rate, peak=peak)
            else:
                make("column", top, group, 1, n, title, part_label, y_name, rate=rate, peak=peak)

    keys = [k for k in ch.get("per_part", []) if k in agg.indicators]
    names = [str(p["name"] or p["code"]) for p in parts]
    if keys and n:
        cols = [[None if p.get(k) is None else int(p[k]) for p in parts] for k in keys]
        top = block([part_label, *[agg.labels.get(k, k) for k in keys]], names, cols, f_cell)
        peaks = {k: float(max([v for v in col if v is not None] or [0])) for k, col in zip(keys, cols)}
        groups = [[keys.index(k) + 1 for k in g] for g in _magnitude_groups(keys, peaks, ratio)]
        per_part(top, len(keys), fill(ch.get("per_part_title", ""), **params), ch.get("axis_count", ""), groups=groups,
                 peaks=[peaks[k] for k in keys])
    if agg.derived and n:
        rate_cols = [[agg.rates_of(p)[k] for p in parts] for k, _ in agg.derived]
        top = block([part_label, *[label for _, label in agg.derived]], names, rate_cols, f_pct)
        per_part(top, len(agg.derived), fill(ch.get("rates_title", ""), **params), ch.get("axis_rate", ""), rate=True)
    trend_keys = [k for k in ch.get("trend", []) if k in agg.indicators]
    if agg.trend is not None and len(agg.trend) and trend_keys:
        trend = records(agg.trend)
        months = [f"{rec['month'][5:]}/{rec['month'][:4]}" for rec in trend]
        cols = [[None if rec.get(k) is None else int(rec[k]) for rec in trend] for k in trend_keys]
        top = block([ch.get("month_label", ""), *[agg.labels.get(k, k) for k in trend_keys]], months, cols, f_cell)
        peaks = {k: float(max([v for v in col if v is not None] or [0])) for k, col in zip(trend_keys, cols)}
        for g in _magnitude_groups(trend_keys, peaks, ratio):
            make("line", top, [trend_keys.index(k) + 1 for k in g], 1, len(months),
                 fill(ch.get("trend_title", ""), **params), ch.get("month_label", ""), ch.get("axis_count", ""),
                 peak=max(peaks[k] for k in g))
    for i, chart in enumerate(charts):
        ws.insert_chart(i * rows_per_page, 0, chart, {"x_offset": 4, "y_offset": 4, "object_position": 3})
    last_row = max(len(charts) * rows_per_page, 1)
    for row in range(last_row):
        ws.set_row_pixels(row, row_px)
    ws.set_h_pagebreaks([i * rows_per_page for i in range(1, len(charts))])
    ws.print_area(0, 0, last_row - 1, print_cols - 1)
    _page_setup(ws, layout, landscape=False, number_pages=False)


def write_data_sheet(wb: xlsxwriter.Workbook, rows: Sequence[DataRow], labels: Mapping[str, str], defs: Definitions) -> None:
    """Số liệu: the long table (unit, period, part code, part name, key, agg, value, label)."""
    rep = report_defs(defs)
    data = rep.get("data", {})
    text = rep.get("text", {})
    ws = wb.add_worksheet(rep["sheets"]["data"])
    font = rep["layout"].font
    f_head = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1, "valign": "vcenter"})
    f_text = wb.add_format({"font_name": font, "num_format": "@"})
    f_num = wb.add_format({"font_name": font, "num_format": "0"})
    headers = [data[c] for c in DATA_COLUMNS] + [data.get("label", "")]
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, f_head)
    total = text.get("total", "")
    table = [[*map(str, row[:6]), int(row.value),
              f"{total}: {labels.get(row.key, row.key)}" if row.is_total else labels.get(row.key, row.key)]
             for row in rows]
    bulk_rows(wb).add(ws, 1, table, [f_text] * 8, [f_text] * 6 + [f_num, f_text])
    ws.set_row(0, 32)
    for c, w in enumerate((11, 10, 12, 24, 26, 9, 12, 60)):
        ws.set_column(c, c, w)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    ws.freeze_panes(1, 0)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


def write_info_sheet(wb: xlsxwriter.Workbook, info: Sequence[tuple[str, Any]], defs: Definitions) -> None:
    """Thông tin: one row per fact (key, Vietnamese label, value as text)."""
    rep = report_defs(defs)
    spec = rep.get("info", {})
    labels = spec.get("labels", {})
    ws = wb.add_worksheet(rep["sheets"]["info"])
    font = rep["layout"].font
    f_title = wb.add_format({"font_name": font, "bold": True, "font_size": 14})
    f_head = wb.add_format({"font_name": font, "bold": True, "border": 1})
    f_text = wb.add_format({"font_name": font, "num_format": "@", "text_wrap": True, "valign": "top"})
    ws.write_string(0, 0, spec.get("title", ""), f_title)
    for c, h in enumerate(spec.get("columns", ["key", "label", "value"])):
        ws.write_string(2, c, h, f_head)
    for i, (key, value) in enumerate(info, start=3):
        ws.write_string(i, 0, key, f_text)
        ws.write_string(i, 1, labels.get(key, key), f_text)
        ws.write_string(i, 2, "" if value is None else str(value), f_text)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 34)
    ws.set_column(2, 2, 70)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def write_members_sheet(wb: xlsxwriter.Workbook, members: Mapping[str, pd.DataFrame], defs: Definitions) -> None:
    """Thành phần: board and team members (only when the user asked for them)."""
    rep = report_defs(defs)
    ws = wb.add_worksheet(rep["sheets"]["members"])
    font = rep["layout"].font
    f_title = wb.add_format({"font_name": font, "bold": True, "font_size": 13})
    f_head = wb.add_format({"font_name": font, "bold": True, "border": 1, "text_wrap": True})
    f_text = wb.add_format({"font_name": font, "num_format": "@", "border": 1})
    ws.write_string(0, 0, rep.get("members", {}).get("title", ""), f_title)
    row = 2
    for key in ("board", "teams"):
        frame = members.get(key)
        if frame is None:
            continue
        sheet = defs.sheet(key)
        cols = [c for c in sheet.readable_columns]
        ws.write_string(row, 0, sheet.name, f_title)
        row += 1
        for c, col in enumerate(cols):
            ws.write_string(row, c, col.header, f_head)
        row += 1
        for rec in records(frame):
            for c, col in enumerate(cols):
                v = rec.get(col.key)
                ws.write_string(row, c, "" if v is None else str(v), f_text)
            row += 1
        row += 1
    ws.set_column(0, 6, 20)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def _different_first(xml: bytes) -> bytes:
    """differentFirst on a printed sheet (report, annexes), so page numbers start on page 2:
    XlsxWriter has no option for it; the attribute is added to the sheet XML."""
    return re.sub(rb"<headerFooter(?![^>]*differentFirst)", b'<headerFooter differentFirst="1"', xml, count=1)


def build_submission(
    agg: Aggregate,
    rows: Sequence[DataRow],
    info: Sequence[tuple[str, Any]],
    header: Mapping[str, Any],
    defs: Definitions | None = None,
    *,
    members: Mapping[str, pd.DataFrame] | None = None,
    body: ReportBody | None = None,
    situation: SituationSheets | None = None,
    extra_sheets: Callable[[xlsxwriter.Workbook], None] | None = None,
) -> bytes:
    """The submission workbook as bytes (unencrypted). ``body`` is the report's body
    (``core.report_body``; built here from ``agg`` and ``header`` when not given).

    Sheets in order: Báo cáo, Biểu đồ, Số liệu, Thông tin (the machine-readable two keep their
    place), then the annexes (Phụ lục 1, 2 …), Thành phần when asked, and Ghi chú.
    """
    defs = defs or get_definitions()
    rep = report_defs(defs)
    font = rep["layout"].font
    # The date of the date line also goes to Thông tin (report_date, after created_at): the
    # level above judges timeliness by it, not by the file's creation time.
    day = header.get("date") or dt.date.today()
    header = {**header, "date": day}
    if not any(k == "report_date" for k, _ in info):
        info = list(info)
        at = next((i + 1 for i, (k, _) in enumerate(info) if k == "created_at"), len(info))
        info.insert(at, ("report_date", day.isoformat()))
    if situation is not None:  # Tình hình (issue 12 item 11): its checksum after the data's
        info = list(info)
        info.insert(next((i + 1 for i, (k, _) in enumerate(info) if k == "data_sha256"), len(info)), situation.info())
    buffer = io.BytesIO()
    # Times New Roman as the workbook's default font: column widths are counted in its digits,
    # so the printed widths do not depend on whether the PC has Calibri.
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "default_format_properties": {"font_name": font, "font_size": 11}})
    printed = ["xl/worksheets/sheet1.xml"]
    try:
        wb.set_properties({"title": f"{agg.unit_name} – {agg.period.label}", "author": "xltools",
                           "comments": f"xltools {__version__}"})
        annexes = annex_plan(agg, rep) if len(agg.parts) else []
        write_report_sheet(wb, agg, header, defs, annexes, body)
        write_charts_sheet(wb, agg, defs)
        write_data_sheet(wb, rows, agg.labels, defs)
        write_info_sheet(wb, info, defs)
        for annex in annexes:
            write_annex_sheet(wb, agg, annex, header, defs)
            printed.append(f"xl/worksheets/sheet{len(wb.worksheets())}.xml")
        if members:
            write_members_sheet(wb, members, defs)
        write_notes_sheet(wb, agg, header, defs)
        if situation is not None:
            write_situation_sheets(wb, situation, defs)
        if extra_sheets is not None:  # a rollup: what the clerk answers each unit (io.review)
            extra_sheets(wb)
    finally:
        wb.close()
    edits = {part: _different_first for part in printed}
    edits.update(bulk_rows(wb).edits(buffer.getvalue()))  # the big tables' rows (Số liệu, Kiểm tra …): never a printed sheet
    return rewrite_parts(buffer.getvalue(), edits)


def encrypt(data: bytes, password: str) -> bytes:
    """Standard Office (agile) encryption of an .xlsx, as Excel's "Encrypt with Password"."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def write_submission(path: str | Path, data: bytes, *, password: str | None = None) -> Path:
    """Write the workbook bytes to ``path`` atomically, encrypted when a password is given."""
    payload = encrypt(data, password) if password else data
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(payload), keep_backup=False)
