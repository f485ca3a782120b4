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
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from .. import __version__
from ..core.aggregation import LEVEL_COMMUNE, Aggregate, general_lines, percent, report_defs
from ..core.definitions import Definitions, get_definitions
from ..core.frames import records
from ..core.messages import fill
from .files import write_atomic

MM_PER_INCH = 25.4
DATA_COLUMNS = ("unit_code", "period", "part_code", "part_name", "key", "agg", "value")


def _lines_needed(text: str, width_chars: float) -> int:
    return max(1, sum(max(1, math.ceil(len(part) / max(width_chars, 1.0))) for part in text.split("\n")))


class _Report:
    """Lays out the Báo cáo sheet row by row."""

    def __init__(self, wb: xlsxwriter.Workbook, ws, rep: dict[str, Any], n_cols: int, widths: list[float]) -> None:
        self.wb, self.ws, self.rep = wb, ws, rep
        self.layout = rep.get("layout", {})
        self.text = rep.get("text", {})
        self.n_cols = n_cols
        self.widths = widths
        self.row = 0
        self.sections = 0  # numbered headings written so far
        self.heights: dict[int, float] = {}  # row -> height set so far (the tallest cell wins)
        self.cache: dict[tuple, Any] = {}
        self.font = self.layout.get("font", "Times New Roman")

    def fmt(self, **props: Any):
        key = tuple(sorted(props.items()))
        if key not in self.cache:
            base = {"font_name": self.font, "font_size": self.layout.get("size_body", 13), "valign": "top", "text_wrap": True}
            base.update(props)
            self.cache[key] = self.wb.add_format(base)
        return self.cache[key]

    def span_width(self, first: int, last: int) -> float:
        return sum(self.widths[first : last + 1])

    def put(self, text: str, first: int = 0, last: int | None = None, row: int | None = None, size: float | None = None, **props: Any) -> None:
        last = self.n_cols - 1 if last is None else last
        row = self.row if row is None else row
        size = size or props.pop("font_size", None) or self.layout.get("size_body", 13)
        f = self.fmt(font_size=size, **props)
        if last > first:
            self.ws.merge_range(row, first, row, last, text, f)
        else:
            self.ws.write_string(row, first, text, f)
        chars = self.span_width(first, last) * 1.15 * 11.0 / size
        height = _lines_needed(text, chars) * size * 1.45
        current = self.heights.get(row, 0.0)
        if height > current:
            self.heights[row] = height
            self.ws.set_row(row, height)

    def para(self, text: str, **props: Any) -> None:
        self.put(text, **props)
        self.row += 1

    def gap(self, n: int = 1) -> None:
        self.row += n

    def section(self, title: str) -> None:
        """A numbered section heading (I, II, III …)."""
        self.sections += 1
        self.para(f"{_roman(self.sections)}. {title}", bold=True)


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out


def _number_cell(ws, row: int, col: int, value: Any, f_num, f_blank, blank: str = "") -> None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        ws.write_string(row, col, blank, f_blank)
    else:
        ws.write_number(row, col, float(value) if not float(value).is_integer() else int(value), f_num)


