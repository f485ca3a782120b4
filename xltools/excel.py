"""The Excel front end: the handlers behind the dashboard buttons (xlwings).

The only module that imports xlwings. Each handler takes the calling book
(``xw.Book.caller()`` when a button runs it; any ``xw.Book`` from Python or a
test), reads every table of the book in one call per sheet, builds the same
``CommuneBook`` the file reader builds (from the raw values the book holds, with its
Excel Tables' ranges), computes the same ``WorkbookChange`` as the command (in
``xltools.core.outputs``) and applies it with the xlwings sink below (one write per
block), then shows a short Vietnamese message box. An error never becomes a Python
traceback dialog: it becomes a message box.

    Button (VBA Sub)           handler            library function
    KiemTra                    validate()         validation.validate_book
    TaoPhieu                   make_forms()       verbs.forms.make_forms
    NhapBaoCao                 import_reports()   verbs.importing.import_reports
    TongHop                    aggregate()        aggregation.aggregate_book
    XuatBaoCao                 export()           verbs.export.export

Every verb runs on the book read from the open book (its unsaved edits count, its
values raw as typed), so a button refuses exactly when the command refuses; import
writes only the cells and rows it changed.
Folders (inbox, outbox, forms) come from the settings, resolved next to the
workbook; Vietnamese folder and file names work.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import operator
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import xlwings as xw

from .core import messages
from .core.book import CommuneBook, TableRange
from .core.change import LINK_COLOUR, TEXT_COLOUR, TEXT_FORMAT, Link, OutputSheet, TableChange, WorkbookChange, now
from .core.definitions import Definitions, Sheet, get_definitions, report_defs
from .core.errors import InputError, WorkbookError, WriteError, XltoolsError
from .core.frames import column_index, column_letter
from .core.outputs import action_change, summary_change, validation_change
from .core.periods import Period
from .core.sheetrows import SheetRow
from .core.text import header_key, is_blank
from .core.validation.render import highlighted_cells
from .core.validation.structure import refuse_foreign
from .io.files import backup_target, current_user
from .io.reader import book_from_grids
from .io.writer import cell_value, column_number_format, formula_for_row
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
    """Xuất báo cáo gửi cấp trên: write the submission (.xlsx) and its Word draft to the outbox folder."""
    return _run("export", book, _export, folder)


def receive(book: xw.Book | None = None, *, folder: str | Path | None = None) -> str:
    """Nhận phản hồi cấp trên: receive the level above's feedback files of the feedback folder."""
    return _run("receive", book, _receive, folder)


def addin_run(verb: str, book: xw.Book | None = None) -> str:
    """A ribbon button of the add-in xltools.xlam: the handler ``verb`` on the ACTIVE workbook
    (in an add-in ``Book.caller()`` is the add-in itself), refused in one message box when that
    book is not a commune workbook (most of its table sheets missing, as ``refuse_foreign``)."""
    if verb not in {b.verb for b in buttons()}:
        raise WorkbookError("addin_unknown_button", verb=verb)
    title = messages.text("excel_title")
    book = book if book is not None else _active_book()
    if book is None:
        return _no_workbook()
    defs = get_definitions()
    names = {header_key(s.name) for s in book.sheets}
    missing = [s.name for s in defs.table_sheets if header_key(s.name) not in names]
    if len(missing) * 2 > len(defs.table_sheets):
        text = messages.text("addin_not_commune", file=book.name, action=_caption(verb), tab=messages.text("addin_tab"))
        tell(book, text, title, "critical")
        return text
    return globals()[verb](book)


def send_feedback(book: xw.Book | None = None, *, folder: str | Path | None = None) -> str:
    """Gửi phản hồi cho đơn vị (the level above): save the rollup workbook with the clerk's
    decisions, then write one feedback file per unit beside it (``xltools feedback``)."""
    return _run_rollup("send_feedback", book, _send_feedback, folder)


def rollup_folder(book: xw.Book | None = None, *, folder: str | Path | None = None,
                  period: str | None = None) -> str:
    """Tổng hợp báo cáo các đơn vị (the level above): the submissions of a folder the clerk picks
    rolled up (``xltools rollup``), the unit kept beside the folder, the rollup opened."""
    return _run_rollup("rollup_folder", book, _rollup_folder, folder, period, needs_rollup=False)


def addin_rollup_run(verb: str, book: xw.Book | None = None) -> str:
    """A ribbon button of the add-in's group for the level above: ``verb`` on the ACTIVE
    workbook (a rollup workbook for the buttons that need one)."""
    if verb not in {b.verb for b in get_definitions().rollup_buttons}:
        raise WorkbookError("addin_unknown_button", verb=verb)
    return globals()[verb](book if book is not None else _active_book())


def _active_book() -> xw.Book | None:
    """Excel's active workbook (an add-in's buttons work on it), None when none is open."""
    try:
        return xw.books.active
    except Exception:  # noqa: BLE001 - no workbook open
        return None


def _no_workbook() -> str:
    """No workbook open: one message box in the running Excel."""
    text = messages.text("addin_no_workbook", tab=messages.text("addin_tab"))
    with contextlib.suppress(Exception):
        app = xw.apps.active
        if app is not None:
            app.alert(text, messages.text("excel_title"), mode="critical")
    return text


