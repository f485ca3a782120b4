"""Merge imported village forms into the Báo cáo thôn table (core: pandas and stdlib only).

Rules (product §6, issue 4):
- a form must belong to this commune, a known active village and a valid month;
- one row per (period, village): a form for a new pair is *accepted* (a row added);
  the same file again, or a file with the same values, is *unchanged*; another
  file for the pair *replaces* the row, and the old row goes to the history with
  the reason, and the log lists the changed fields;
- a row typed by hand (source "nhập tay" or empty) is never silently overwritten:
  only with ``replace_manual``; otherwise the form is *rejected* with the reason.

The file-reading side (``io.formreader``) hands over plain values; the verb
(``verbs.importing``) writes what this module decides, in one workbook session.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from . import messages
from .definitions import Definitions
from .frames import ROW, lost_zero_index, match_lost_zero, records
from .periods import Period
from .text import clean, is_blank

ACCEPTED, UNCHANGED, REPLACED, REJECTED = "accepted", "unchanged", "replaced", "rejected"
STATUSES = (ACCEPTED, UNCHANGED, REPLACED, REJECTED)


def import_config(defs: Definitions) -> dict[str, Any]:
    """forms.toml [import] (checked by ``io.forms.form_config`` before an import starts)."""
    return dict(defs.extra("forms")["import"])


def status_label(defs: Definitions, status: str) -> str:
    """Vietnamese name of a result (forms.toml [results])."""
    return str(defs.extra("forms").get("results", {}).get(status, status))


def is_manual(source: Any, defs: Definitions) -> bool:
    """A report typed by hand: its source is empty or the manual marker."""
    text = clean(source) if isinstance(source, str) else source
    if is_blank(text):
        return True
    marker = str(import_config(defs)["manual_source"])
    return str(text).casefold() == marker.casefold()


def village_states(villages: pd.DataFrame) -> dict[str, bool]:
    """Village code -> active, from the Thôn table (an empty "active" cell counts as active)."""
    return {
        str(code): active is not False
        for code, active in zip(villages["code"], villages["active"].astype(object))
        if not is_blank(code) and code is not pd.NA
    }


FUTURE_MONTHS = 1  # a form is made, and comes back, for the next month at the latest


def latest_month(today: dt.date | None = None) -> str:
    """The last month a form may be for (YYYY-MM): the month after ``today``'s (default: now)."""
    today = today or dt.date.today()
    index = today.year * 12 + today.month - 1 + FUTURE_MONTHS
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def check_identity(
    file: str, meta: Mapping[str, str], *, commune_code: str | None, villages: Mapping[str, bool],
    today: dt.date | None = None, warnings: list[str] | None = None,
) -> list[str]:
    """Reasons why a readable form does not belong here (empty list: it does).

    A village code that lost its leading zero (1 for "01", a spreadsheet application turned
    it into a number) and can be one village only is taken as that village: ``meta`` is
    corrected in place and a warning naming the cell goes to ``warnings``.
    """
    code = clean(meta.get("commune_code") or "") or ""
    if commune_code and code != str(commune_code):
        return [messages.Reason("import_other_commune", file=file, code=code or "?", expected=commune_code)]
    village = clean(meta.get("village_code") or "") or ""
    matched = None if village in villages else match_lost_zero(village, lost_zero_index(villages))
    if matched is not None and isinstance(meta, MutableMapping):
        meta["village_code"] = matched
        if warnings is not None:
            warnings.append(messages.text("import_code_matched", file=file, code=village, matched=matched))
        village = matched
    if village not in villages:
        return [messages.Reason("import_unknown_village", file=file, code=village or "?")]
    if villages[village] is False:
        return [messages.Reason("import_inactive_village", file=file, code=village)]
    period = clean(meta.get("period") or "") or ""
    try:
        if Period.parse(period).kind != "month":
            raise ValueError(period)
    except Exception:
        return [messages.Reason("import_bad_period", file=file, value=period)]
    latest = latest_month(today)
    if str(Period.parse(period)) > latest:  # a mistyped year (2031-05) would pollute every later report
        return [messages.Reason("import_future_period", file=file, value=period, latest=latest)]
    return []


@dataclass(frozen=True)
class Change:
    """One field a replacement changed."""

    key: str
    label: str
    old: Any
    new: Any

    def text(self) -> str:
        return f"{self.label}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    if value is None:
        return messages.text("value_empty")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


