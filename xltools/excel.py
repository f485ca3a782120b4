"""The Excel front end: the handlers behind the dashboard buttons (xlwings).

The only module that imports xlwings. Each handler takes the calling book
(``xw.Book.caller()`` when a button runs it; any ``xw.Book`` from Python or a
test), reads every table of the book in one call per sheet, builds the same
``CommuneBook`` the file reader builds, calls the library function of the verb of
the same name, writes the result back (the Kiểm tra or Tổng hợp sheet, cell
highlights, dashboard status cells, a Nhật ký row) and shows a short Vietnamese
message box. An error never becomes a Python traceback dialog: it becomes a
message box.

    Button (VBA Sub)           handler            library function
    KiemTra                    validate()         validation.validate_book
    TaoPhieu                   make_forms()       verbs.forms.make_forms
    NhapBaoCao                 import_reports()   verbs.importing.import_reports
    TongHop                    aggregate()        aggregation.aggregate_book
    XuatBaoCao                 export()           verbs.export.export

Validation and aggregation run on the frames read from the open book, without a
file. The verbs that work on files (forms, import, export) get a snapshot of the
open book written to a temporary .xlsx (so a workbook open in Excel, whose
unsaved edits count, is never written behind Excel's back); what import changed
in that snapshot is written back into the open book, table by table.
Folders (inbox, outbox, forms) come from the settings, resolved next to the
workbook; Vietnamese folder and file names work.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import xlwings as xw

from .core import messages
from .core.book import CommuneBook
from .core.definitions import Definitions, Sheet, get_definitions
from .core.errors import InputError, WorkbookError, XltoolsError
from .core.frames import ROW, column_index, column_letter, records
from .core.periods import Period
from .core.reports import reported_text, village_states
from .core.sheetrows import grid
from .core.text import clean, header_key
from .core.validation.render import FIRST_ISSUE_ROW, listed_cells
from .io.files import current_user
from .io.reader import book_from_grids, read_workbook
from .io.writer import cell_value, write_workbook
from .io.xlsm import buttons

MAX_COLOR_CELLS = 10_000  # xlwings' Range.set_colors limit per call
MAX_LISTED = 8  # rejected files named in a message box
MAX_LINKS = 500  # issues of Kiểm tra that get a hyperlink to their cell (one call each)
STAMP = "%d/%m/%Y %H:%M"


# ---------------------------------------------------------------------------- the handlers
def validate(book: xw.Book | None = None) -> str:
    """Kiểm tra dữ liệu: validate the open book, list issues on Kiểm tra, highlight their cells."""
    return _run("validate", book, _validate)


def make_forms(book: xw.Book | None = None, *, folder: str | Path | None = None) -> str:
    """Tạo phiếu báo cáo thôn: one form per active village for the current period."""
    return _run("make_forms", book, _make_forms, folder)


def import_reports(book: xw.Book | None = None, *, folder: str | Path | None = None) -> str:
    """Nhập báo cáo thôn: import the filled forms of the inbox folder into the open book."""
    return _run("import_reports", book, _import_reports, folder)


def aggregate(book: xw.Book | None = None) -> str:
    """Tổng hợp: aggregate the current period and write the Tổng hợp sheet."""
    return _run("aggregate", book, _aggregate)


def export(book: xw.Book | None = None, *, folder: str | Path | None = None) -> str:
    """Xuất báo cáo gửi cấp trên: write the submission (.xlsx) to the outbox folder."""
    return _run("export", book, _export, folder)


# ---------------------------------------------------------------------------- running one
def _run(verb: str, book: xw.Book | None, work: Callable[..., str], *args: Any) -> str:
    """Run ``work`` on the session; every failure ends in a Vietnamese message box."""
    title = messages.text("excel_title")
    try:
        book = book if book is not None else xw.Book.caller()
    except Exception as exc:  # started outside Excel: nothing to show a box in
        raise WorkbookError("excel_no_caller", reason=str(exc)) from None
    session = None
    try:
        session = Session(book)
        text = work(session, *args)
        mode = "info"
    except XltoolsError as err:
        text, mode = messages.text("excel_failed", action=_caption(verb), error=err.vi), "critical"
    except Exception as exc:  # noqa: BLE001 - a button must never show a traceback
        text = messages.text("excel_unexpected", action=_caption(verb), error=f"{type(exc).__name__}: {exc}")
        mode = "critical"
    if mode == "critical" and session is not None:
        with contextlib.suppress(Exception):
            session.finish(verb, messages.text("excel_result_failed"), text, status=None)
    with contextlib.suppress(Exception):
        book.app.alert(text, title, mode=mode)
    return text


def _caption(verb: str) -> str:
    """The button's Vietnamese caption of a verb (the verb itself if buttons.toml is unreadable)."""
    try:
        return next((b.caption for b in buttons() if b.verb == verb), verb)
    except Exception:  # noqa: BLE001 - used while reporting another error
        return verb