def _run_rollup(verb: str, book: xw.Book | None, work: Callable[..., tuple[str, str]], *args: Any,
                needs_rollup: bool = True) -> str:
    """As ``_run`` for the level above: no commune session, a message box for every outcome.
    ``needs_rollup``: the active book must be a rollup workbook (else the book, if any, only
    gives the Excel and the folder to start from)."""
    from .io.review import review_words

    title = messages.text("excel_title")
    caption = next((b.caption for b in get_definitions().rollup_buttons if b.verb == verb), verb)
    if book is None:
        book = _active_book()  # an add-in's button: the caller is the add-in, the rollup is active
        if book is None and needs_rollup:
            return _no_workbook()
    app = book.app if book is not None else xw.apps.active
    com_status_bar(app, messages.text("excel_working", action=caption))
    mode = "critical"
    try:
        decisions = review_words(get_definitions())["decisions_sheet"]
        if book is None or not needs_rollup:
            text, mode = work(app, book, *args)
        elif header_key(decisions) not in {header_key(s.name) for s in book.sheets}:
            text = messages.text("addin_not_rollup", action=caption, file=book.name, sheet=decisions,
                                 tab=messages.text("addin_tab"))
        else:
            text, mode = work(app, book, *args)
    except XltoolsError as err:
        text = messages.text("excel_failed", action=caption, error=err.vi)
    except Exception as exc:  # noqa: BLE001 - a button must never show a traceback
        text = messages.text("excel_unexpected", action=caption, error=f"{type(exc).__name__}: {exc}")
    com_status_bar(app, None)
    if book is not None:
        tell(book, text, title, mode)
    elif app is not None:
        with contextlib.suppress(Exception):
            app.alert(text, title, mode=mode)
    return text


def _rollup_folder(app, book: xw.Book | None, folder: str | Path | None, period: str | None) -> tuple[str, str]:
    from .core.submission import submission_periods
    from .verbs.new import load_settings_file
    from .verbs.rollup import rollup

    defs = get_definitions()
    roll = report_defs(defs).get("rollup", {})
    title = messages.text("excel_title")
    cancelled = messages.text("excel_rollup_cancelled"), "info"
    start = Path(str(book.fullname)).parent if book is not None and Path(str(book.fullname)).is_absolute() else Path.cwd()
    chosen = Path(folder) if folder else com_pick_folder(app, messages.text("excel_rollup_pick"), start)
    if chosen is None:
        return cancelled
    periods = submission_periods([p.name for p in chosen.iterdir() if p.is_file()], defs)
    if not periods:
        return messages.text("excel_rollup_no_files", folder=str(chosen)), "critical"
    period = period or com_input(app, messages.text("excel_rollup_period", found=", ".join(periods[:4])), title,
                                 periods[0])
    if not period:
        return cancelled
    unit_file = chosen.parent / str(roll.get("unit_file", "don_vi_tong_hop.toml"))
    if unit_file.is_file():
        unit = load_settings_file(unit_file)
    else:
        asked = com_input(app, messages.text("excel_rollup_unit_name", file=unit_file.name), title, "")
        if not asked:
            return cancelled
        unit = {"unit_name": asked, "unit_code": com_input(app, messages.text("excel_rollup_unit_code"), title, "") or ""}
        write_unit_file(unit_file, unit)
    name = str(unit.pop("unit_name", "") or "")
    if not name:
        raise InputError("rollup_unit_file", file=str(unit_file))
    code = str(unit.pop("unit_code", "") or "") or None
    expected = unit.pop("expected", None)
    result = rollup([chosen], period, chosen.parent / str(roll.get("out_dir", "Tong_hop")), unit_name=name,
                    unit_code=code, expected=chosen.parent / str(expected) if expected else None, settings=unit,
                    docx=True)
    com_open(app, result.path)  # the clerk's next step is its Kiểm tra and Quyết định sheets
    lines = result.summary_lines()
    return "\n".join([messages.text("excel_rollup_done", period=period, file=str(result.path)),
                      *lines[:MAX_LISTED + 1]]), "info"


def write_unit_file(path: Path, unit: dict[str, Any]) -> None:
    """The rolling-up unit's file (TOML) the rollup button reads on every later click."""
    from .io.files import write_atomic

    lines = [messages.text("rollup_unit_file_header")]
    lines += [f"{k} = {json.dumps(str(v), ensure_ascii=False)}" for k, v in unit.items()]
    write_atomic(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))


def _send_feedback(app, book: xw.Book, folder: str | Path | None) -> tuple[str, str]:
    from .io.review import review_words
    from .verbs.feedback import feedback

    com_save(book)  # the clerk's decisions in Quyết định are read from the file
    path = Path(str(book.fullname))
    out = Path(folder) if folder else path.parent / review_words(get_definitions())["feedback_out_dir"]
    result = feedback(path, out)
    lines = result.summary_lines()
    listed = lines[1:MAX_LISTED + 1]
    if len(lines) - 1 > MAX_LISTED:
        listed.append(messages.text("excel_more", count=len(lines) - 1 - MAX_LISTED))
    return "\n".join([messages.text("excel_feedback_sent", folder=str(out)), lines[0], *(x.strip() for x in listed)]), "info"


# ---------------------------------------------------------------------------- running one
LIVE_MARK = ".xltools-live"  # beside a copy of the workbook: the buttons write their message to LIVE_RESULTS
LIVE_RESULTS = ".xltools-live-results.jsonl"