@dataclass
class FileResult:
    """What happened to one file of an import."""

    file: str  # file name as the user sees it
    path: str
    sha256: str
    status: str
    period: str | None = None
    village_code: str | None = None
    reasons: list[str] = field(default_factory=list)  # why rejected (Vietnamese)
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # validation, not blocking
    note: str = ""
    row: int | None = None  # Excel row of the report in Báo cáo thôn

    def detail(self) -> str:
        """One line for the summary and the log."""
        if self.status == REJECTED:
            return "; ".join(self.reasons)
        if self.changes:
            return messages.text("import_changes", code=self.village_code, period=self.period,
                                 changes="; ".join(c.text() for c in self.changes))
        text = messages.text("import_new_report", code=self.village_code, period=self.period)
        return f"{text}; {self.note}" if self.note else text

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reason_codes"] = messages.codes(self.reasons)
        out["changes"] = [{"key": c.key, "label": c.label, "old": _plain(c.old), "new": _plain(c.new)} for c in self.changes]
        return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass
class ImportSummary:
    """The result of ``import_reports``: one entry per file, in the order read."""

    workbook: str
    files: list[FileResult] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    warnings: list[str] = field(default_factory=list)  # validation warnings (Vietnamese)

    def __post_init__(self) -> None:
        # the files' own warnings (each names its file) come first, then validation's
        own = [w for f in self.files for w in f.warnings if w not in self.warnings]
        self.warnings[:0] = own

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def accepted(self) -> list[FileResult]:
        return self.by_status(ACCEPTED)

    @property
    def unchanged(self) -> list[FileResult]:
        return self.by_status(UNCHANGED)

    @property
    def replaced(self) -> list[FileResult]:
        return self.by_status(REPLACED)

    @property
    def rejected(self) -> list[FileResult]:
        return self.by_status(REJECTED)

    def counts(self) -> dict[str, int]:
        return {s: len(self.by_status(s)) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "workbook": self.workbook,
            "dry_run": self.dry_run,
            "written": self.written,
            "counts": self.counts(),
            "files": [f.to_dict() for f in self.files],
            "warnings": list(self.warnings),
        }

    def counts_text(self, defs: Definitions) -> str:
        counts = self.counts()
        params = {**counts, **{f"{s}_label": status_label(defs, s) for s in STATUSES}}
        return messages.text("import_summary_counts", **params)

    def lines(self, defs: Definitions) -> list[str]:
        """The summary as the command line prints it (Vietnamese)."""
        out = [messages.text("import_summary_header", n=len(self.files), file=self.workbook), self.counts_text(defs)]
        for status in STATUSES:
            for f in self.by_status(status):
                out.append(f"  [{status_label(defs, status)}] {f.file}: {f.detail()}")
        if self.warnings:
            out.append(messages.text("import_summary_warnings"))
            out.extend(f"  - {w}" for w in self.warnings)
        if self.dry_run:
            out.append(messages.text("import_summary_dry_run"))
        return out


@dataclass(frozen=True)
class Incoming:
    """A readable form that belongs to the commune: its values by column key."""

    file: str
    path: str
    sha256: str
    period: str
    village_code: str
    values: Mapping[str, Any]  # indicator keys, reporter, report_date
    warnings: tuple[str, ...] = ()  # about the form itself (a village code restored), not blocking


@dataclass
class MergeResult:
    """What to write: rows to overwrite in place, rows to add, history rows; and per-file results."""

    updates: dict[int, dict[str, Any]]  # Excel row -> the new report row
    appends: list[dict[str, Any]]
    history: list[dict[str, Any]]
    results: list[FileResult]
    frame: pd.DataFrame  # the reports table after the merge (new rows with predicted Excel rows)