class Session:
    """The calling book, its sheets matched to the definitions, read once."""

    def __init__(self, book: xw.Book, defs: Definitions | None = None) -> None:
        self.book = book
        self.defs = defs or get_definitions()
        self.sheets = {header_key(s.name): s for s in book.sheets}
        self._grids: dict[str, list[list[Any]]] = {}
        self._commune: CommuneBook | None = None
        self._appended: dict[str, int] = {}  # rows this session added below a table

    # -- reading -------------------------------------------------------------------
    def sheet(self, key: str, required: bool = True):
        name = self.defs.sheet(key).name
        found = self.sheets.get(header_key(name))
        if found is None and required:
            raise WorkbookError("missing_sheet", file=self.book.name, sheet=name, major=self.defs.major)
        return found

    def grid(self, key: str) -> list[list[Any]]:
        """The sheet's values from A1 to the end of its used range, in one call."""
        if key not in self._grids:
            self._grids[key] = read_grid(self.sheet(key))
        return self._grids[key]

    def commune(self) -> CommuneBook:
        """The open book as the CommuneBook the file reader would build (never strict).

        A book that is not a commune workbook of this major version is refused as
        ``xltools validate`` refuses the file (WorkbookError: one message box).
        """
        from .core.validation.structure import refuse_foreign

        if self._commune is None:
            book = book_from_grids(
                {s.key: self.grid(s.key) if self.sheet(s.key, required=False) else None for s in self.defs.table_sheets},
                self.defs, self.book.name, path=self.path,
            )
            refuse_foreign(book)
            self._commune = book
        return self._commune

    @property
    def path(self) -> Path:
        return Path(self.book.fullname)

    @property
    def folder(self) -> Path:
        """The folder of the workbook (relative settings folders are resolved there)."""
        full = str(self.book.fullname)
        if "://" in full:
            raise WorkbookError("excel_cloud_path", file=self.book.name)
        path = Path(full)
        return path.parent if path.is_absolute() else Path.cwd()

    def period(self) -> Period:
        value = self.commune().settings.get("current_period")
        if not value:
            raise InputError("excel_no_period", label=self.defs.setting("current_period").label)
        return Period.parse(str(value))

    def setting_folder(self, key: str, given: str | Path | None = None) -> Path:
        if given is not None:
            return Path(given)
        value = clean(str(self.commune().settings.get(key) or ""))
        if not value:
            raise InputError("excel_no_folder", label=self.defs.setting(key).label)
        path = Path(value)
        return path if path.is_absolute() else self.folder / path

    # -- a snapshot file for the verbs that work on files ---------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Path]:
        """The open book written to a temporary .xlsx (the file-based verbs' input)."""
        cb = self.commune()
        with tempfile.TemporaryDirectory(prefix="xltools-excel-") as tmp:
            path = Path(tmp) / (Path(self.book.name).stem + ".xlsx")
            tables = {k: v for k, v in cb.tables.items() if k != "settings"}
            write_workbook(path, tables, cb.settings, self.defs)
            yield path

    # -- writing -------------------------------------------------------------------
    def write_grid(self, key: str, rows: list[list[Any]], top: int = 1) -> None:
        """Replace a free-form sheet (Kiểm tra, Tổng hợp) with ``rows`` in one call."""
        ws = self.sheet(key)
        width = max((len(r) for r in rows), default=0)
        with unprotected(ws):
            ws.clear()  # values, fills and the hyperlinks of the previous run
            if rows and width:
                block = [list(r) + [None] * (width - len(r)) for r in rows]
                ws.range((top, 1)).value = [[_excel_value(v) for v in r] for r in block]

    def replace_table(self, key: str, frame: pd.DataFrame) -> None:
        """Replace the data rows of a table with ``frame``'s rows (one write, table resized)."""
        sheet, ws, header, positions, first, last = self._layout(key)
        old_rows = self.table_body_rows(key, header)
        grid = self.grid(key)
        out = []
        for i, item in enumerate(records(frame)):
            current = grid[header + i] if header + i < len(grid) else []
            row = [current[c] if c < len(current) else None for c in range(first, last + 1)]
            for k, c in positions.items():
                col = sheet.column(k)
                if col.type == "formula":
                    continue
                row[c - first] = _excel_value(cell_value(item.get(k)))
            out.append(row)
        with unprotected(ws):
            if out:
                ws.range((header + 1, first + 1)).value = out
            if old_rows > len(out):
                ws.range((header + 1 + len(out), first + 1), (header + old_rows, last + 1)).clear_contents()
            self._resize_table(ws, sheet, header, first, last, max(len(out), 1))

    def append_rows(self, key: str, rows: list[dict[str, Any]]) -> None:
        """Add rows after the table's last non-blank row (one write), growing the table."""
        if not rows:
            return
        sheet, ws, header, positions, first, last = self._layout(key)
        frame = self.commune().tables.get(key)
        last_filled = int(frame[ROW].max()) if frame is not None and len(frame) else header
        last_filled += self._appended.get(key, 0)
        block = []
        for item in rows:
            row: list[Any] = [None] * (last - first + 1)
            for k, c in positions.items():
                row[c - first] = _excel_value(cell_value(item.get(k)))
            block.append(row)
        with unprotected(ws):
            ws.range((last_filled + 1, first + 1)).value = block
            self._resize_table(ws, sheet, header, first, last, max(last_filled + len(block) - header, 1), grow_only=True)
        self._appended[key] = self._appended.get(key, 0) + len(block)

    def _layout(self, key: str):
        """Sheet definition, worksheet, header row, column key -> 0-based index, first and last index."""
        sheet = self.defs.sheet(key)
        cb = self.commune()
        letters = cb.letters.get(key) or {c.key: column_letter(i) for i, c in enumerate(sheet.columns)}
        positions = {k: column_index(letter) for k, letter in letters.items()}
        return sheet, self.sheet(key), cb.header_rows.get(key) or 1, positions, min(positions.values()), max(positions.values())

    def table_body_rows(self, key: str, header: int) -> int:
        grid = self.grid(key)
        ws = self.sheet(key)
        table = _table(ws, self.defs.sheet(key))
        if table is not None:
            rng = table.range
            return max(rng.last_cell.row - header, 0)
        return max(len(grid) - header, 0)

    def _resize_table(self, ws, sheet: Sheet, header: int, first: int, last: int, body: int, grow_only: bool = False) -> None:
        table = _table(ws, sheet)
        if table is None:
            return
        end = header + body
        if grow_only and table.range.last_cell.row >= end:
            return
        table.resize(ws.range((header, first + 1), (end, last + 1)))

    def set_fields(self, values: dict[str, Any]) -> None:
        """Write dashboard status cells (fields of the dashboard sheet, by key)."""
        sheet = self.defs.sheet("dashboard")
        ws = self.sheet("dashboard")
        with unprotected(ws):
            for f in sheet.fields:
                if f.key in values:
                    ws.range(f.cell).value = _excel_value(values[f.key])

    def finish(self, verb: str, result: str, detail: str, status: dict[str, Any] | None = None) -> None:
        """Dashboard status cells and one Nhật ký row for the action just done."""
        now = dt.datetime.now().replace(microsecond=0)
        caption = _caption(verb)
        fields = {"last_action": messages.text("excel_last_action", action=caption, time=now.strftime(STAMP), result=result)}
        fields.update(status or {})
        self.set_fields(fields)
        self.append_rows("log", [{
            "time": now, "action": caption, "file": self.book.name, "sha256": None,
            "result": result, "detail": detail[:1000], "user": current_user(),
        }])