def _run(verb: str, book: xw.Book | None, work: Callable[..., str], *args: Any) -> str:
    """Run ``work`` on the session; every failure ends in a Vietnamese message box."""
    title = messages.text("excel_title")
    try:
        book = book if book is not None else xw.Book.caller()
    except Exception as exc:  # noqa: BLE001 - the book the button was clicked in cannot be found
        reason = str(exc) or type(exc).__name__
        if started_by_a_button():
            lost = messages.text("excel_caller_lost", reason=reason)
            if show_message_box(lost, title):
                return lost  # told in a box; exit 0 so that xlwings' VBA adds no box of its own
        raise WorkbookError("excel_no_caller", reason=reason) from None
    session = None
    com_status_bar(book.app, messages.text("excel_working", action=_caption(verb)))
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
            session.finish(verb, messages.text("excel_result_failed"), text)
    com_status_bar(book.app, None)
    tell(book, text, title, mode)
    return text


def tell(book: xw.Book, text: str, title: str, mode: str) -> None:
    """The button's message box; during ``xltools doctor --live`` (a marker file beside the book,
    Excel hidden, nobody to click OK) the message goes into a file beside it instead."""
    try:
        folder = Path(str(book.fullname)).parent
        live = (folder / LIVE_MARK).is_file()
    except Exception:  # noqa: BLE001 - no path (a new book): a box
        live = False
    if live:
        with contextlib.suppress(OSError), open(folder / LIVE_RESULTS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"mode": mode, "text": text}, ensure_ascii=False) + "\n")
        return
    with contextlib.suppress(Exception):
        book.app.alert(text, title, mode=mode)


def started_by_a_button(argv: list[str] | None = None) -> bool:
    """xlwings' RunPython starts Python with ``--from_xl=1`` (and the book, app and window)."""
    return "--from_xl=1" in (sys.argv if argv is None else argv)