def _same(a: Any, b: Any) -> bool:
    if is_blank(a) or a is pd.NA:
        return is_blank(b) or b is pd.NA
    if is_blank(b) or b is pd.NA:
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def merge_reports(
    existing: pd.DataFrame,
    incoming: Iterable[Incoming | FileResult],
    defs: Definitions,
    *,
    replace_manual: bool = False,
    now: dt.datetime | None = None,
    header_row: int = 1,
    superseded: Collection[str] = (),
) -> MergeResult:
    """Decide, file by file in order, what each form does to the reports table.

    ``existing`` is the table as read (with ``_row``); ``incoming`` mixes readable
    forms (``Incoming``) and files already rejected (``FileResult``), which pass
    through so that results keep the order of the files. ``header_row`` is the
    Excel row of the table's header (to predict the rows of appended reports).
    ``superseded`` holds the SHA-256 of files whose report was already replaced by a newer
    one (the Lịch sử table): importing such a file again changes nothing, whatever the order
    the files come in, so a folder imported twice never undoes a correction.
    """
    now = now or dt.datetime.now().replace(microsecond=0)
    sheet = defs.sheet("reports")
    keys = [c.key for c in sheet.readable_columns]
    compared = [i.key for i in defs.indicators] + ["reporter"]
    labels = {c.key: c.header for c in sheet.columns}
    rows: list[dict[str, Any]] = []  # the table after the merge
    excel_rows: list[int] = []
    for record, excel_row in zip(records(existing), existing[ROW].tolist() if ROW in existing else []):
        rows.append(record)
        excel_rows.append(int(excel_row))
    next_row = max(excel_rows, default=header_row) + 1  # where appended rows will land
    index: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        k = (str(r.get("period") or ""), str(r.get("village_code") or ""))
        index.setdefault(k, i)  # a duplicated report: the first row is the one replaced
    n_existing = len(rows)
    updates: dict[int, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    results: list[FileResult] = []
    for item in incoming:
        if isinstance(item, FileResult):
            results.append(item)
            continue
        new: dict[str, Any] = dict.fromkeys(keys)
        new.update({k: v for k, v in item.values.items() if k in new})
        new["period"], new["village_code"] = item.period, item.village_code
        if new.get("report_date") is None:
            new["report_date"] = now.date()  # the day the commune received it
        new["source"], new["sha256"] = item.file, item.sha256
        result = FileResult(item.file, item.path, item.sha256, ACCEPTED, item.period, item.village_code,
                            warnings=list(item.warnings))
        pos = index.get((item.period, item.village_code))
        if pos is None:
            rows.append(new)
            excel_rows.append(next_row)
            next_row += 1
            index[(item.period, item.village_code)] = len(rows) - 1
            result.row = excel_rows[-1]
            results.append(result)
            continue
        old = rows[pos]
        result.row = excel_rows[pos]
        if item.sha256 in superseded and old.get("sha256") != item.sha256:
            result.status = UNCHANGED
            result.note = messages.text("import_already_superseded", source=old.get("source") or "?")
            results.append(result)
            continue
        if old.get("sha256") == item.sha256 or all(_same(old.get(k), new.get(k)) for k in compared):
            result.status = UNCHANGED
            result.note = messages.text("import_same_values", source=old.get("source") or "?")
            results.append(result)
            continue
        if is_manual(old.get("source"), defs) and not replace_manual:
            result.status = REJECTED
            result.reasons = [messages.Reason("import_manual_row", period=item.period, code=item.village_code)]
            results.append(result)
            continue
        result.status = REPLACED
        result.changes = [
            Change(k, labels.get(k, k), old.get(k), new.get(k))
            for k in [*compared, "report_date"] if not _same(old.get(k), new.get(k))
        ]
        history.append({
            **old,
            "replaced_at": now,
            "reason": messages.text("import_history_reason", file=item.file, sha=item.sha256[:12]),
        })
        rows[pos] = new
        if pos < n_existing:
            updates[excel_rows[pos]] = new
        results.append(result)
    appends = rows[n_existing:]
    frame = pd.DataFrame(rows, columns=keys) if rows else existing.drop(columns=[ROW], errors="ignore").iloc[0:0]
    for col in sheet.readable_columns:  # keep the reader's dtypes for the validation engine
        if col.key in existing.columns and col.key in frame.columns:
            try:
                frame[col.key] = frame[col.key].astype(existing[col.key].dtype)
            except (TypeError, ValueError):
                pass
    frame[ROW] = pd.Series(excel_rows, dtype="int64")
    return MergeResult(updates, appends, history, results, frame)


def log_rows(summary: ImportSummary, defs: Definitions, *, user: str, time: dt.datetime) -> list[dict[str, Any]]:
    """One row of the Nhật ký table per file: file, SHA-256, time, user, result, detail."""
    action = str(import_config(defs)["action"])
    return [
        {"time": time, "action": action, "file": f.file, "sha256": f.sha256 or None,
         "result": status_label(defs, f.status), "detail": f.detail()[:2000], "user": user}
        for f in summary.files
    ]


def reported_text(frame: pd.DataFrame, villages: Mapping[str, bool], period: str | None) -> str | None:
    """'9/9': active villages with a report for ``period`` / active villages."""
    if not period:
        return None
    active = {code for code, on in villages.items() if on is not False}
    if frame is None or not len(frame):
        return f"0/{len(active)}"
    done = set(frame.loc[frame["period"] == period, "village_code"].dropna().astype(str)) & active
    return f"{len(done)}/{len(active)}"
