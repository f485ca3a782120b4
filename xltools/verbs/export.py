"""``export``: the commune's submission for a period, as a new .xlsx (never the .xlsm).

Reads the commune workbook (it is never modified), validates it, refuses while there
are errors unless forced, aggregates the period and writes
``BC138_<commune code>_<period>.xlsx`` with the sheets Báo cáo, Biểu đồ, Số liệu and
Thông tin (and Thành phần only with ``include_members``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import messages
from ..core.aggregation import aggregate_book
from ..core.book import CommuneBook
from ..core.definitions import Definitions, get_definitions, report_defs
from ..core.errors import XltoolsError
from ..core.periods import Period
from ..core.report_body import comparisons_for, findings_from_issues, report_body
from ..core.submission import info_rows, member_terms, redact, report_header, submission_name
from ..core.validation import Issue, validate_book
from ..core.validation.structure import refuse_foreign
from ..io.reader import read_workbook
from ..io.report_docx import build_report_docx, docx_name, write_report_docx
from ..io.submission import annex_plan, build_submission, write_submission


class ExportRefused(XltoolsError):
    """Validation found errors and the export was not forced."""


class ExportStructureRefused(XltoolsError):
    """A table of the workbook cannot be read (sheet, header row or column missing): the
    submission would silently lose its data, so it is refused even with ``force``."""


STRUCTURE_RULES = ("structure-missing-sheet", "structure-missing-column")


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
    defs: Definitions | None = None,
) -> Path:
    """Write the submission of ``period`` (default: the workbook's current period); return its path.

    ``out_dir`` defaults to the ``outbox_dir`` setting beside the workbook. Refuses while
    validation finds errors unless ``force``; the report then states it was forced. A workbook
    whose tables cannot be read (a sheet, header row or required column missing) is refused,
    forced or not.
    Member names and phones are left out unless ``include_members``. With ``docx`` the report is
    also written as a Word draft beside it (``BC138_<unit>_<period>.docx``, ``docx_name``).
    """
    defs = defs or get_definitions()
    book = read_workbook(Path(path), defs, strict=False)
    return export_book(book, period, out_dir, password=password, force=force, include_members=include_members,
                       docx=docx)


def export_book(
    book: CommuneBook,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    docx: bool = False,
) -> Path:
    """``export`` of a book already read: from the file, or from the open book by the button,
    which so refuses exactly when the command refuses, for the same reason."""
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
    info = info_rows(agg, rows, kind="commune", source_sha256=book.sha256, errors=errors, warnings=warnings,
                     forced=bool(errors and force), members=include_members,
                     doc_number=book.settings.get("doc_next_number"), defs=defs)
    header = report_header(book.settings, defs, period=period)
    header["forced_errors"] = errors if (errors and force) else 0
    # the report's body, once for the sheet and the Word draft: the weak points and proposals from
    # the validation findings of the period, a sơ kết/tổng kết compared with earlier periods
    annexes = annex_plan(agg, rep) if len(agg.parts) else []
    body = report_body(agg, header, defs, findings=findings_from_issues(issues, book.tables, agg),
                       comparisons=comparisons_for(book.tables, book.settings, period, defs),
                       annexes=[a["number"] for a in annexes])
    data = build_submission(agg, rows, info, header, defs, members=members, body=body)
    folder = Path(out_dir) if out_dir else path.parent / str(book.settings.get("outbox_dir") or ".")
    target = folder / submission_name(agg.unit_code, period, defs)
    if docx:  # the Word draft first: the submission's presence says the export finished
        write_report_docx(docx_name(target), build_report_docx(agg, header, defs, body=body), password=password)
    return write_submission(target, data, password=password)