def show_message_box(text: str, title: str) -> bool:
    """A Windows message box without Excel (the book that called cannot be reached): True if shown."""
    if sys.platform != "win32":
        return False
    import ctypes

    try:
        ctypes.windll.user32.MessageBoxW(0, text, title, 0x10 | 0x40000)  # MB_ICONERROR | MB_TOPMOST
    except Exception:  # noqa: BLE001 - no box: the caller raises instead
        return False
    return True


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
        """The open book as the CommuneBook the file reader would build (never strict), from
        the values the book really holds (raw, as typed), with its Excel Tables' ranges.

        A book that is not a commune workbook of this major version is refused as
        ``xltools validate`` refuses the file (WorkbookError: one message box).
        """
        if self._commune is None:
            present = {s.key: self.sheet(s.key, required=False) for s in self.defs.table_sheets}
            book = book_from_grids(
                {k: self.grid(k) if ws is not None else None for k, ws in present.items()},
                self.defs, self.book.name, path=self.path,
                tables={k: table_ranges(ws) for k, ws in present.items() if ws is not None},
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
        return self.commune().folder_setting(key, self.folder)

    # -- writing -------------------------------------------------------------------
    def apply(self, change: WorkbookChange) -> None:
        """Write ``change`` into the open book (the xlwings sink)."""
        XlwingsSink(self).apply(change)

    def finish(self, verb: str, result: str, detail: str, fields: dict[str, Any] | None = None) -> None:
        """Dashboard status and one Nhật ký row for a button that wrote elsewhere (or failed)."""
        self.apply(action_change(self.commune(), action=_caption(verb), result=result, detail=detail,
                                 when=now(), user=current_user(), file=self.book.name, fields=fields))


# ---------------------------------------------------------------------------- the verbs
def _validate(session: Session) -> str:
    from .core.validation import validate_book

    cb = session.commune()
    report = validate_book(cb, cb.settings.get("current_period") or None)
    previous = highlighted_cells(session.grid("checks"), session.defs)
    session.apply(validation_change(cb, report, when=now(), user=current_user(), file=session.book.name,
                                    previous=previous))
    text = messages.text("excel_validated", errors=report.errors, warnings=report.warnings, infos=report.infos)
    return text + ("" if report.ok else " " + messages.text("excel_see_checks", sheet=session.defs.sheet("checks").name))


def _aggregate(session: Session) -> str:
    from .core.aggregation import aggregate_book

    cb = session.commune()
    period = session.period()
    result = aggregate_book(cb, str(period))
    session.apply(summary_change(cb, result, when=now(), user=current_user(), file=session.book.name))
    return messages.text("excel_aggregated", period=period.label, sheet=session.defs.sheet("summary").name)


def _make_forms(session: Session, folder: str | Path | None) -> str:
    from .verbs.forms import default_folder, make_forms_for_book

    period = session.period()
    out_dir = Path(folder) if folder else default_folder(session.folder / session.book.name, period, session.defs)
    # the villages and settings as the command reads them: strictly (a damaged table is refused)
    strict = book_from_grids({k: session.grid(k) for k in ("settings", "villages")}, session.defs,
                             session.book.name, path=session.path, strict=True)
    made = make_forms_for_book(strict, str(period), out_dir)
    text = messages.text("excel_forms_made", count=len(made), period=period.label, folder=str(out_dir))
    session.finish("make_forms", messages.text("excel_result_ok"), text)
    return text


def _import_reports(session: Session, folder: str | Path | None) -> str:
    from .verbs.importing import plan_import

    inbox = session.setting_folder("inbox_dir", folder)
    if not inbox.is_dir():
        raise InputError("excel_folder_missing", folder=str(inbox))
    summary, change = plan_import(session.commune(), [inbox], exclude=session.path.resolve())
    backup_open_book(session)  # what the import replaces stays in Sao_luu/
    session.apply(change)
    lines = [summary.counts_text(session.defs)]
    rejected = summary.rejected
    lines += [f"- {f.file}: {f.detail()}" for f in rejected[:MAX_LISTED]]
    if len(rejected) > MAX_LISTED:
        lines.append(messages.text("excel_more", count=len(rejected) - MAX_LISTED))
    return messages.text("excel_imported", folder=str(inbox)) + "\n" + "\n".join(lines)


def _receive(session: Session, folder: str | Path | None) -> str:
    from .verbs.receive import plan_receive

    inbox = session.setting_folder("feedback_dir", folder)
    if not inbox.is_dir():
        raise InputError("receive_folder_missing", folder=str(inbox), label=session.defs.setting("feedback_dir").label)
    previous = highlighted_cells(session.grid("checks"), session.defs)
    result, change = plan_receive(session.commune(), [inbox], previous=previous)
    if change is not None:
        backup_open_book(session)  # as an import: what the write changes stays in Sao_luu/
        session.apply(change)
    lines = result.summary_lines()
    listed = lines[1:MAX_LISTED + 1]
    if len(lines) - 1 > MAX_LISTED:
        listed.append(messages.text("excel_more", count=len(lines) - 1 - MAX_LISTED))
    return "\n".join([messages.text("excel_received", folder=str(inbox)), lines[0], *(line.strip() for line in listed)])


def _export(session: Session, folder: str | Path | None) -> str:
    from .verbs.export import ExportRefused, run_export

    period = session.period()
    outbox = session.setting_folder("outbox_dir", folder)
    outbox.mkdir(parents=True, exist_ok=True)

    def record(change: WorkbookChange) -> None:  # the number, register, Nhật ký: as the command writes them
        backup_open_book(session)
        session.apply(change)

    try:  # the open book as it is, so that the button refuses exactly when the command refuses
        done = run_export(session.commune(), str(period), outbox, sink=record, docx=True)  # the draft to finish in Word
    except ExportRefused as refused:  # the command's advice (--force) means nothing on a button
        raise InputError("excel_export_refused", file=session.book.name, count=refused.params.get("count"),
                         examples=refused.params.get("examples"), button=_caption("validate")) from None
    drafts = [messages.text("export_docx_written", file=str(done.docx))] if done.docx is not None else []
    return "\n".join([messages.text("excel_exported", period=period.label, file=str(done.path)), *drafts,
                      *done.lines()])


# ---------------------------------------------------------------------------- the xlwings sink
class XlwingsSink:
    """Apply a ``WorkbookChange`` to the open book with xlwings: one write per block.

    Works on every xlwings engine (Excel's COM, the remote engine of the tests). The calls
    that only Excel's COM has are the ``com_*`` functions below, and nothing else here
    reaches ``.api``. Every sheet written is remembered, so that a failure midway says
    which sheets were already written.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.defs = session.defs
        self.written: list[str] = []

    def apply(self, change: WorkbookChange) -> None:
        app = self.session.book.app
        # Every sheet the change writes is unprotected before the first write (a password set by
        # the officer stops here, with nothing written) and protected again afterwards exactly as
        # it was found (the same allowances).
        lifted = lift_protection(self._sheets_of(change), self.session.book.name)
        com_screen_updating(app, False)
        try:
            for tc in change.tables:
                if tc.updates or tc.appends:
                    self._table(tc)
            for key, last in change.grow.items():
                self._grow(key, last)
            self._fills(change.fills)
            for out in change.outputs:
                self._output(out)
            if change.fields:
                self._fields(change.fields)
        except XltoolsError:
            raise
        except Exception as exc:  # noqa: BLE001 - said with what was written, never as a traceback
            raise WorkbookError("excel_write_failed", file=self.session.book.name,
                                sheets=", ".join(f"“{s}”" for s in self.written) or "-",
                                reason=f"{type(exc).__name__}: {exc}") from None
        finally:
            restore_protection(lifted)
            com_screen_updating(app, True)

    def _sheets_of(self, change: WorkbookChange) -> list[Any]:
        """The book's sheets ``change`` writes into (an output sheet deleted by hand is added
        back unprotected, so it is not among them)."""
        keys = [tc.key for tc in change.tables if tc.updates or tc.appends] + list(change.grow)
        keys += [out.key for out in change.outputs] + (["dashboard"] if change.fields else [])
        found = [self.session.sheet(k, required=False) for k in keys]
        found += [self.session.sheets.get(header_key(sheet)) for sheet, _ in change.fills]
        unique: dict[str, Any] = {}
        for ws in found:
            if ws is not None:
                unique.setdefault(ws.name, ws)
        return list(unique.values())

    def _mark(self, ws) -> None:
        if ws.name not in self.written:
            self.written.append(ws.name)

    # -- tables ---------------------------------------------------------------------
    def _table(self, tc: TableChange) -> None:
        sheet = self.defs.sheet(tc.key)
        ws = self.session.sheet(tc.key)
        letters = tc.letters
        index = {k: column_index(v) for k, v in letters.items()}  # 0-based
        formats = {k: column_number_format(sheet.column(k), self.defs) for k in index}
        grid = self.session.grid(tc.key)
        for excel_row, values in sorted(tc.updates.items()):
            keys = sorted((k for k in values if k in index and sheet.column(k).type != "formula"),
                          key=index.__getitem__)
            for run in _runs([index[k] for k in keys]):
                by_index = {index[k]: k for k in keys}
                for c in run:
                    if formats[by_index[c]]:
                        ws.range((excel_row, c + 1)).number_format = formats[by_index[c]]
                ws.range((excel_row, run[0] + 1)).value = [
                    [_excel_value(cell_value(values[by_index[c]])) for c in run]]
        if tc.appends:
            first, last = min(index.values()), max(index.values())
            top = tc.first_free_row
            formula_at = {c for k, c in index.items() if sheet.column(k).type == "formula"}
            for r in range(top - 1, min(top - 1 + len(tc.appends), len(grid))):
                row = grid[r]
                for c in range(first, min(last + 1, len(row))):
                    if c not in formula_at and not is_blank(row[c]):  # never write into a cell that was not read
                        raise WriteError("sink_cell_not_empty", file=self.session.book.name, sheet=ws.name,
                                         cell=f"{column_letter(c)}{r + 1}")
            by_index = {c: k for k, c in index.items()}
            block = []
            for i, item in enumerate(tc.appends):
                line: list[Any] = [None] * (last - first + 1)
                for c, k in by_index.items():
                    col = sheet.column(k)
                    if col.type == "formula":
                        line[c - first] = formula_for_row(col.formula, sheet, top + i, letters) if col.formula else None
                    else:
                        line[c - first] = _excel_value(cell_value(item.get(k)))
                block.append(line)
            for c, k in by_index.items():
                if formats[k]:
                    ws.range((top, c + 1), (top + len(block) - 1, c + 1)).number_format = formats[k]
            ws.range((top, first + 1)).value = block
        self._mark(ws)
        if tc.appends:
            self._grow(tc.key, tc.last_row)

    def _grow(self, key: str, last: int) -> None:
        """Grow the table of ``key`` down to Excel row ``last`` (never shrink it)."""
        ws = self.session.sheet(key)
        table = _table(ws, self.defs.sheet(key))
        if table is None:
            return
        rng = table.range
        if rng.last_cell.row >= last:
            return
        table.resize(ws.range((rng.row, rng.column), (last, rng.last_cell.column)))
        self._mark(ws)

    # -- dashboard fields --------------------------------------------------------------
    def _fields(self, values: dict[str, Any]) -> None:
        ws = self.session.sheet("dashboard")
        for f in self.defs.sheet("dashboard").fields:
            if f.key in values:
                _write_typed(ws.range(f.cell), values[f.key])
        self._mark(ws)

    # -- fills -------------------------------------------------------------------------
    def _fills(self, fills: dict[tuple[str, str], str | None]) -> None:
        """One ``set_colors`` call per sheet (per band of at most 10,000 cells): cells not
        named keep their fill (``...``)."""
        by_sheet: dict[str, dict[tuple[int, int], str | None]] = {}
        for (sheet, cell), colour in fills.items():
            pos = _split_cell(cell)
            if pos:
                by_sheet.setdefault(header_key(sheet), {})[pos] = "#" + colour.lstrip("#") if colour else None
        for key, cells in by_sheet.items():
            ws = self.session.sheets.get(key)
            if ws is None or not cells:
                continue
            for (top, left, bottom, right), matrix in _color_bands(cells):
                block = ws.range((top, left), (bottom, right))
                if hasattr(block, "set_colors"):  # xlwings >= 0.37.5
                    block.set_colors(matrix)
                    continue
                for (r, c), colour in cells.items():  # older xlwings (Python 3.10 pin): cell by cell
                    if top <= r <= bottom:
                        ws.range((r, c)).color = colour
            self._mark(ws)

    # -- output sheets -------------------------------------------------------------------
    def _output(self, out: OutputSheet) -> None:
        ws = self.session.sheet(out.key, required=False)
        if ws is None:  # deleted by hand: add it back at the end, as the file sink does
            ws = self.session.book.sheets.add(self.defs.sheet(out.key).name, after=self.session.book.sheets[-1])
            self.session.sheets[header_key(ws.name)] = ws
        rows, width = out.rows, max(out.width, 1)
        _empty_output(ws)
        block = [[_excel_value(v) for v in r.values] + [None] * (width - len(r.values)) for r in rows]
        for (top, bottom, c) in _column_runs(block, lambda v: isinstance(v, str)):
            ws.range((top, c), (bottom, c)).number_format = TEXT_FORMAT
        for fmt, (top, bottom, c) in _format_runs(rows):
            ws.range((top, c), (bottom, c)).number_format = fmt
        if block:
            ws.range((1, 1)).value = block
        for _style, top, bottom in _style_runs(rows):
            style = out.style(rows[top - 1])
            rng = ws.range((top, 1), (bottom, max(len(rows[top - 1].values), 1)))
            rng.font.name = out.font
            rng.font.size = out.size + style.size_delta
            rng.font.bold = style.bold
            rng.font.italic = style.italic
            rng.font.color = "#" + TEXT_COLOUR
            com_underline(rng, False)
            if style.border:
                com_borders(rng)
            rng.wrap_text = style.centred  # set on every run: an old wrap would fold a note
            if style.centred:
                _centre(rng)
            if style.height and len(rows[top - 1].values) > 1:
                for r in range(top, bottom + 1):
                    ws.range((r, 1)).row_height = style.height
        for c, w in out.widths.items():
            ws.range((1, c)).column_width = w
        names = {key: sheet.name for key, sheet in self.session.sheets.items()}
        for link in out.links:
            target = names.get(header_key(link.sheet))
            if target is None:
                continue
            rng = ws.range((link.row, link.column))
            location = Link(link.row, link.column, target, link.cell, link.text).location
            com_add_link(rng, location, link.text)
            rng.font.color = "#" + LINK_COLOUR
            com_underline(rng, True)
        if out.filter:
            header, last, cols = out.filter
            com_autofilter(ws, ws.range((header, 1), (max(last, header), cols)))
        if out.freeze_row:
            com_freeze(ws, out.freeze_row)
        self._mark(ws)


def _empty_output(ws) -> None:
    """Empty an output sheet by contents, links, fills and merges; its formats stay (no clear())."""
    used = ws.used_range
    com_unmerge(used)
    com_delete_links(ws)
    used.clear_contents()
    used.color = None
    com_autofilter(ws, None)


def _write_typed(rng, value: Any) -> None:
    """One cell: text gets the text format first, so that Excel does not retype it."""
    value = _excel_value(cell_value(value))
    if isinstance(value, str):
        rng.number_format = TEXT_FORMAT
    rng.value = value


def _centre(rng) -> None:
    for attr, value in (("horizontal_alignment", "center"), ("vertical_alignment", "center")):
        with contextlib.suppress(Exception):  # xlwings 0.37.0 (the Python 3.10 pin) lacks them
            setattr(rng, attr, value)


def _runs(indexes: list[int]) -> list[list[int]]:
    """Consecutive runs of sorted column indexes."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _column_runs(block: list[list[Any]], wanted: Callable[[Any], bool]) -> Iterator[tuple[int, int, int]]:
    """(top row, bottom row, column) of each vertical run of cells for which ``wanted`` holds."""
    width = max((len(r) for r in block), default=0)
    for c in range(width):
        top = None
        for r, row in enumerate(block, start=1):
            hit = c < len(row) and wanted(row[c])
            if hit and top is None:
                top = r
            elif not hit and top is not None:
                yield top, r - 1, c + 1
                top = None
        if top is not None:
            yield top, len(block), c + 1


