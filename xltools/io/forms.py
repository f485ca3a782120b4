"""Write a village monthly form (Phiếu báo cáo) with XlsxWriter.

One sheet, one column of labelled inputs, one printable A4 page, no macros. The
labels and the pre-filled commune, village and period are locked; the inputs are
unlocked, carry whole-number (or date, or length) validation with Vietnamese input
messages, and each has a workbook-level defined name equal to its key, which is
all that import relies on. A hidden, protected metadata sheet carries the form
version, the commune and village codes, the period and a form id.

Every text comes from workbook/forms.toml and indicators.toml.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from .. import __version__
from ..core import messages
from ..core.aggregation import cut_day
from ..core.definitions import Definitions
from ..core.errors import DefinitionsError
from ..core.periods import Period, report_deadline
from ..core.text import slug

FONT = "Times New Roman"
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_INPUT_FILL = "#FFF2CC"
# Metadata keys, in the order written on the hidden sheet (values are text).
META_KEYS = (
    "generator", "form_version", "definitions_version", "toolkit_version", "commune_code",
    "commune_name", "village_code", "village_name", "period", "form_id", "created_at",
)
# Entries of forms.toml the code reads without a fallback (the wording may be left empty).
_REQUIRED = {
    "": ("version", "supported_versions", "generator", "file_name", "out_dir", "sheet_name", "meta_sheet"),
    "limits": ("max_file_bytes", "max_members", "max_uncompressed_bytes", "max_ratio", "ratio_min_bytes",
               "max_text_length"),
    "import": ("action", "manual_source", "folder_suffixes"),
    "results": ("accepted", "unchanged", "replaced", "rejected"),
}


def form_config(defs: Definitions) -> dict[str, Any]:
    """The content of workbook/forms.toml (DefinitionsError when it or a required entry is missing)."""
    cfg = defs.extra("forms")
    for table, keys in _REQUIRED.items():
        found = cfg.get(table, {}) if table else cfg
        missing = [k for k in keys if not isinstance(found, dict) or k not in found]
        if missing:
            where = ", ".join(f"{table}.{k}" if table else k for k in missing)
            raise DefinitionsError("bad_definitions", file=str(defs.folder / "forms.toml"),
                                   reason=messages.text("definitions_missing_keys", keys=where))
    return cfg


@dataclass(frozen=True)
class InputSpec:
    """One input of the form: an indicator or an extra field (reporter, report date)."""

    key: str
    label: str
    short: str
    unit: str
    type: str  # int | text | date
    help: str = ""
    max_length: int | None = None


def form_inputs(defs: Definitions) -> list[InputSpec]:
    """The inputs of the form in order: the indicators, then forms.toml's fields."""
    cfg = form_config(defs)
    out = [
        InputSpec(i.key, i.label, i.short, i.unit, "int" if i.numeric else "text", i.help,
                  None if i.numeric else int(cfg["limits"]["max_text_length"]))
        for i in defs.indicators
    ]
    for f in cfg.get("field", []):
        out.append(InputSpec(f["key"], f["label"], f.get("short", f["label"]), f.get("unit", ""),
                             f.get("type", "text"), f.get("help", ""), f.get("max_length")))
    return out


@dataclass(frozen=True)
class FormSpec:
    """Who and what one form is for."""

    commune_code: str
    commune_name: str
    village_code: str
    village_name: str
    period: str  # YYYY-MM
    deadline_day: int | None = None
    form_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))


def safe_file_name(name: str) -> str:
    """``name`` with the characters Windows forbids replaced, no trailing dot or space."""
    return _WINDOWS_FORBIDDEN.sub("-", name).rstrip(" .") or "-"


def form_file_name(spec: FormSpec, defs: Definitions) -> str:
    cfg = form_config(defs)
    name = cfg["file_name"].format(
        village_code=spec.village_code, period=spec.period, village_slug=slug(spec.village_name or ""),
        commune_code=spec.commune_code,
    )
    return safe_file_name(name)