def _date_text(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if isinstance(value, (dt.date, dt.datetime)) else ""


def _date_line(rep: dict[str, Any], place: str, day: dt.date) -> str:
    pad = set(rep.get("layout", {}).get("pad_months", [1, 2]))
    month = f"{day.month:02d}" if day.month in pad else str(day.month)
    return fill(rep["text"]["date_line"], place=place, day=f"{day.day:02d}", month=month, year=day.year)


def write_report_sheet(
    wb: xlsxwriter.Workbook, agg: Aggregate, header: Mapping[str, Any], defs: Definitions
) -> None:
    """The printable Báo cáo sheet (Decree 30/2020/NĐ-CP, annex I)."""
    rep = report_defs(defs)
    layout, text = rep.get("layout", {}), rep.get("text", {})
    ws = wb.add_worksheet(rep["sheets"]["report"])
    indicators = agg.indicators
    n_cols = 2 + len(indicators) + len(agg.derived)
    widths = [5.0, float(layout.get("name_width", 24))] + [float(layout.get("value_width", 9.5))] * (n_cols - 2)
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    r = _Report(wb, ws, rep, n_cols, widths)
    size_h = layout.get("size_header", 13)
    half = max(2, n_cols // 2 - 1)  # left block: columns 0..half-1
    left = (0, half - 1)
    right = (half, n_cols - 1)
    upper = agg.level != LEVEL_COMMUNE

    # -- header blocks ---------------------------------------------------------------
    r.put(str(header.get("parent_body") or "").upper(), *left, row=0, size=size_h, align="center")
    r.put(text["national"], *right, row=0, size=size_h, bold=True, align="center")
    r.put(str(header.get("issuing_body") or "").upper(), *left, row=1, size=size_h, bold=True, align="center")
    r.put(text["motto"], *right, row=1, size=layout.get("size_motto", 13), bold=True, align="center")
    # rule lines: a short rule under the issuing body, a full one under the motto
    short = r.fmt(top=1, font_size=6)
    ws.merge_range(2, max(left[0], left[1] // 2 - 1), 2, max(left[0], left[1] // 2 - 1) + max(1, (left[1] - left[0]) // 2), "", short)
    ws.merge_range(2, right[0] + 1, 2, right[1] - 1, "", r.fmt(top=1, font_size=6))
    ws.set_row(2, 8)
    number = header.get("doc_number")
    number_text = f"{int(number):02d}" if isinstance(number, int) or str(number or "").isdigit() else str(number or "")
    number_text = number_text or " " * 6  # no number yet: room to write it by hand
    r.put(fill(text["number"], number=number_text, doc_code=header.get("doc_code") or ""), *left, row=3, align="center")
    day = header.get("date") or dt.date.today()
    r.put(_date_line(rep, str(header.get("place_name") or ""), day), *right, row=3, italic=True, align="center")
    r.row = 5
    r.para(text["title"], size=layout.get("size_title", 14), bold=True, align="center")
    subject = text["subject_upper" if upper else "subject"]
    r.para(fill(subject, model_name=header.get("model_name") or "", period_label=agg.period.label), bold=True, align="center")
    start, end = agg.period.window(int(header.get("cut_day") or 15))
    r.para(fill(text["window"], start=_date_text(start), end=_date_text(end)), italic=True, align="center", size=12)
    r.gap()
    intro = text["intro_upper" if upper else "intro"]
    params = {**{k: v for k, v in header.items() if isinstance(v, (str, int))}, "unit_name": agg.unit_name,
              "period_label": agg.period.label}
    r.para(fill(intro, **params), align="justify")
    if header.get("forced_errors"):
        r.para(fill(text["forced"], errors=header["forced_errors"]), italic=True, bold=True)

    # -- I. general -------------------------------------------------------------------
    r.section(text["section_general"])
    for line in general_lines(agg, rep):
        r.para(line, align="justify")

    # -- II. results ---------------------------------------------------------------
    r.section(text["section_results"])
    size_t = layout.get("size_table", 11)
    f_head = r.fmt(font_size=size_t, bold=True, border=1, align="center", valign="vcenter")
    f_name = r.fmt(font_size=size_t, border=1, valign="vcenter")
    f_tt = r.fmt(font_size=size_t, border=1, align="center", valign="vcenter")
    f_num = r.fmt(font_size=size_t, border=1, align="right", valign="vcenter", num_format=layout.get("number_format", "#,##0"))
    f_txt = r.fmt(font_size=size_t, border=1, align="right", valign="vcenter")
    f_tot_name = r.fmt(font_size=size_t, border=1, bold=True, valign="vcenter")
    f_tot_num = r.fmt(font_size=size_t, border=1, bold=True, align="right", valign="vcenter", num_format=layout.get("number_format", "#,##0"))
    f_tot_txt = r.fmt(font_size=size_t, border=1, bold=True, align="right", valign="vcenter")
    part_label = text["column_unit" if upper else "column_village"]
    head_row = r.row
    ws.write_string(head_row, 0, text["column_no"], f_head)
    ws.write_string(head_row, 1, part_label, f_head)
    longest = 1
    columns = [agg.labels.get(k, k) for k in indicators] + [label for _, label in agg.derived]
    for i, label in enumerate(columns):
        ws.write_string(head_row, 2 + i, label, f_head)
        longest = max(longest, _lines_needed(label, widths[2 + i] * 1.1))
    ws.set_row(head_row, longest * size_t * 1.4)
    parts = records(agg.parts)
    if len(parts) >= int(layout.get("repeat_header_min_rows", 15)):
        # Only a table that runs onto the next page repeats its header there; a short one
        # would put the results header above the budget or the signature of page 2.
        ws.repeat_rows(head_row)
    r.row += 1
    total = agg.total()
    decimals = int(layout.get("percent_decimals", 1))
    comma = bool(layout.get("decimal_comma", True))
    first_rate = 2 + len(indicators)
    for n, rec in enumerate([*parts, None], start=1):
        is_total = rec is None
        values = total if is_total else rec
        ws.write_string(r.row, 0, "" if is_total else str(n), f_tot_name if is_total else f_tt)
        ws.write_string(r.row, 1, text["total"] if is_total else str(rec["name"] or rec["code"]),
                        f_tot_name if is_total else f_name)
        for i, key in enumerate(indicators):
            _number_cell(ws, r.row, 2 + i, values.get(key), f_tot_num if is_total else f_num,
                         f_tot_txt if is_total else f_txt, "–")
        rates = agg.rates_of(values)
        for j, (key, _) in enumerate(agg.derived):
            ws.write_string(r.row, first_rate + j, percent(rates[key], decimals, comma), f_tot_txt if is_total else f_txt)
        r.row += 1
    if agg.derived:
        r.para(text.get("rates_note", ""), italic=True, size=size_t)
    r.gap()

    # -- rollup: who sent what -----------------------------------------------------------
    if agg.status is not None and len(agg.status):
        roll = rep.get("rollup", {})
        r.para(roll.get("section_status", ""), bold=True, italic=True)
        cols = roll.get("status_columns", [])
        spans = _spread(n_cols, [1, 2, 3, 2, 1][: len(cols)] if cols else [])
        _table(ws, r, cols, [[s["code"], s["name"], s["file"], s["created_at"], s["status"]] for s in records(agg.status)],
               spans, f_head, f_name)
        r.gap()

    # -- III. milestones --------------------------------------------------------------
    if agg.milestones is not None and len(agg.milestones):
        m = agg.milestones
        r.section(text["section_milestones"])
        done = int((m["status_key"] == "done").sum())
        overdue = int((m["status_key"] == "overdue").sum())
        r.para(fill(text["milestones_summary"], done=done, total=len(m), overdue=overdue))
        spans = _spread(n_cols, [1, 6, 1.5, 1.5, 2])
        rows = [[str(x.get("step_no") or ""), str(x.get("step") or ""), _date_text(x.get("deadline")),
                 _date_text(x.get("done_on")), str(x.get("status") or "")] for x in records(m)]
        _table(ws, r, text["milestone_columns"], rows, spans, f_head, f_name)
        r.gap()

    # -- IV. budget --------------------------------------------------------------------
    if agg.budget is not None and len(agg.budget):
        r.section(text["section_budget"])
        b = records(agg.budget)
        sums = {c: sum(int(x[c] or 0) for x in b) for c in ("estimate", "approved", "spent")}
        rows = [[x["source"], x["estimate"], x["approved"], x["spent"]] for x in b]
        rows.append([text["total"], sums["estimate"], sums["approved"], sums["spent"]])
        spans = _spread(n_cols, [4, 2, 2, 2])
        _table(ws, r, text["budget_columns"], rows, spans, f_head, f_name, f_num=f_num, bold_last=(f_tot_name, f_tot_num))
        r.gap()

    # -- V. proposals -------------------------------------------------------------------
    r.section(text["section_proposals"])
    for line in text["proposals_upper" if upper else "proposals"]:
        r.para("- " + fill(line, **params), align="justify")
    for name, note in agg.notes:
        r.para("- " + fill(text["village_note"], name=name, note=note), align="justify")
    r.gap()

    # -- Nơi nhận and signature -----------------------------------------------------------
    size_rl = layout.get("size_recipients_list", 11)
    recipients = header.get("recipients") or text["recipients_upper" if upper else "recipients"]
    lines = ["- " + fill(x, **params) + ";" for x in recipients] + ["- " + text["archive"]]
    start_row = r.row
    r.put(text["recipients_label"], *left, row=start_row, size=layout.get("size_recipients", 12), bold=True, italic=True)
    for i, line in enumerate(lines, start=1):
        r.put(line, *left, row=start_row + i, size=size_rl)
    r.put(text["signature_for"], *right, row=start_row, bold=True, align="center")
    r.put(text["signature_title"], *right, row=start_row + 1, bold=True, align="center")
    name_row = max(start_row + 6, start_row + len(lines) + 1)
    r.put(str(header.get("signer") or ""), *right, row=name_row, bold=True, align="center")
    last_row = name_row

    # -- page setup -------------------------------------------------------------------
    ws.set_paper(int(layout.get("paper", 9)))
    if layout.get("landscape"):
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(
        left=layout["margin_left_mm"] / MM_PER_INCH, right=layout["margin_right_mm"] / MM_PER_INCH,
        top=layout["margin_top_mm"] / MM_PER_INCH, bottom=layout["margin_bottom_mm"] / MM_PER_INCH,
    )
    ws.set_header(layout.get("page_number_header", "&C&P"), {"margin": 0.3})
    ws.fit_to_pages(1, 0)
    ws.print_area(0, 0, last_row, n_cols - 1)
    ws.hide_gridlines(2)


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


def _table(ws, r: _Report, header: Sequence[str], rows: Sequence[Sequence[Any]], spans, f_head, f_text, *, f_num=None, bold_last=None) -> None:
    def cell(row: int, span: tuple[int, int], value: Any, f) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and f_num is not None:
            if span[1] > span[0]:
                ws.merge_range(row, span[0], row, span[1], None, f)
                ws.write_number(row, span[0], value, f)
            else:
                ws.write_number(row, span[0], value, f)
            return
        shown = "" if value is None else str(value)
        if span[1] > span[0]:
            ws.merge_range(row, span[0], row, span[1], shown, f)
        else:
            ws.write_string(row, span[0], shown, f)
        chars = r.span_width(*span) * 1.1
        height = _lines_needed(shown, chars) * 11 * 1.4
        if height > r.heights.get(row, 0):
            r.heights[row] = height
            ws.set_row(row, height)

    for span, label in zip(spans, header):
        cell(r.row, span, label, f_head)
    r.row += 1
    for n, values in enumerate(rows):
        last = bold_last is not None and n == len(rows) - 1
        for span, value in zip(spans, values):
            is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
            f = (bold_last[1] if is_num else bold_last[0]) if last else (f_num if is_num and f_num is not None else f_text)
            cell(r.row, span, value, f)
        r.row += 1


def write_charts_sheet(wb: xlsxwriter.Workbook, agg: Aggregate, defs: Definitions) -> None:
    """Native Excel charts: key indicators per part, ratios per part, the monthly trend."""
    rep = report_defs(defs)
    ch = rep.get("charts", {})
    text = rep.get("text", {})
    layout = rep.get("layout", {})
    ws = wb.add_worksheet(rep["sheets"]["charts"])
    font = layout.get("font", "Times New Roman")
    f_head = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1})
    f_cell = wb.add_format({"font_name": font, "border": 1})
    f_pct = wb.add_format({"font_name": font, "border": 1, "num_format": "0.0%"})
    sheet = rep["sheets"]["charts"]
    part_label = text["column_unit" if agg.level != LEVEL_COMMUNE else "column_village"]
    params = {"part_label": part_label.lower(), "period_label": agg.period.label, "year": agg.period.year}
    keys = [k for k in ch.get("per_part", []) if k in agg.indicators]
    parts = records(agg.parts)
    ws.write_string(0, 0, ch.get("data_title", ""), wb.add_format({"font_name": font, "bold": True}))
    ws.set_column(0, 0, 24)
    ws.set_column(1, 12, 12)
    top = 1
    n = len(parts)
    # block 1: indicators per part
    ws.write_string(top, 0, part_label, f_head)
    ws.set_row(top, 45)
    for j, key in enumerate(keys, start=1):
        ws.write_string(top, j, agg.labels.get(key, key), f_head)
    for i, rec in enumerate(parts, start=1):
        ws.write_string(top + i, 0, str(rec["name"] or rec["code"]), f_cell)
        for j, key in enumerate(keys, start=1):
            v = rec.get(key)
            ws.write_number(top + i, j, 0 if v is None else int(v), f_cell)
    anchor_col = max(len(keys), len(agg.derived)) + 2
    if keys and n:
        chart = wb.add_chart({"type": "column"})
        for j in range(1, len(keys) + 1):
            chart.add_series({"name": [sheet, top, j], "categories": [sheet, top + 1, 0, top + n, 0],
                              "values": [sheet, top + 1, j, top + n, j]})
        chart.set_title({"name": fill(ch.get("per_part_title", ""), **params), "name_font": {"name": font, "size": 12}})
        chart.set_legend({"position": "bottom", "font": {"name": font}})
        chart.set_size({"width": 860, "height": 380})
        ws.insert_chart(xl_rowcol_to_cell(1, anchor_col), chart)
    # block 2: ratios per part (from numerators and denominators)
    top2 = top + n + 3
    if agg.derived and n:
        ws.write_string(top2, 0, part_label, f_head)
        ws.set_row(top2, 75)
        for j, (_key, label) in enumerate(agg.derived, start=1):
            ws.write_string(top2, j, label, f_head)
        for i, rec in enumerate(parts, start=1):
            ws.write_string(top2 + i, 0, str(rec["name"] or rec["code"]), f_cell)
            rates = agg.rates_of(rec)
            for j, (key, _) in enumerate(agg.derived, start=1):
                v = rates[key]
                ws.write_number(top2 + i, j, 0 if v is None else v, f_pct)
        chart = wb.add_chart({"type": "column"})
        for j in range(1, len(agg.derived) + 1):
            chart.add_series({"name": [sheet, top2, j], "categories": [sheet, top2 + 1, 0, top2 + n, 0],
                              "values": [sheet, top2 + 1, j, top2 + n, j]})
        chart.set_title({"name": fill(ch.get("rates_title", ""), **params), "name_font": {"name": font, "size": 12}})
        chart.set_y_axis({"num_format": "0%", "max": 1, "min": 0})
        chart.set_legend({"position": "bottom", "font": {"name": font}})
        chart.set_size({"width": 860, "height": 380})
        ws.insert_chart(xl_rowcol_to_cell(21, anchor_col), chart)
    # block 3: the monthly trend over the year (commune level)
    top3 = top2 + n + 3
    trend_keys = [k for k in ch.get("trend", []) if k in agg.indicators]
    if agg.trend is not None and len(agg.trend) and trend_keys:
        ws.write_string(top3, 0, ch.get("month_label", ""), f_head)
        ws.set_row(top3, 45)
        for j, key in enumerate(trend_keys, start=1):
            ws.write_string(top3, j, agg.labels.get(key, key), f_head)
        trend = records(agg.trend)
        for i, rec in enumerate(trend, start=1):
            ws.write_string(top3 + i, 0, f"{rec['month'][5:]}/{rec['month'][:4]}", f_cell)
            for j, key in enumerate(trend_keys, start=1):
                v = rec.get(key)
                if v is None:
                    ws.write_blank(top3 + i, j, None, f_cell)
                else:
                    ws.write_number(top3 + i, j, int(v), f_cell)
        chart = wb.add_chart({"type": "line"})
        m = len(trend)
        for j in range(1, len(trend_keys) + 1):
            chart.add_series({"name": [sheet, top3, j], "categories": [sheet, top3 + 1, 0, top3 + m, 0],
                              "values": [sheet, top3 + 1, j, top3 + m, j], "marker": {"type": "circle"}})
        chart.set_title({"name": fill(ch.get("trend_title", ""), **params), "name_font": {"name": font, "size": 12}})
        chart.set_legend({"position": "bottom", "font": {"name": font}})
        chart.set_size({"width": 860, "height": 380})
        ws.insert_chart(xl_rowcol_to_cell(41, anchor_col), chart)
    ws.set_paper(int(layout.get("paper", 9)))
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def write_data_sheet(wb: xlsxwriter.Workbook, rows: Sequence[tuple], labels: Mapping[str, str], defs: Definitions) -> None:
    """Số liệu: the long table (unit, period, part code, part name, key, agg, value, label)."""
    rep = report_defs(defs)
    data = rep.get("data", {})
    text = rep.get("text", {})
    ws = wb.add_worksheet(rep["sheets"]["data"])
    font = rep.get("layout", {}).get("font", "Times New Roman")
    f_head = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1, "valign": "vcenter"})
    f_text = wb.add_format({"font_name": font, "num_format": "@"})
    f_num = wb.add_format({"font_name": font, "num_format": "0"})
    headers = [data[c] for c in DATA_COLUMNS] + [data.get("label", "")]
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, f_head)
    for i, row in enumerate(rows, start=1):
        for c in range(6):
            ws.write_string(i, c, str(row[c]), f_text)
        ws.write_number(i, 6, row[6], f_num)
        label = labels.get(row[4], row[4])
        ws.write_string(i, 7, label if row[2] else f"{text.get('total', '')}: {label}", f_text)
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
    font = rep.get("layout", {}).get("font", "Times New Roman")
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
    font = rep.get("layout", {}).get("font", "Times New Roman")
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