def _format_runs(rows: list[SheetRow]) -> Iterator[tuple[str, tuple[int, int, int]]]:
    """Vertical runs of numeric cells sharing a number format."""
    fmts = [[(f if (isinstance(v, (int, float)) and not isinstance(v, bool)) else None)
             for v, f in zip(r.values, list(r.number_formats) + [None] * (len(r.values) - len(r.number_formats)))]
            for r in rows]
    for fmt in sorted({f for row in fmts for f in row if f}):
        for run in _column_runs(fmts, partial(operator.eq, fmt)):
            yield fmt, run


def _style_runs(rows: list[SheetRow]) -> Iterator[tuple[str, int, int]]:
    """(style, top, bottom) of consecutive rows with the same style and width."""
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or (rows[i].style, len(rows[i].values)) != (rows[start].style, len(rows[start].values)):
            if rows[start].values:
                yield rows[start].style, start + 1, i
            start = i


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


# ---------------------------------------------------------------------------- COM-only calls
# Everything below reaches Excel's COM object model (``.api``) and runs only in Excel; on the
# remote engine of the tests (whose ``api`` is not COM) each does nothing. This is the whole
# list of COM-only calls of the front end:
#   Range.UnMerge, Hyperlinks.Delete, Hyperlinks.Add(SubAddress), Range.AutoFilter /
#   AutoFilterMode, ActiveWindow.SplitRow/FreezePanes, Borders.LineStyle, Font.Underline,
#   Application.ScreenUpdating, Application.StatusBar, Application.FileDialog, Application.InputBox,
#   Workbooks.Open, Workbook.Save, Workbook.SaveCopyAs, Worksheet.Unprotect/Protect,
#   Worksheet.ProtectContents/ProtectDrawingObjects/ProtectScenarios/ProtectionMode/Protection.Allow*.
def _com(obj: Any) -> Any | None:
    """The COM object behind an xlwings object, or None on an engine without COM."""
    try:
        api = obj.api
    except Exception:  # noqa: BLE001 - engines without COM raise NotImplementedError or the like
        return None
    return None if api is None or isinstance(api, (dict, list)) else api


