"""``import_reports``: bring the villages' returned forms into the commune workbook.

Per file all-or-nothing; one bad file never stops the others. Every file is read
once with the safe fast reader; the core decides what each form does (accepted,
unchanged, replaced, rejected) against the book as read (``plan_import``, shared with
the button, which reads the open book); the resulting change (the changed report cells
in place, new rows below, replaced rows to Lịch sử, one Nhật ký row per file, the
dashboard's status) is written once by the openpyxl sink (atomic, with a backup,
refused while open in Excel).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core import messages
from ..core.approval import PeriodState, add_reopening, locked_periods, locks_of_month
from ..core.book import CommuneBook
from ..core.change import WorkbookChange, now
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
from ..core.outputs import import_change
from ..core.reports import (
    ACCEPTED,
    REJECTED,
    REPLACED,
    FileResult,
    ImportSummary,
    Incoming,
    MergeResult,
    check_identity,
    import_config,
    merge_reports,
    village_states,
)
from ..core.text import clean
from ..core.validation import validate_book
from ..io.files import current_user, refuse_if_open
from ..io.formreader import read_form
from ..io.forms import form_config
from ..io.reader import read_workbook
from ..io.sink import apply_change

Progress = Callable[[int, int], None]
NEEDED = ("villages", "reports", "history", "log")  # the sheets an import cannot do without


def collect_files(sources: Iterable[str | Path], defs: Definitions, exclude: Path | None = None) -> list[Path]:
    """Files named directly, and the form-like files of folders (oldest first, then by name)."""
    suffixes = {s.lower() for s in import_config(defs)["folder_suffixes"]}
    out: list[Path] = []
    seen: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = [
                p for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(("~$", ".~lock", "."))
            ]
            found.sort(key=lambda p: (p.stat().st_mtime, p.name))
        else:
            found = [path]
        for p in found:
            key = p.resolve()
            if key in seen or (exclude is not None and key == exclude):
                continue
            seen.add(key)
            out.append(p)
    return out


def import_reports(
    path: str | Path,
    sources: Iterable[str | Path],
    *,
    dry_run: bool = False,
    replace_manual: bool = False,
    reopen: bool = False,
    defs: Definitions | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the forms in ``sources`` (files or folders) into the workbook at ``path``.

    Returns the summary: per file accepted / unchanged / replaced / rejected, the
    reasons and the changed fields, and validation warnings on the imported rows.
    With ``dry_run`` nothing is written. A report typed by hand is replaced only
    with ``replace_manual``. A form that would change a period accepted by the level above is
    refused unless ``reopen`` (the period is then reopened, in Nhật ký).
    """
    defs = defs or get_definitions()
    form_config(defs)  # a broken forms.toml is one clear error before any file is touched
    path = Path(path)
    sources = list(sources)
    if not dry_run:
        refuse_if_open(path)
    book = read_workbook(path, defs, strict=False)
    if any(p.sheet in {defs.sheet(k).name for k in NEEDED} for p in book.structure):
        read_workbook(path, defs, strict=True, sheets=list(NEEDED))  # raises the precise error
    summary, change = plan_import(book, sources, replace_manual=replace_manual, progress=progress,
                                  exclude=path.resolve(), dry_run=dry_run, reopen=reopen)
    if dry_run:
        return summary
    apply_change(path, change, defs)
    summary.written = True
    return summary