def _first_page_without_header(data: bytes, sheet_xml: str = "xl/worksheets/sheet1.xml") -> bytes:
    """Set differentFirst on the report sheet, so page numbers start on page 2.

    XlsxWriter has no option for it; the attribute is added to the sheet XML.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == sheet_xml:
                xml = content.decode("utf-8")
                xml = re.sub(r"<headerFooter(?![^>]*differentFirst)", '<headerFooter differentFirst="1"', xml, count=1)
                content = xml.encode("utf-8")
            dst.writestr(item, content)
    return out.getvalue()


def build_submission(
    agg: Aggregate,
    rows: Sequence[tuple],
    info: Sequence[tuple[str, Any]],
    header: Mapping[str, Any],
    defs: Definitions | None = None,
    *,
    members: Mapping[str, pd.DataFrame] | None = None,
) -> bytes:
    """The submission workbook as bytes (unencrypted)."""
    defs = defs or get_definitions()
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    try:
        wb.set_properties({"title": f"{agg.unit_name} – {agg.period.label}", "author": "xltools",
                           "comments": f"xltools {__version__}"})
        write_report_sheet(wb, agg, header, defs)
        write_charts_sheet(wb, agg, defs)
        write_data_sheet(wb, rows, agg.labels, defs)
        write_info_sheet(wb, info, defs)
        if members:
            write_members_sheet(wb, members, defs)
    finally:
        wb.close()
    return _first_page_without_header(buffer.getvalue())


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