def com_unmerge(rng) -> None:
    api = _com(rng)
    if api is not None:
        api.UnMerge()


def com_delete_links(ws) -> None:
    api = _com(ws)
    if api is not None:
        api.Hyperlinks.Delete()


def com_add_link(rng, location: str, text: str) -> None:
    api = _com(rng)
    if api is not None:  # Excel: an in-document link needs SubAddress
        api.Parent.Hyperlinks.Add(Anchor=api, Address="", SubAddress=location, TextToDisplay=text)
    else:
        rng.add_hyperlink("#" + location, text)


def com_autofilter(ws, rng) -> None:
    api = _com(ws)
    if api is None:
        return
    target = _com(rng) if rng is not None else None
    if target is None:
        api.AutoFilterMode = False
    else:
        target.AutoFilter()


def com_freeze(ws, first_row: int) -> None:
    api = _com(ws)
    if api is None:
        return
    window = api.Parent.Windows(1)
    was = api.Parent.ActiveSheet  # freezing works on the active sheet: the officer's stays active after
    api.Activate()
    try:
        window.FreezePanes = False
        window.SplitColumn = 0
        window.SplitRow = first_row - 1
        window.FreezePanes = True
    finally:
        was.Activate()


def com_borders(rng) -> None:
    api = _com(rng)
    if api is not None:
        api.Borders.LineStyle = 1  # xlContinuous


