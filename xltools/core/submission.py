"""What a submission says besides its numbers: the header and signature fields, the
Thông tin facts, the file name, and the privacy redaction of free text.

Shared by ``export`` (a commune's submission) and ``rollup`` (the level above's).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from .. import __version__
from .aggregation import Aggregate, DataRow, cut_day
from .book import CommuneBook
from .checksum import rows_checksum
from .definitions import Definitions, report_defs
from .errors import InputError
from .periods import Period

SUBMISSION_FORMAT = "xltools-submission-1"


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


_FOLD = str.maketrans({"đ": "d", "Đ": "D"})  # đ has no decomposition under NFD: folded by hand
_PHONE = re.compile(r"^\+?[\d\s.\-()]+$")
_PHONE_SEP = r"[\s.\-()]{0,2}"  # what people type between digits: "0900 000 102", "0900.000.102"
_MIN_PHONE_DIGITS = 6


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased, without diacritics (đ → d), white-space runs as one space, and for
    each folded character the index of the original character it came from."""
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not space:
                out.append(" ")
                where.append(i)
            space = True
            continue
        space = False
        for f in unicodedata.normalize("NFD", ch.translate(_FOLD)).casefold():
            if not unicodedata.combining(f):
                out.append(f)
                where.append(i)
    return "".join(out), where


def _fold(text: str) -> str:
    return fold_with_map(text)[0].strip()


def _term_patterns(terms: Iterable[str]) -> list[str]:
    """One regular expression per term, matched against folded text: a name as whole words
    whatever its case, diacritics and spacing; a phone by its digits whatever the separators
    (and +84 for the leading 0)."""
    patterns: list[str] = []
    for term in terms:
        term = str(term).strip()
        digits = re.sub(r"\D", "", term)
        if _PHONE.match(term) and len(digits) >= _MIN_PHONE_DIGITS:
            head, rest = digits[0], digits[1:]
            first = r"(?:0|\+?84)" if head == "0" else re.escape(head)
            patterns.append(r"(?<!\d)" + first + "".join(_PHONE_SEP + d for d in rest) + r"(?!\d)")
        else:
            folded = _fold(term)
            if folded:
                patterns.append(r"(?<!\w)" + re.escape(folded).replace(r"\ ", " ").replace(" ", r"\s?") + r"(?!\w)")
    return patterns


def redact(text: str, terms: Iterable[str], mark: str) -> str:
    """``text`` with every mention of a term replaced by ``mark``.

    Names and phones are matched in a normalised form (case, diacritics, đ, spacing, phone
    separators), and each match is replaced in the original text, the rest kept as it was.
    """
    if not text:
        return text
    patterns = sorted(_term_patterns(terms), key=len, reverse=True)  # longest first
    if not patterns:
        return text
    folded, where = fold_with_map(text)
    spans: list[tuple[int, int]] = []
    for match in re.finditer("|".join(patterns), folded):
        if match.end() > match.start():
            # up to the next kept character: combining marks of the last letter go too
            end = where[match.end()] if match.end() < len(where) else len(text)
            spans.append((where[match.start()], end))
    for start, end in reversed(spans):  # finditer gives non-overlapping spans in order
        text = text[:start] + mark + text[end:]
    return text


def report_day(settings: dict[str, Any], period: Period | None, defs: Definitions,
               today: dt.date | None = None) -> dt.date:
    """The date on the report's date line: the ``report_date`` setting when it can belong to
    ``period`` (not before the period's data cut-off, not after today), else today. A date left
    in the settings from an earlier month is so never printed on a later report."""
    today = today or dt.date.today()
    value = settings.get("report_date")
    if isinstance(value, str):  # a rollup's --settings file may give it as text (ISO)
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            value = None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date) or value > today:
        return today
    if period is not None and value < period.window(cut_day(defs))[1]:
        return today
    return value


def report_header(settings: dict[str, Any], defs: Definitions, *, signer: bool = True,
                  period: Period | None = None) -> dict[str, Any]:
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
        "date": report_day(settings, period, defs),
        "cut_day": cut_day(defs),  # the data window printed under the title
        "plan_number": settings.get("plan_number") or "",  # the plan the report executes
        "plan_date": settings.get("plan_date"),
        "directions": settings.get("report_directions") or "",  # phương hướng, when the officer wrote it
        "agencies_count": settings.get("agencies_count"),  # on the territory (section I), when entered
        "enterprises_count": settings.get("enterprises_count"),
    }


def info_rows(agg: Aggregate, rows: Sequence[DataRow], *, kind: str, source_sha256: str, errors: int, warnings: int,
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


def submission_periods(names: Iterable[str], defs: Definitions) -> list[str]:
    """The periods of the file names that follow report.toml's ``file_name`` (BC138_<unit>_<period>.xlsx),
    each once: the one most files have first (a folder of one month's reports, and a quarter's
    among them), then the most recent."""
    template = report_defs(defs).get("file_name", "BC138_{unit_code}_{period}.xlsx")
    pattern = re.escape(template).replace(re.escape("{unit_code}"), r"[^_\\/]+").replace(re.escape("{period}"), "(.+)")
    found: dict[str, int] = {}
    for name in names:
        match = re.fullmatch(pattern, name, re.IGNORECASE)
        if match:
            try:
                period = str(Period.parse(match.group(1)))
            except InputError:  # a name that only looks like a submission's
                continue
            found[period] = found.get(period, 0) + 1
    return sorted(found, key=lambda p: (found[p], p), reverse=True)