def _date(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def write_form(target: str | Path, spec: FormSpec, defs: Definitions, values: Mapping[str, Any] | None = None) -> None:
    """Write the form of ``spec`` to ``target``; ``values`` pre-fill inputs (tests, benchmarks)."""
    cfg = form_config(defs)
    values = values or {}
    # The default font sets Excel's width unit: Times New Roman here (Liberation Serif in LibreOffice,
    # of the same metrics), so the columns are as wide in either application as _Grid reckons.
    wb = xlsxwriter.Workbook(str(target), {"in_memory": True,
                                           "default_format_properties": {"font_name": FONT, "font_size": 11}})
    try:
        wb.set_properties({"title": cfg.get("title", ""), "author": "xltools",
                           "comments": f"xltools {__version__}, form {cfg['version']}"})
        grid = _Grid.of(cfg)
        f = _formats(wb, grid.font_size)
        ws = wb.add_worksheet(cfg["sheet_name"])
        first = _write_heading(ws, f, cfg, spec, defs, grid)
        footer, numeric_cells = _write_inputs(wb, ws, f, cfg, defs, values, first, grid)
        last = _write_footer(ws, f, cfg, values, numeric_cells, footer, defs, grid)
        _page_setup(ws, last, grid, header=first - 1, footer=footer, least=int(cfg["print_min_percent"]))
        _write_meta(wb, cfg, spec, defs)
    finally:
        wb.close()


@dataclass
class _Grid:
    """The form's four columns (TT, label, input, unit) and the row heights given to them, which the
    printed page is sized from."""

    widths: tuple[float, float, float, float]
    font_size: float
    heights: dict[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> _Grid:
        a, b, c, d = (float(w) for w in cfg["column_widths"])
        return cls((a, b, c, d), float(cfg["font_size"]))

    def pixels(self, *cols: int) -> float:
        """Screen width of the columns at 100 % (Excel: a width of w characters is 7w + 5 pixels)."""
        return sum(self.widths[c] * 7 + 5 for c in cols)

    def lines(self, text: str, cols: tuple[int, ...], size: float | None = None, bold: bool = False) -> int:
        """Lines ``text`` wraps to in the merged columns ``cols`` (Vietnamese in Times New Roman: about
        0.42 em a character, 0.47 in bold, measured on LibreOffice's PDF), counting its own line breaks."""
        em_px = (size or self.font_size) * 96 / 72
        per_line = max(1, int((self.pixels(*cols) - 6) / (em_px * (0.47 if bold else 0.42))))
        return sum(max(1, -(-len(part) // per_line)) for part in str(text).split("\n"))

    def fit(self, ws, row: int, texts: list[tuple[str, tuple[int, ...]]], *, least: float = 20.0,
            size: float | None = None, bold: bool = False) -> None:
        """Give ``row`` the height that shows every text of it wrapped (points)."""
        lines = max(self.lines(t, cols, size, bold) for t, cols in texts) if texts else 1
        height = max(least, (size or self.font_size) * 1.25 * lines + 6)
        self.heights[row] = height
        ws.set_row(row, height)

    def height(self, ws, row: int, points: float) -> None:
        self.heights[row] = points
        ws.set_row(row, points)

    def page_size(self, last: int) -> tuple[float, float]:
        """Width and height (points) of the printed block, rows 0..last."""
        width = self.pixels(0, 1, 2, 3) * 72 / 96
        return width, sum(self.heights.get(r, 15.0) for r in range(last + 1))


def _formats(wb: xlsxwriter.Workbook, size: float = 12) -> dict[str, Any]:
    """The cell formats of the form, by role."""
    base = {"font_name": FONT, "font_size": size, "valign": "vcenter"}
    unlocked = {**base, "border": 1, "locked": False, "bg_color": _INPUT_FILL}
    specs: dict[str, dict[str, Any]] = {
        "title": {**base, "bold": True, "font_size": size + 2, "align": "center", "text_wrap": True},
        "sub": {**base, "italic": True, "align": "center", "text_wrap": True},
        "key": {**base, "bold": True, "text_wrap": True},
        "line": {**base, "text_wrap": True},
        "line_label": {"font_name": FONT, "font_size": size},
        "line_value": {"font_name": FONT, "font_size": size, "font_color": "#1F3864", "bold": True},
        "note": {**base, "italic": True, "text_wrap": True, "valign": "top", "font_size": size - 1},
        "head": {**base, "bold": True, "align": "center", "border": 1, "bg_color": "#D9E1F2", "text_wrap": True},
        "no": {**base, "align": "center", "border": 1},
        "label": {**base, "border": 1, "text_wrap": True},
        "unit": {**base, "border": 1, "align": "center", "text_wrap": True, "font_size": size - 1},
        "int": {**unlocked, "num_format": "#,##0", "align": "center"},
        "text": {**unlocked, "num_format": "@", "text_wrap": True, "valign": "top"},
        "date": {**unlocked, "num_format": "dd/mm/yyyy", "align": "center"},
        "count": {**base, "border": 1, "align": "center", "bold": True},
        "sign": {**base, "bold": True, "align": "center"},
        "sign_note": {**base, "italic": True, "align": "center", "font_size": size - 1, "text_wrap": True},
    }
    return {name: wb.add_format(spec) for name, spec in specs.items()}


def _write_heading(ws, f: Mapping[str, Any], cfg: Mapping[str, Any], spec: FormSpec, defs: Definitions,
                   grid: _Grid) -> int:
    """Title, the commune/village/period/window/deadline block, the instructions and the table
    header; returns the first row of the inputs."""
    period = Period.parse(spec.period)
    for col, width in enumerate(grid.widths):
        ws.set_column(col, col, width)
    everything = (0, 1, 2, 3)
    title = cfg.get("title", "")
    ws.merge_range(0, 0, 0, 3, title, f["title"])
    grid.fit(ws, 0, [(title, everything)], size=grid.font_size + 2, bold=True)
    subtitle = cfg.get("subtitle", "").format(period_label=period.label, period=spec.period)
    ws.merge_range(1, 0, 1, 3, subtitle, f["sub"])
    grid.fit(ws, 1, [(subtitle, everything)])

    cut = cut_day(defs)  # rules.toml [common]: the window and deadline validation applies
    start, end = period.window(cut)
    day = spec.deadline_day  # read as validation reads it: 0 is day 1, a day past the month's end its last
    deadline = None if day is None else report_deadline(spec.period, min(max(int(day), 1), 31), cut)
    header = [
        (cfg.get("commune_label", ""), f"{spec.commune_name} ({spec.commune_code})"),
        (cfg.get("village_label", ""), f"{spec.village_code} - {spec.village_name}"),
        (cfg.get("period_label", ""), f"{period.label} ({spec.period})"),
        (cfg.get("window_label", ""), cfg.get("window_text", "").format(start=_date(start), end=_date(end))),
    ]
    if deadline:
        header.append((cfg.get("deadline_label", ""), cfg.get("deadline_text", "").format(deadline=_date(deadline))))
    row = 3
    for label, value in header:  # "Label: value" across the four columns, one or two lines on a phone
        ws.merge_range(row, 0, row, 3, None, f["line"])
        ws.write_rich_string(row, 0, f["line_label"], f"{label}: ", f["line_value"], value, f["line"])
        grid.fit(ws, row, [(f"{label}: {value}", everything)], least=18.0, bold=True)
        row += 1
    instructions = cfg.get("instructions", "")
    ws.merge_range(row, 0, row, 3, instructions, f["note"])
    grid.fit(ws, row, [(instructions, everything)], size=grid.font_size - 1)
    row += 2
    ws.write_row(row, 0, [cfg.get("col_no", ""), cfg.get("col_label", ""), cfg.get("col_value", ""),
                          cfg.get("col_unit", "")], f["head"])
    grid.fit(ws, row, [(cfg.get(k, ""), (c,)) for c, k in enumerate(("col_no", "col_label", "col_value", "col_unit"))],
             bold=True)
    ws.repeat_rows(row)
    return row + 1


def _write_inputs(wb: xlsxwriter.Workbook, ws, f: Mapping[str, Any], cfg: Mapping[str, Any], defs: Definitions,
                  values: Mapping[str, Any], row: int, grid: _Grid) -> tuple[int, list[str]]:
    """One row per input with its validation and its defined name; returns the next row and the
    cells of the count inputs."""
    sheet_ref = quote_sheetname(cfg["sheet_name"])
    numeric_cells: list[str] = []
    title_max = int(cfg.get("input_title_max", 32))  # Excel's limit
    error_title = cfg.get("error_title", "")[:title_max]
    for no, inp in enumerate(form_inputs(defs), start=1):
        ws.write_number(row, 0, no, f["no"])
        ws.write_string(row, 1, inp.label, f["label"])
        grid.fit(ws, row, [(inp.label, (1,)), (inp.unit, (3,))], least=24.0)
        value = values.get(inp.key)
        opts: dict[str, Any] = {"input_title": inp.short[:title_max], "input_message": (inp.help or inp.label)[:255],
                                "error_title": error_title, "error_type": "stop"}
        if inp.type == "int":
            numeric_cells.append(xl_rowcol_to_cell(row, 2))
            ws.write_string(row, 3, inp.unit, f["unit"])
            _write_value(ws, row, 2, value, f["int"])
            opts.update(validate="integer", criteria=">=", value=0, error_message=cfg.get("error_int", "")[:255])
        elif inp.type == "date":
            ws.write_string(row, 3, inp.unit, f["unit"])
            _write_value(ws, row, 2, value, f["date"])
            opts.update(validate="date", criteria="between", minimum=dt.date(2000, 1, 1),
                        maximum=dt.date(2100, 12, 31), error_message=cfg.get("error_date", "")[:255])
        else:
            ws.merge_range(row, 2, row, 3, None, f["text"])
            _write_value(ws, row, 2, value, f["text"])
            limit = inp.max_length or int(cfg["limits"]["max_text_length"])
            opts.update(validate="length", criteria="<=", value=limit,
                        error_message=cfg.get("error_text", "").format(max_length=limit)[:255])
            # room for a few lines of a long text (a note), two of a short one (a name)
            grid.fit(ws, row, [(inp.label, (1,)), ("x" * min(limit // 2, 90), (2, 3))], least=24.0)
        ws.data_validation(row, 2, row, 2, opts)
        cell = xl_rowcol_to_cell(row, 2, row_abs=True, col_abs=True)
        if wb.define_name(inp.key, f"={sheet_ref}!{cell}") != 0:
            raise DefinitionsError("bad_definitions", file=str(defs.folder / "indicators.toml"),
                                   reason=messages.text("definitions_bad_name", key=inp.key))
        row += 1
    return row, numeric_cells


def _write_footer(ws, f: Mapping[str, Any], cfg: Mapping[str, Any], values: Mapping[str, Any],
                  numeric_cells: list[str], row: int, defs: Definitions, grid: _Grid) -> int:
    """The recalculated count of filled inputs and the signature; returns the last row."""
    ws.write(row, 1, cfg.get("filled_label", ""), f["key"])
    ws.write_formula(row, 2, f"=COUNT({','.join(numeric_cells)})", f["count"], _count(values, form_inputs(defs)))
    ws.write_string(row, 3, f"/ {len(numeric_cells)}", f["unit"])
    grid.fit(ws, row, [(cfg.get("filled_label", ""), (1,))], least=24.0, bold=True)
    row += 2
    ws.merge_range(row, 1, row, 3, cfg.get("signature", ""), f["sign"])
    grid.fit(ws, row, [(cfg.get("signature", ""), (1, 2, 3))], bold=True)
    note = cfg.get("signature_note", "")
    ws.merge_range(row + 1, 1, row + 1, 3, note, f["sign_note"])
    grid.fit(ws, row + 1, [(note, (1, 2, 3))], size=grid.font_size - 1)
    return row + 1


def _page_setup(ws, last: int, grid: _Grid, *, header: int, footer: int, least: int) -> None:
    """A4 portrait, the form sheet active and protected (inputs unlocked).

    The columns are sized for a phone's screen, so a short form is enlarged on paper to fill the
    page (its width or its height, whichever comes first) and a long one is fitted to one page,
    but never shrunk below ``least`` percent (the labels would print too small to read): then it
    runs on over a second page, the table header repeated and the count and signature together."""
    ws.set_paper(9)  # A4
    ws.set_portrait()
    margins = {"left": 0.5, "right": 0.5, "top": 0.5, "bottom": 0.5}
    ws.set_margins(**margins)
    ws.center_horizontally()
    ws.print_area(0, 0, last, 3)
    width, height = grid.page_size(last)
    page_w = (8.27 - margins["left"] - margins["right"]) * 72
    page_h = (11.69 - margins["top"] - margins["bottom"] - 0.6) * 72  # less the header and footer
    scale = int(min(page_w / width, page_h / height) * 0.95 * 100)
    if scale > 100:
        ws.set_print_scale(min(scale, 400))
    elif scale >= least:
        ws.fit_to_pages(1, 1)
    else:
        ws.set_print_scale(least)
        ws.set_h_pagebreaks(_breaks(grid, last, page_h * 0.97 * 100 / least, header=header, footer=footer))
    ws.hide_gridlines(2)
    ws.activate()
    ws.set_first_sheet()
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})


def _breaks(grid: _Grid, last: int, room: float, *, header: int, footer: int) -> list[int]:
    """The rows that begin a new page (``room`` points a page at 100 %): whole rows, the repeated
    table header on every later page, and the rows from ``footer`` (count, signature) kept on one."""
    breaks: list[int] = []
    used = 0.0
    for row in range(last + 1):
        h = grid.heights.get(row, 15.0)
        if used + h > room and row > header + 1:
            at = footer if footer < row <= last and footer > (breaks[-1] if breaks else 0) else row
            breaks.append(at)
            used = grid.heights.get(header, 15.0) + sum(grid.heights.get(r, 15.0) for r in range(at, row + 1))
        else:
            used += h
    return breaks


def _write_meta(wb: xlsxwriter.Workbook, cfg: Mapping[str, Any], spec: FormSpec, defs: Definitions) -> None:
    """The hidden, protected sheet that says which commune, village and period the form is for."""
    meta = wb.add_worksheet(cfg["meta_sheet"])
    meta.set_column("A:A", 22)
    meta.set_column("B:B", 40)
    meta.write_string(0, 0, cfg.get("meta_title", ""))
    entries = {
        "generator": cfg["generator"],
        "form_version": str(cfg["version"]),
        "definitions_version": defs.version,
        "toolkit_version": __version__,
        "commune_code": spec.commune_code,
        "commune_name": spec.commune_name,
        "village_code": spec.village_code,
        "village_name": spec.village_name,
        "period": spec.period,
        "form_id": spec.form_id,
        "created_at": spec.created_at.isoformat(sep=" "),
    }
    for r, key in enumerate(META_KEYS, start=2):
        meta.write_string(r, 0, key)
        meta.write_string(r, 1, str(entries[key]))
    meta.protect("")
    meta.hide()


def _write_value(ws, row: int, col: int, value: Any, fmt) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, (dt.date, dt.datetime)):
        ws.write_datetime(row, col, value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _count(values: Mapping[str, Any], inputs: list[InputSpec]) -> int:
    return sum(1 for i in inputs if i.type == "int" and isinstance(values.get(i.key), (int, float)))


def fill_form(path: str | Path, values: Mapping[str, Any], target: str | Path | None = None) -> Path:
    """Type ``values`` (by key) into a form's named input cells and save it, as a village
    head's spreadsheet program would (the demo, the tests and benchmarks use it)."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for key, value in values.items():
        if key in wb.defined_names and value is not None:
            (sheet, ref), = wb.defined_names[key].destinations
            wb[sheet][ref.replace("$", "")] = value
    out = Path(target or path)
    wb.save(out)
    return out