def com_underline(rng, on: bool) -> None:
    api = _com(rng)
    if api is not None:
        api.Font.Underline = 2 if on else -4142  # xlUnderlineStyleSingle / xlUnderlineStyleNone


def com_pick_folder(app, title: str, start: Path) -> Path | None:
    """Excel's folder picker (Application.FileDialog(msoFileDialogFolderPicker)); None if cancelled."""
    api = _com(app)
    if api is None:
        return None
    dialog = api.FileDialog(4)
    dialog.Title = title
    dialog.InitialFileName = str(start).rstrip("\\") + "\\"
    if dialog.Show() != -1:
        return None
    return Path(str(dialog.SelectedItems(1)))


def com_input(app, prompt: str, title: str, default: str) -> str | None:
    """Excel's Application.InputBox for a text (Type 2); None if cancelled."""
    api = _com(app)
    if api is None:
        return None
    answer = api.InputBox(prompt, title, default, Type=2)
    return None if answer is False else str(answer).strip()


def com_open(app, path: Path) -> None:
    """Open a workbook in the running Excel (Workbooks.Open)."""
    api = _com(app)
    if api is not None:
        with contextlib.suppress(Exception):  # already open, or Excel busy: the message names the file
            api.Workbooks.Open(str(path))


def com_save(book) -> None:
    """Save the open book where it is (Workbook.Save), so that a verb reading the file sees it."""
    api = _com(book)
    if api is not None:
        api.Save()


def com_screen_updating(app, on: bool) -> None:
    api = _com(app)
    if api is not None:
        api.ScreenUpdating = on


def backup_open_book(session: Session) -> Path | None:
    """A copy of the open book in Sao_luu/ beside it (SaveCopyAs keeps the extension), before an
    import writes; engines without COM have no file to copy."""
    api = _com(session.book)
    if api is None:
        return None
    target = backup_target(session.folder / Path(session.book.name).name)
    api.SaveCopyAs(str(target))
    return target


# Worksheet.Protection's allowances, in the order of Worksheet.Protect's arguments after
# Password, DrawingObjects, Contents, Scenarios and UserInterfaceOnly.
ALLOWANCES = ("AllowFormattingCells", "AllowFormattingColumns", "AllowFormattingRows", "AllowInsertingColumns",
              "AllowInsertingRows", "AllowInsertingHyperlinks", "AllowDeletingColumns", "AllowDeletingRows",
              "AllowSorting", "AllowFiltering", "AllowUsingPivotTables")


@dataclass(frozen=True)
class SheetProtection:
    """How a sheet was protected when the toolkit found it (password-less: a password refuses)."""

    sheet: Any  # the xlwings sheet
    drawing_objects: bool
    contents: bool
    scenarios: bool
    user_interface_only: bool
    allowances: tuple[bool, ...]


def com_protection(ws) -> SheetProtection | None:
    """The sheet's protection as found, or None when it is not protected (or there is no COM)."""
    api = _com(ws)
    if api is None:
        return None
    flags = bool(api.ProtectDrawingObjects), bool(api.ProtectContents), bool(api.ProtectScenarios)
    if not any(flags):
        return None
    allowed = api.Protection
    return SheetProtection(ws, *flags, bool(api.ProtectionMode), tuple(bool(getattr(allowed, a)) for a in ALLOWANCES))


def lift_protection(sheets: list[Any], book_name: str) -> list[SheetProtection]:
    """Unprotect every protected sheet of ``sheets`` before anything is written; a sheet with a
    password the officer set is refused in one line, with the sheets lifted so far restored."""
    lifted: list[SheetProtection] = []
    for ws in sheets:
        found = com_protection(ws)
        if found is None:
            continue
        api = _com(ws)
        try:
            if api is not None:
                api.Unprotect("")
        except Exception:  # noqa: BLE001 - Excel: "The password you supplied is not correct"
            restore_protection(lifted)
            raise WorkbookError("excel_sheet_password", file=book_name, sheet=ws.name) from None
        lifted.append(found)
    return lifted


def restore_protection(lifted: list[SheetProtection]) -> None:
    """Protect each sheet again exactly as it was found."""
    for p in lifted:
        api = _com(p.sheet)
        if api is not None:
            api.Protect("", p.drawing_objects, p.contents, p.scenarios, p.user_interface_only, *p.allowances)


def com_status_bar(app, text: str | None) -> None:
    """Excel's status bar line while a button works; None gives it back to Excel."""
    api = _com(app)
    if api is not None:
        with contextlib.suppress(Exception):  # the status bar never stops a button
            api.StatusBar = text if text else False


# ---------------------------------------------------------------------------- helpers
def read_grid(ws) -> list[list[Any]]:
    """Values from A1 to the last cell of the used range: one read."""
    last = ws.used_range.last_cell
    values = ws.range((1, 1), (last.row, last.column)).options(ndim=2).value
    return [list(r) for r in values]


def table_ranges(ws) -> list[TableRange]:
    """The Excel Tables of a sheet with where they sit."""
    out: list[TableRange] = []
    try:
        tables = list(ws.tables)
    except Exception:  # noqa: BLE001 - an engine without tables
        return out
    for t in tables:
        rng = t.range
        out.append(TableRange(t.name, rng.row, rng.last_cell.row, rng.column, rng.last_cell.column))
    return out


