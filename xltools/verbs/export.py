"""``export``: the commune's submission for a period, as a new .xlsx (never the .xlsm).

Reads the commune workbook, validates it, refuses while there are errors unless forced,
aggregates the period and writes ``BC138_<commune code>_<period>.xlsx`` with the sheets Báo
cáo, Biểu đồ, Số liệu and Thông tin (and Thành phần only with ``include_members``). The report
carries the next number of the committee's series (``core.register``): once the files are
built (in memory, encrypted when asked), one atomic write of the commune workbook (with a
backup) records it in the register (Sổ văn bản đi) with the SHA-256 of the file to be written,
advances ``doc_next_number`` and adds a Nhật ký row; only then are the files written. A refused
workbook write (open in Excel, a part openpyxl would drop) so writes no file and takes no
number; a file write that fails after it is repaired by exporting again, which keeps the number.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core import messages
from ..core.aggregation import aggregate_book
from ..core.book import CommuneBook
from ..core.change import WorkbookChange, now
from ..core.definitions import Definitions, get_definitions, report_defs
from ..core.errors import XltoolsError
from ..core.periods import Period
from ..core.register import DocNumber, choose_number, number_text, register_change
from ..core.report_body import comparisons_for, findings_from_issues, report_body
from ..core.situation import commune_situation
from ..core.submission import info_rows, member_terms, redact, report_header, submission_name
from ..core.validation import Issue, validate_book
from ..core.validation.structure import refuse_foreign
from ..io.files import check_writable, current_user, ensure_folder, refuse_if_open
from ..io.reader import read_workbook
from ..io.report_docx import build_report_docx, docx_name, write_report_docx
from ..io.sink import apply_change
from ..io.situation_sheet import SituationSheets
from ..io.submission import annex_plan, build_submission, encrypt, write_submission


class ExportRefused(XltoolsError):
    """Validation found errors and the export was not forced."""


class ExportStructureRefused(XltoolsError):
    """A table of the workbook cannot be read (sheet, header row or column missing): the
    submission would silently lose its data, so it is refused even with ``force``."""


STRUCTURE_RULES = ("structure-missing-sheet", "structure-missing-column")


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the submission, its Word draft (or None) and its document number."""

    path: Path
    docx: Path | None
    doc: DocNumber
    number: str  # as printed after "Số: ", e.g. "07/BC-BCĐ"
    register_sheet: str = ""  # the register's sheet name, for the warning of a workbook without it

    def lines(self) -> list[str]:
        """What the command and the button say about the number and the register."""
        if self.doc.kept:
            out = [messages.text("export_number_kept", number=self.number)]
        else:
            out = [messages.text("export_number_new", number=self.number, next=self.doc.next_number)]
        if not self.doc.register:
            out.append(messages.text("export_no_register", sheet=self.register_sheet))
        return out


def _structure_problems(book: CommuneBook, issues: list[Issue]) -> list[str]:
    """What makes a table unreadable, each in words of the catalogue (empty when all is readable).

    The reader's findings (missing sheets, header rows, required columns) always count,
    whatever rules.toml says about the structure rules; the columns a rule needs count too.
    """
    found: list[tuple[str, str, str]] = []  # (catalogue key, sheet, header)
    for p in book.structure:
        if p.key == "missing_sheet":
            found.append(("export_structure_sheet", p.sheet, ""))
        elif p.column:
            found.append(("export_structure_column", p.sheet, p.column))
        else:
            found.append(("export_structure_header", p.sheet, ""))
    for i in issues:
        if i.rule in STRUCTURE_RULES and i.severity == "error":
            kind = "export_structure_sheet" if i.rule == "structure-missing-sheet" else (
                "export_structure_column" if i.header else "export_structure_header")
            found.append((kind, i.sheet, i.header if kind == "export_structure_column" else ""))
    return [messages.text(key, sheet=sheet, header=header) for key, sheet, header in dict.fromkeys(found)]


def _validate(book: CommuneBook, period: Period) -> tuple[int, int, list[str], list[Issue]]:
    """(errors, warnings, a few error descriptions, the issues) from the validation engine."""
    report = validate_book(book, period)
    errors = [i for i in report.issues if i.severity == "error"]
    # joined with "; " into a sentence of the catalogue: no full stop of their own
    examples = [f"{i.sheet}{' ' + i.cell if i.cell else ''}: {i.message.rstrip('.')}" for i in errors[:3]]
    return int(report.errors), int(report.warnings), examples, report.issues


def export(
    path: str | Path,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    docx: bool = False,
    new_number: bool = False,
    defs: Definitions | None = None,
) -> Path:
    """Write the submission of ``period`` (default: the workbook's current period); return its path.

    ``out_dir`` defaults to the ``outbox_dir`` setting beside the workbook. Refuses while
    validation finds errors unless ``force``; the report then states it was forced. A workbook
    whose tables cannot be read (a sheet, header row or required column missing) is refused,
    forced or not.
    Member names and phones are left out unless ``include_members``. With ``docx`` the report is
    also written as a Word draft beside it (``BC138_<unit>_<period>.docx``, ``docx_name``).
    The report takes the next document number, or keeps the number of an earlier export of the
    same period unless ``new_number``; the workbook records it (see the module's text).
    """
    return export_file(path, period, out_dir, password=password, force=force, include_members=include_members,
                       docx=docx, new_number=new_number, defs=defs).path