# ---------------------------------------------------------------------------- the verbs
def _validate(session: Session) -> str:
    from .core.validation import validate_book
    from .core.validation.render import checks_rows

    cb = session.commune()
    period = cb.settings.get("current_period") or None
    report = validate_book(cb, period)
    config = session.defs.extra("rules").get("checks_sheet", {})
    old = listed_cells(session.grid("checks"), session.defs)
    now = dt.datetime.now().replace(microsecond=0)
    session.write_grid("checks", grid(checks_rows(report, session.defs, now)))
    link_cells(session, report.issues, config)
    highlight(session, old, report.issues, config)
    counts = dict(errors=report.errors, warnings=report.warnings, infos=report.infos)
    text = messages.text("excel_validated", **counts)
    status = {
        "validation": messages.text("validate_dashboard", errors=report.errors, warnings=report.warnings,
                                    time=now.strftime(STAMP)),
        **_reported_status(session),
    }
    session.finish("validate", messages.text("excel_result_ok") if report.ok else messages.text("excel_result_errors"), text, status)
    return text + ("" if report.ok else " " + messages.text("excel_see_checks", sheet=session.defs.sheet("checks").name))


def _aggregate(session: Session) -> str:
    from .core.aggregation import aggregate_book, summary_rows

    cb = session.commune()
    period = session.period()
    result = aggregate_book(cb, period)
    now = dt.datetime.now().replace(microsecond=0)
    session.write_grid("summary", grid(summary_rows(result, session.defs, now)))
    text = messages.text("excel_aggregated", period=period.label, sheet=session.defs.sheet("summary").name)
    session.finish("aggregate", messages.text("excel_result_ok"), text, {"current_period": str(period), **_reported_status(session)})
    return text