def _table(ws, sheet: Sheet):
    try:
        tables = list(ws.tables)
    except Exception:  # noqa: BLE001
        return None
    for t in tables:
        if t.name == sheet.table:
            return t
    return tables[0] if len(tables) == 1 else None


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


# ---------------------------------------------------------------------------- the live gate (doctor --live)
LiveFinding = tuple[str, str, dict[str, Any]]  # (check key, status, message parameters)


def live_check(path: str | Path, *, app: Any = None, addin: str | Path | None = None) -> list[LiveFinding]:
    """Click every button of ``path`` once in a hidden Excel, on a copy, and check what it wrote.

    The copy goes into a new folder with the live marker beside it, so that each button writes
    its message into a file instead of a box nobody could close. For an ``.xlsx`` the add-in
    (``addin``, default the user's XLSTART one) is opened too and each button's RunPython
    command is run through its xlwings module, as its ribbon callback does; an ``.xlsm``'s own
    Subs are run. After each click: an answer came back (Python started and reached the
    handler), it was not an error, the dashboard's text cells are still text, and Nhật ký has
    one row more. ``app`` is an xlwings App (tests); by default a new hidden Excel, quit after."""
    import shutil
    import tempfile

    from .io.addin import ADDIN_NAME, RIBBON_MODULE, addin_sources, callback_name, xlstart_folder
    from .io.reader import read_workbook
    from .io.xlsm import run_python_calls

    path = Path(path)
    defs = get_definitions()
    folder = Path(tempfile.mkdtemp(prefix="xltools-live-"))
    copy = folder / path.name
    shutil.copy2(path, copy)
    (folder / LIVE_MARK).write_text("", encoding="utf-8")
    commune = read_workbook(copy, defs, strict=False)
    for key in (s.key for s in defs.settings if s.key.endswith("_dir")):  # the folders the buttons use
        with contextlib.suppress(Exception):
            commune.folder_setting(key, folder).mkdir(parents=True, exist_ok=True)
    use_addin = copy.suffix.lower() != ".xlsm"
    addin_path = Path(addin) if addin else (xlstart_folder() / ADDIN_NAME if use_addin else None)
    if use_addin and (addin_path is None or not addin_path.is_file()):
        shutil.rmtree(folder, ignore_errors=True)
        return [("live_addin", "error", {"path": str(addin_path)})]
    commands = run_python_calls(addin_sources(defs)[RIBBON_MODULE]) if use_addin else {}
    own_app = app is None
    app = app if app is not None else xw.App(visible=False, add_book=False)
    found: list[LiveFinding] = []
    try:
        with contextlib.suppress(Exception):
            app.display_alerts = False
        book = app.books.open(str(copy))
        runner = app.books.open(str(addin_path)) if use_addin else book
        for button in buttons(defs):
            book.activate()
            log_rows = _live_rows(book, defs, "log")
            results = folder / LIVE_RESULTS
            results.unlink(missing_ok=True)
            try:
                if use_addin:
                    runner.macro("RunPython")(commands[callback_name(button.sub)])
                else:
                    runner.macro(button.sub)()
            except Exception as exc:  # noqa: BLE001 - VBA's own error (run-time error 70 …)
                found.append(("live_click", "error", {"button": button.caption, "reason": str(exc)}))
                continue
            answers = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()] \
                if results.is_file() else []
            if not answers:
                found.append(("live_click", "error", {"button": button.caption,
                                                      "reason": messages.text("doctor_live_no_answer")}))
                continue
            last = answers[-1]
            status = "ok" if last["mode"] == "info" else "warning"
            found.append(("live_click", status, {"button": button.caption, "reason": last["text"].splitlines()[0]}))
            if _live_rows(book, defs, "log") <= log_rows:
                found.append(("live_log", "error", {"button": button.caption}))
            retyped = _live_retyped(book, defs)
            if retyped:
                found.append(("live_text", "error", {"button": button.caption, "cells": ", ".join(retyped)}))
        with contextlib.suppress(Exception):
            book.close()
    except Exception as exc:  # noqa: BLE001 - Excel itself failed: one finding
        found.append(("live_excel", "error", {"reason": f"{type(exc).__name__}: {exc}"}))
    finally:
        if own_app:
            with contextlib.suppress(Exception):
                app.quit()
        shutil.rmtree(folder, ignore_errors=True)
    return found


def _live_sheet(book, defs: Definitions, key: str):
    """The open book's sheet of ``key`` (matched as the handlers match it), None if it has none."""
    name = header_key(defs.sheet(key).name)
    return next((s for s in book.sheets if header_key(s.name) == name), None)


def _live_rows(book, defs: Definitions, key: str) -> int:
    """How many non-empty rows the sheet ``key`` of the open book holds."""
    ws = _live_sheet(book, defs, key)
    if ws is None:
        return 0
    return sum(1 for row in read_grid(ws) if any(not is_blank(v) for v in row))


def _live_retyped(book, defs: Definitions) -> list[str]:
    """Dashboard fields that came back as dates or numbers (every field is a text: "2023-12",
    "9/12", "1.3" — Excel retyped it when it was written without the text format)."""
    ws = _live_sheet(book, defs, "dashboard")
    if ws is None:
        return []
    bad = []
    for f in defs.sheet("dashboard").fields:
        value = ws.range(f.cell).value
        if value is not None and not isinstance(value, str):
            bad.append(f.cell)
    return bad
