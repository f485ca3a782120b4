"""``import_reports``: bring the villages' returned forms into the commune workbook.

Per file all-or-nothing; one bad file never stops the others. Every file is read
once with the safe fast reader; the core decides what each form does (accepted,
unchanged, replaced, rejected); then the workbook is written once, in one
``edit_workbook`` session (atomic, with a backup, refused while open in Excel):
changed report rows in place, new rows appended, replaced rows to Lịch sử, one
Nhật ký row per file, the dashboard's status cells.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core import messages
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
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
    log_rows,
    merge_reports,
    reported_text,
    village_states,
)
from ..core.text import clean
from ..core.validation import validate_book
from ..io.editor import edit_workbook, now
from ..io.files import current_user, refuse_if_open
from ..io.formreader import read_form
from ..io.forms import form_config
from ..io.reader import read_workbook

Progress = Callable[[int, int], None]
_NEEDED = ("villages", "reports", "history", "log")


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
    defs: Definitions | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the forms in ``sources`` (files or folders) into the workbook at ``path``.

    Returns the summary: per file accepted / unchanged / replaced / rejected, the
    reasons and the changed fields, and validation warnings on the imported rows.
    With ``dry_run`` nothing is written. A report typed by hand is replaced only
    with ``replace_manual``.
    """
    defs = defs or get_definitions()
    form_config(defs)  # a broken forms.toml is one clear error before any file is touched
    path = Path(path)
    sources = list(sources)
    if not dry_run:
        refuse_if_open(path)
    book = read_workbook(path, defs, strict=False)
    if any(p.sheet in {defs.sheet(k).name for k in _NEEDED} for p in book.structure):
        read_workbook(path, defs, strict=True, sheets=list(_NEEDED))  # raises the precise error
    files = collect_files(sources, defs, exclude=path.resolve())
    if not files:
        raise InputError("import_no_files", paths=", ".join(str(s) for s in sources) or "-")
    villages = village_states(book.tables["villages"])
    commune_code = clean(book.settings.get("commune_code") or "") or None

    items: list[Incoming | FileResult] = []
    for i, file in enumerate(files, start=1):
        form = read_form(file, defs)
        reasons = form.reasons or check_identity(file.name, form.meta, commune_code=commune_code, villages=villages)
        if reasons:
            items.append(FileResult(file.name, str(file), form.sha256, REJECTED,
                                    form.meta.get("period") or None, form.meta.get("village_code") or None, reasons))
        else:
            items.append(Incoming(file.name, str(file), form.sha256, form.meta["period"],
                                  form.meta["village_code"], form.values))
        if progress:
            progress(i, len(files))

    stamp = now()
    history = book.tables["history"]
    superseded = set(history["sha256"].dropna()) if "sha256" in history else set()
    merged = merge_reports(book.tables["reports"], items, defs, replace_manual=replace_manual, now=stamp,
                           header_row=book.header_rows.get("reports", 1), superseded=superseded)
    summary = ImportSummary(str(path), merged.results, dry_run=dry_run)
    _validate(book, merged, summary, defs)
    if dry_run:
        return summary
    _write(path, book, merged, summary, villages, defs, stamp)
    summary.written = True
    return summary


def _validate(book, merged: MergeResult, summary: ImportSummary, defs: Definitions) -> None:
    """Warnings of the validation engine on the imported rows; they never block the import."""
    touched = {f.row: f for f in summary.files if f.status in (ACCEPTED, REPLACED) and f.row}
    if not touched:
        return
    periods = {f.period for f in touched.values()}
    sheet_name = defs.sheet("reports").name
    try:
        report = validate_book(dataclasses.replace(book, tables={**book.tables, "reports": merged.frame}),
                               periods.pop() if len(periods) == 1 else None)
    except Exception as exc:  # validation must not stop an import
        summary.warnings.append(messages.text("import_validation_failed", reason=f"{type(exc).__name__}: {exc}"))
        return
    for issue in report.issues:
        target = touched.get(issue.row) if issue.sheet == sheet_name else None
        if target is None:
            continue
        text = f"{target.file} ({issue.sheet}!{issue.cell or issue.row}): {issue.message}"
        target.warnings.append(issue.message)
        summary.warnings.append(text)


def _write(path: Path, book, merged: MergeResult, summary: ImportSummary, villages, defs: Definitions, stamp) -> None:
    letters = book.letters.get("reports", {})
    user = current_user()
    with edit_workbook(path, defs) as ed:
        if merged.updates:
            cells = {}
            for excel_row, row in merged.updates.items():
                for key, value in row.items():
                    if key in letters:
                        cells[f"{letters[key]}{excel_row}"] = value
            ed.set_values("reports", cells)
        ed.append_rows("reports", merged.appends)
        ed.append_rows("history", merged.history)
        ed.append_rows("log", log_rows(summary, defs, user=user, time=stamp))
        fields = {f.key: f.cell for f in defs.sheet("dashboard").fields}
        period = book.settings.get("current_period") or _latest_period(summary)
        status = {
            "villages_reported": reported_text(merged.frame, villages, period),
            "last_action": messages.text("import_last_action", time=stamp.strftime("%d/%m/%Y %H:%M"),
                                         counts=summary.counts_text(defs)),
        }
        ed.set_values("dashboard", {fields[k]: v for k, v in status.items() if k in fields and v is not None})


def _latest_period(summary: ImportSummary) -> str | None:
    periods = [f.period for f in summary.files if f.status != REJECTED and f.period]
    return max(periods) if periods else None




__all__ = ["import_reports", "collect_files", "ImportSummary"]
