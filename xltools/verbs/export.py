"""``export``: the commune's submission for a period, as a new .xlsx (never the .xlsm).

Reads the commune workbook (it is never modified), validates it, refuses while there
are errors unless forced, aggregates the period and writes
``BC138_<commune code>_<period>.xlsx`` with the sheets Báo cáo, Biểu đồ, Số liệu and
Thông tin (and Thành phần only with ``include_members``).
"""
from __future__ import annotations

from pathlib import Path

from ..core.aggregation import aggregate_book, report_defs
from ..core.book import CommuneBook
from ..core.definitions import Definitions, get_definitions
from ..core.errors import XltoolsError
from ..core.periods import Period
from ..core.submission import info_rows, member_terms, redact, report_header, submission_name
from ..core.validation import validate_book
from ..core.validation.structure import refuse_foreign
from ..io.reader import read_workbook
from ..io.submission import build_submission, write_submission


class ExportRefused(XltoolsError):
    """Validation found errors and the export was not forced."""


def _validate(book: CommuneBook, period: Period) -> tuple[int, int, list[str]]:
    """(errors, warnings, a few error descriptions) from the validation engine."""
    report = validate_book(book, period)
    errors = [i for i in report.issues if i.severity == "error"]
    # joined with "; " into a sentence of the catalogue: no full stop of their own
    examples = [f"{i.sheet}{' ' + i.cell if i.cell else ''}: {i.message.rstrip('.')}" for i in errors[:3]]
    return int(report.errors), int(report.warnings), examples


def export(
    path: str | Path,
    period: str | Period | None = None,
    out_dir: str | Path | None = None,
    *,
    password: str | None = None,
    force: bool = False,
    include_members: bool = False,
    defs: Definitions | None = None,
) -> Path:
    """Write the submission of ``period`` (default: the workbook's current period); return its path.

    ``out_dir`` defaults to the ``outbox_dir`` setting beside the workbook. Refuses while
    validation finds errors unless ``force``; the report then states it was forced.
    Member names and phones are left out unless ``include_members``.
    """
    defs = defs or get_definitions()
    path = Path(path)
    book = read_workbook(path, defs, strict=False)
    refuse_foreign(book)  # a form, a submission or another file: no report, forced or not
    chosen = book.chosen_period(period)
    period = Period.parse(chosen)
    errors, warnings, examples = _validate(book, period)
    if errors and not force:
        raise ExportRefused("export_refused", file=path.name, count=errors, examples="; ".join(examples))
    agg = aggregate_book(book, period)
    rep = report_defs(defs)
    mark = rep.get("text", {}).get("redacted", "…")
    members = None
    if include_members:
        members = {k: book.tables[k] for k in ("board", "teams") if k in book.tables}
    else:
        terms = member_terms(book)
        agg.notes = [(name, redact(note, terms, mark)) for name, note in agg.notes]
    rows = agg.long_rows()
    info = info_rows(agg, rows, kind="commune", source_sha256=book.sha256, errors=errors, warnings=warnings,
                     forced=bool(errors and force), members=include_members,
                     doc_number=book.settings.get("doc_next_number"), defs=defs)
    header = report_header(book.settings, defs)
    header["forced_errors"] = errors if (errors and force) else 0
    data = build_submission(agg, rows, info, header, defs, members=members)
    folder = Path(out_dir) if out_dir else path.parent / str(book.settings.get("outbox_dir") or ".")
    target = folder / submission_name(agg.unit_code, period, defs)
    return write_submission(target, data, password=password)