def plan_import(
    book: CommuneBook,
    sources: Iterable[str | Path],
    *,
    replace_manual: bool = False,
    progress: Progress | None = None,
    exclude: Path | None = None,
    dry_run: bool = False,
    reopen: bool = False,
) -> tuple[ImportSummary, WorkbookChange]:
    """Read the forms of ``sources`` and decide, against ``book`` (read from the file or from the
    open book), what each does; return the summary and the change to write (nothing written)."""
    defs = book.defs
    sources = list(sources)
    files = collect_files(sources, defs, exclude=exclude)
    if not files:
        raise InputError("import_no_files", paths=", ".join(str(s) for s in sources) or "-")
    villages = village_states(book.tables["villages"])
    commune_code = clean(book.settings.get("commune_code") or "") or None

    items: list[Incoming | FileResult] = []
    missing_headers = {p.column for p in book.outdated}  # indicator columns the workbook predates
    outdated = [c.key for c in defs.sheet("reports").columns if c.indicator and c.header in missing_headers]
    for i, file in enumerate(files, start=1):
        form = read_form(file, defs)
        notes: list[str] = []  # a village code restored ("1" → "01"): a warning, not a rejection
        reasons = form.reasons or check_identity(file.name, form.meta, commune_code=commune_code, villages=villages,
                                                 warnings=notes)
        if reasons:
            items.append(FileResult(file.name, str(file), form.sha256, REJECTED,
                                    form.meta.get("period") or None, form.meta.get("village_code") or None, reasons))
        else:
            dropped = [defs.indicator(k).label for k in outdated if form.values.get(k) is not None]
            if dropped:  # the workbook predates these indicators: their values have no column yet
                notes.append(messages.text("import_value_needs_upgrade", file=file.name, labels="; ".join(dropped),
                                           workbook=book.path.name))
            items.append(Incoming(file.name, str(file), form.sha256, form.meta["period"],
                                  form.meta["village_code"], form.values, tuple(notes)))
        if progress:
            progress(i, len(files))

    stamp = now()
    history = book.tables["history"]
    superseded = set(history["sha256"].dropna()) if "sha256" in history else set()
    def merge(items: list[Incoming | FileResult]) -> MergeResult:
        return merge_reports(book.tables["reports"], items, defs, replace_manual=replace_manual, now=stamp,
                             header_row=book.header_rows.get("reports", 1), superseded=superseded)

    merged = merge(items)
    locks = _locks(book, merged)  # forms that would change a period the level above accepted
    if locks and not reopen:
        items = [_refused(it, locks[it.file]) if isinstance(it, Incoming) and it.file in locks else it for it in items]
        merged = merge(items)
    summary = ImportSummary(str(book.path), merged.results, dry_run=dry_run)
    _validate(book, merged, summary, defs)
    change = import_change(book, merged, summary, when=stamp, user=current_user())
    if locks and reopen:
        periods = sorted({s.period for states in locks.values() for s in states})
        change = add_reopening(book, change, periods, when=stamp, user=current_user(),
                               reason=messages.text("receive_reopen_reason"))
        summary.warnings.append(messages.text("import_reopened", periods=", ".join(periods)))
    return summary, change


def _locks(book: CommuneBook, merged: MergeResult) -> dict[str, list[PeriodState]]:
    """The files whose report would change a period accepted by the level above, with those periods."""
    locked = locked_periods(book)
    if not locked:
        return {}
    out = {}
    for f in merged.results:
        if f.status in (ACCEPTED, REPLACED) and f.period:
            states = locks_of_month(locked, f.period)
            if states:
                out[f.file] = states
    return out


def _refused(item: Incoming, states: list[PeriodState]) -> FileResult:
    first = states[0]
    reason = messages.text("import_locked", period=first.period, upper=first.upper_unit or "-",
                           date=first.decided_at or "-")
    return FileResult(item.file, item.path, item.sha256, REJECTED, item.period, item.village_code, [reason])


def _validate(book, merged: MergeResult, summary: ImportSummary, defs: Definitions) -> None:
    """Warnings of the validation engine on the imported rows; they never block the import."""
    touched = {f.row: f for f in summary.files if f.status in (ACCEPTED, REPLACED) and f.row}
    if not touched:
        return
    periods = {f.period for f in touched.values()}
    sheet_name = defs.sheet("reports").name
    try:
        # the rows the import appends are inside the table once written (the writer grows it)
        rows = [int(r) for r in merged.frame["_row"]] if "_row" in merged.frame and len(merged.frame) else []
        ends = {**book.table_ends}
        if rows and "reports" in ends:
            ends["reports"] = max(ends["reports"], max(rows))
        report = validate_book(dataclasses.replace(book, tables={**book.tables, "reports": merged.frame}, table_ends=ends),
                               periods.pop() if len(periods) == 1 else None)
    except Exception as exc:  # validation must not stop an import
        summary.warnings.append(messages.text("import_validation_failed", reason=f"{type(exc).__name__}: {exc}"))
        return
    for issue in report.issues:
        target = touched.get(issue.row) if issue.sheet == sheet_name and issue.row is not None else None
        if target is None:
            continue
        text = f"{target.file} ({issue.sheet}!{issue.cell or issue.row}): {issue.message}"
        target.warnings.append(issue.message)
        summary.warnings.append(text)


__all__ = ["import_reports", "collect_files", "ImportSummary"]