def _make_forms(session: Session, folder: str | Path | None) -> str:
    from .verbs.forms import default_folder
    from .verbs.forms import make_forms as make

    period = session.period()
    # beside the open book, not beside the snapshot the verb reads
    out_dir = Path(folder) if folder else default_folder(session.folder / session.book.name, period, session.defs)
    with session.snapshot() as path:
        made = make(path, str(period), out_dir, defs=session.defs)
    text = messages.text("excel_forms_made", count=len(made), period=period.label, folder=str(out_dir))
    session.finish("make_forms", messages.text("excel_result_ok"), text)
    return text


def _import_reports(session: Session, folder: str | Path | None) -> str:
    from .verbs.importing import import_reports as run_import

    inbox = session.setting_folder("inbox_dir", folder)
    if not inbox.is_dir():
        raise InputError("excel_folder_missing", folder=str(inbox))
    log_before = len(session.commune().tables["log"])
    with session.snapshot() as path:
        summary = run_import(path, [inbox], defs=session.defs)
        after = read_workbook(path, session.defs, strict=False, sheets=["reports", "history", "log"])
    # What import changed in the snapshot goes back into the open book, table by table.
    for key in ("reports", "history"):
        session.replace_table(key, after.tables[key])
    session.append_rows("log", records(after.tables["log"])[log_before:])
    lines = [summary.counts_text(session.defs)]
    rejected = summary.rejected
    lines += [f"- {f.file}: {f.detail()}" for f in rejected[:MAX_LISTED]]
    if len(rejected) > MAX_LISTED:
        lines.append(messages.text("excel_more", count=len(rejected) - MAX_LISTED))
    text = messages.text("excel_imported", folder=str(inbox)) + "\n" + "\n".join(lines)
    status = _reported_status(session, after.tables["reports"])
    session.finish("import_reports", messages.text("excel_result_ok"), " ".join(lines), status)
    return text