def export_file(
    path: str | Path,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    docx: bool = False,
    new_number: bool = False,
    defs: Definitions | None = None,
) -> Exported:
    """``export``, returning what was written and the document number (for the command)."""
    defs = defs or get_definitions()
    path = Path(path)
    refuse_if_open(path)  # the workbook records the number: refused before anything is written
    book = read_workbook(path, defs, strict=False)
    return run_export(book, period, out_dir, password=password, force=force, include_members=include_members,
                      docx=docx, new_number=new_number)


def export_book(
    book: CommuneBook,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    docx: bool = False,
    new_number: bool = False,
    sink: Callable[[WorkbookChange], object] | None = None,
) -> Path:
    """``export`` of a book already read: from the file, or from the open book by the button,
    which so refuses exactly when the command refuses, for the same reason. ``sink`` applies
    the change that records the number (default: to the workbook file the book was read from)."""
    return run_export(book, period, out_dir, password=password, force=force, include_members=include_members,
                      docx=docx, new_number=new_number, sink=sink).path


def run_export(
    book: CommuneBook,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    docx: bool = False,
    new_number: bool = False,
    sink: Callable[[WorkbookChange], object] | None = None,
) -> Exported:
    """``export_book``, returning the ``Exported`` record."""
    defs = book.defs
    path = book.path
    refuse_foreign(book)  # a form, a submission or another file: no report, forced or not
    chosen = book.chosen_period(period)
    period = Period.parse(chosen)
    errors, warnings, examples, issues = _validate(book, period)
    broken = _structure_problems(book, issues)
    if broken:  # --force overrides data errors, never a table that cannot be read
        raise ExportStructureRefused("export_structure_refused", file=path.name, problems="; ".join(broken))
    if errors and not force:
        raise ExportRefused("export_refused", file=path.name, count=errors, examples="; ".join(examples))
    agg = aggregate_book(book, period)
    rep = report_defs(defs)
    mark = rep.get("text", {}).get("redacted", "…")
    members: dict[str, pd.DataFrame] | None = None
    if include_members:
        members = {k: book.tables[k] for k in ("board", "teams") if k in book.tables}
    else:
        terms = member_terms(book)
        agg.notes = [(name, redact(note, terms, mark)) for name, note in agg.notes]
    rows = agg.long_rows()
    header = report_header(book.settings, defs, period=period)
    doc = choose_number(book, str(period), date=header["date"], new_number=new_number)
    header["doc_number"] = doc.number
    info = info_rows(agg, rows, kind="commune", source_sha256=book.sha256, errors=errors, warnings=warnings,
                     forced=bool(errors and force), members=include_members, doc_number=doc.number, defs=defs)
    header["forced_errors"] = errors if (errors and force) else 0
    # the report's body, once for the sheet and the Word draft: the weak points and proposals from
    # the validation findings of the period, a sơ kết/tổng kết compared with earlier periods
    annexes = annex_plan(agg, rep) if len(agg.parts) else []
    body = report_body(agg, header, defs, findings=findings_from_issues(issues, book.tables, agg),
                       comparisons=comparisons_for(book.tables, book.settings, period, defs),
                       annexes=[a["number"] for a in annexes])
    data = build_submission(agg, rows, info, header, defs, members=members, body=body,
                            situation=SituationSheets(commune_situation(agg)))  # Tình hình, for the level above
    folder = Path(out_dir) if out_dir else path.parent / str(book.settings.get("outbox_dir") or ".")
    target = folder / submission_name(agg.unit_code, period, defs)
    draft = docx_name(target) if docx else None
    draft_data = build_report_docx(agg, header, defs, body=body) if draft is not None else b""
    payload = encrypt(data, password) if password else data  # encrypted once: the SHA-256 is the file's
    shown = number_text(doc.number, str(header.get("doc_code") or ""))
    notes = []
    if errors and force:
        notes.append(messages.text("register_note_forced", count=errors))
    if draft is not None:
        notes.append(messages.text("register_note_docx", file=draft.name))
    action = messages.text("export_log_action")
    result = messages.text("excel_result_ok")
    change = register_change(book, doc, period=str(period), date=header["date"], doc_code=str(header.get("doc_code") or ""),
                             file=target.name, sha256=hashlib.sha256(payload).hexdigest(), when=now(),
                             user=current_user(), action=action, result=result, notes=notes,
                             detail=messages.text("excel_exported", period=period.label, file=str(target)))
    ensure_folder(folder)  # a folder that cannot be written: one line, before the number is taken
    for made in (target, draft):  # a report open in Word or Excel, or read-only: refused likewise
        if made is not None:
            check_writable(made)
            refuse_if_open(made)
    if sink is None:
        apply_change(path, change, defs)
    else:
        sink(change)
    if draft is not None:  # the Word draft first: the submission's presence says the export finished
        write_report_docx(draft, draft_data, password=password)
    written = write_submission(target, payload)
    register = next((s.name for s in defs.sheets if s.key == "register"), "")
    return Exported(written, draft, doc, shown, register)

