"""``export``: the commune's submission for a period, as a new .xlsx (never the .xlsm).

Reads the commune workbook (it is never modified), validates it, refuses while there
are errors unless forced, aggregates the period and writes
``BC138_<commune code>_<period>.xlsx`` with the sheets Báo cáo, Biểu đồ, Số liệu and
Thông tin (and Thành phần only with ``include_members``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..aggregation import Aggregate, aggregate_book, cut_day, report_defs, rows_checksum
from ..book import CommuneBook
from ..definitions import Definitions, get_definitions
from ..errors import XltoolsError
from ..io.reader import read_workbook
from .validate import refuse_foreign
from ..io.submission import build_submission, write_submission
from ..periods import Period
from ..validation import validate_book

SUBMISSION_FORMAT = "xltools-submission-1"


class ExportRefused(XltoolsError):
    """Validation found errors and the export was not forced."""


def _validate(book: CommuneBook, period: Period) -> tuple[int, int, list[str]]:
    """(errors, warnings, a few error descriptions) from the validation engine."""
    report = validate_book(book, period)
    errors = [i for i in report.issues if i.severity == "error"]
    # joined with "; " into a sentence of the catalogue: no full stop of their own
    examples = [f"{i.sheet}{' ' + i.cell if i.cell else ''}: {i.message.rstrip('.')}" for i in errors[:3]]
    return int(report.errors), int(report.warnings), examples


def member_terms(book: CommuneBook) -> list[str]:
    """Names and phones of people (columns marked ``personal`` in workbook.toml), to keep
    them out of a submission."""
    terms: set[str] = set()
    for sheet in book.defs.table_sheets:
        frame = book.tables.get(sheet.key)
        if frame is None:
            continue
        for col in sheet.columns:
            if col.personal and col.key in frame:
                terms.update(str(v) for v in frame[col.key].dropna() if str(v).strip())
    return sorted(terms, key=len, reverse=True)


def redact(text: str, terms: Iterable[str], mark: str) -> str:
    """``text`` with every term replaced by ``mark`` (longest terms first, as member_terms sorts them)."""
    for term in terms:
        if term:
            text = text.replace(term, mark)
    return text


def report_header(settings: dict[str, Any], defs: Definitions, *, signer: bool = True) -> dict[str, Any]:
    """The header and signature fields of the Decree 30 layout, from the settings."""
    return {
        "parent_body": settings.get("parent_body") or "",
        "issuing_body": settings.get("issuing_body") or "",
        "doc_number": settings.get("doc_next_number"),
        "doc_code": settings.get("doc_code") or "",
        "place_name": settings.get("place_name") or "",
        "model_name": settings.get("model_name") or "",
        "upper_bcd_name": settings.get("upper_bcd_name") or "",
        "upper_level_name": settings.get("upper_level_name") or "",
        "signer": (settings.get("bcd_head") or "") if signer else "",
        "date": dt.date.today(),
        "cut_day": cut_day(defs),  # the data window printed under the title
    }


def info_rows(agg: Aggregate, rows: list[tuple], *, kind: str, source_sha256: str, errors: int, warnings: int,
              forced: bool, members: bool, doc_number: Any, defs: Definitions, created_at: dt.datetime | None = None) -> list[tuple[str, Any]]:
    """The Thông tin facts, in order (values as text)."""
    spec = report_defs(defs).get("info", {})
    created = (created_at or dt.datetime.now()).replace(microsecond=0)
    return [
        ("format", SUBMISSION_FORMAT),
        ("kind", spec.get("kind_upper" if kind == "upper" else "kind_commune", kind)),
        ("toolkit_version", __version__),
        ("definitions_version", defs.version),
        ("unit_code", agg.unit_code),
        ("unit_name", agg.unit_name),
        ("period", str(agg.period)),
        ("created_at", created.isoformat(sep=" ")),
        ("document_number", "" if doc_number is None else str(doc_number)),
        ("source_sha256", source_sha256),
        ("data_sha256", rows_checksum(rows)),
        ("data_rows", str(len(rows))),
        ("parts", str(len(agg.parts))),
        ("validation_errors", str(errors)),
        ("validation_warnings", str(warnings)),
        ("forced", spec.get("yes", "yes") if forced else spec.get("no", "no")),
        ("members_included", spec.get("yes", "yes") if members else spec.get("no", "no")),
    ]


def submission_name(unit_code: str, period: Period | str, defs: Definitions) -> str:
    template = report_defs(defs).get("file_name", "BC138_{unit_code}_{period}.xlsx")
    return template.format(unit_code=unit_code or "XXXXX", period=str(period))


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