def _export(session: Session, folder: str | Path | None) -> str:
    from .verbs.export import ExportRefused
    from .verbs.export import export as run_export

    period = session.period()
    outbox = session.setting_folder("outbox_dir", folder)
    outbox.mkdir(parents=True, exist_ok=True)
    with session.snapshot() as path:
        try:
            target = run_export(path, str(period), outbox, defs=session.defs)
        except ExportRefused as refused:  # the command's advice (--force) means nothing on a button
            raise InputError("excel_export_refused", file=session.book.name, count=refused.params.get("count"),
                             examples=refused.params.get("examples"), button=_caption("validate")) from None
    text = messages.text("excel_exported", period=period.label, file=str(target))
    session.finish("export", messages.text("excel_result_ok"), text)
    return text


# ---------------------------------------------------------------------------- output sheets
def link_cells(session: Session, issues: list[Any], config: dict[str, Any]) -> None:
    """Hyperlink each listed cell address of Kiểm tra to its cell (as ``validate --write`` does)."""
    keys = [c["key"] for c in config.get("columns", [])]
    if "cell" not in keys:
        return
    column = keys.index("cell") + 1
    ws = session.sheet("checks")
    names = {key: ws.name for key, ws in session.sheets.items()}  # already keyed by header_key
    with unprotected(ws):
        for r, issue in enumerate(issues[:MAX_LINKS], start=FIRST_ISSUE_ROW):
            cell = _issue_cell(issue)
            target = names.get(header_key(issue.sheet))
            if not cell or not target:
                continue
            where = "'" + target.replace("'", "''") + "'!" + cell
            rng = ws.range((r, column))
            links = getattr(rng.api, "Hyperlinks", None)
            if links is not None:  # Excel (COM): an in-document link needs SubAddress
                links.Add(Anchor=rng.api, Address="", SubAddress=where, TextToDisplay=cell)
            else:
                rng.add_hyperlink("#" + where, cell)


# ---------------------------------------------------------------------------- highlights
def highlight(session: Session, old: list[tuple[str, str]], issues: list[Any], config: dict[str, Any]) -> None:
    """Clear the fills of the cells highlighted last time, fill the cells named now.

    One ``set_colors`` call per sheet (per band of at most 10,000 cells): cells not
    touched keep their fill (``...``).
    """
    fills = {sev: config.get(f"{sev}_fill", "") for sev in ("error", "warning", "info")}
    rank = {"error": 0, "warning": 1, "info": 2}
    wanted: dict[str, dict[tuple[int, int], str | None]] = {}
    for sheet, cell in old:
        pos = _split_cell(cell)
        if pos:
            wanted.setdefault(header_key(sheet), {})[pos] = None
    chosen: dict[tuple[str, tuple[int, int]], str] = {}
    for issue in issues:
        fill = fills.get(issue.severity)
        pos = _split_cell(_issue_cell(issue))
        if not fill or not pos:
            continue
        key = (header_key(issue.sheet), pos)
        if key in chosen and rank[chosen[key]] <= rank.get(issue.severity, 9):
            continue
        chosen[key] = issue.severity
        wanted.setdefault(key[0], {})[pos] = "#" + fill.lstrip("#")
    for sheet_key, cells in wanted.items():
        ws = session.sheets.get(sheet_key)
        if ws is None or not cells:
            continue
        with unprotected(ws):
            for (top, left, bottom, right), matrix in _color_bands(cells):
                block = ws.range((top, left), (bottom, right))
                if hasattr(block, "set_colors"):  # xlwings >= 0.37.5
                    block.set_colors(matrix)
                    continue
                for (r, c), colour in cells.items():  # older xlwings (Python 3.10 pin): cell by cell
                    if top <= r <= bottom:
                        ws.range((r, c)).color = colour


def _color_bands(cells: dict[tuple[int, int], str | None]):
    """Bounding blocks of the cells (row bands of at most MAX_COLOR_CELLS) with their colour matrices."""
    rows = sorted({r for r, _ in cells})
    left = min(c for _, c in cells)
    right = max(c for _, c in cells)
    width = right - left + 1
    per_band = max(1, MAX_COLOR_CELLS // width)
    start = 0
    while start < len(rows):
        top = rows[start]
        bottom = top
        end = start
        while end < len(rows) and rows[end] - top < per_band:
            bottom = rows[end]
            end += 1
        matrix = [[cells.get((r, c), ...) for c in range(left, right + 1)] for r in range(top, bottom + 1)]
        yield (top, left, bottom, right), matrix
        start = end


# ---------------------------------------------------------------------------- helpers
def read_grid(ws) -> list[list[Any]]:
    """Values from A1 to the last cell of the used range: one read."""
    last = ws.used_range.last_cell
    values = ws.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [list(r) for r in values]


@contextlib.contextmanager
def unprotected(ws) -> Iterator[None]:
    """Lift a sheet's (password-less) protection while the toolkit writes, then restore it.

    Only Excel (COM) has protection to lift; other engines have nothing to do.
    """
    api = getattr(ws, "api", None)
    protected = False
    try:
        protected = bool(api.ProtectContents)
    except Exception:  # noqa: BLE001 - remote engines: the api is a dict
        protected = False
    if protected:
        api.Unprotect("")
    try:
        yield
    finally:
        if protected:
            # Password, DrawingObjects, Contents, Scenarios, UserInterfaceOnly, AllowFormattingCells,
            # AllowFormattingColumns, AllowFormattingRows, AllowInsertingColumns, AllowInsertingRows,
            # AllowInsertingHyperlinks, AllowDeletingColumns, AllowDeletingRows, AllowSorting, AllowFiltering
            api.Protect("", True, True, True, False, False, True, False, False, False, False, False, False, True, True)


def _table(ws, sheet: Sheet):
    try:
        tables = list(ws.tables)
    except Exception:  # noqa: BLE001
        return None
    for t in tables:
        if t.name == sheet.table:
            return t
    return tables[0] if tables else None


def _reported_status(session: Session, reports: pd.DataFrame | None = None) -> dict[str, Any]:
    """'reported/expected' villages for the current period (dashboard), as ``xltools import`` writes it."""
    cb = session.commune()
    period = cb.settings.get("current_period")
    villages = cb.tables.get("villages")
    reports = cb.tables.get("reports") if reports is None else reports
    if not period or villages is None:
        return {}
    return {"villages_reported": reported_text(reports, village_states(villages), str(period)), "current_period": str(period)}


def _issue_cell(issue: Any) -> str:
    cell = getattr(issue, "cell", "") or ""
    if not cell and getattr(issue, "column", "") and getattr(issue, "row", None):
        cell = f"{issue.column}{issue.row}"
    return str(cell)


def _split_cell(cell: str) -> tuple[int, int] | None:
    letters = "".join(ch for ch in cell if ch.isalpha()).upper()
    digits = "".join(ch for ch in cell if ch.isdigit())
    if not letters or not digits or cell.strip().upper() != letters + digits:
        return None
    return int(digits), column_index(letters) + 1


def _excel_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


