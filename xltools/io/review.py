"""The level above's answer in files: the rollup's review sheets and the feedback file.

A rollup workbook gets three sheets after its report (report.toml [review]): Kiểm tra (the
findings of ``core.upstairs`` per unit), Thay đổi (what a corrected submission changed) and
Quyết định (one row per unit, proposed by the toolkit; the clerk changes the decision and the
reason in Excel or LibreOffice). ``read_decisions`` reads them back (python-calamine, after the
safety checks), finding each table by its header, so a file saved again by another
application still reads.

A feedback file (``PhanHoi_<unit>_<period>.xlsx``) is what the unit gets back: a printable
Phản hồi sheet (who answered, the decision, the reasons, the findings with the village and
indicator they concern) and a Thông tin sheet of key/value facts with the SHA-256 of the
submission it answers and a checksum over everything it says (``feedback_sha256``), so that an
edited decision is refused by the unit's ``receive``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_calamine as pc
import xlsxwriter

from ..core.definitions import Definitions, get_definitions, report_defs
from ..core.errors import WorkbookError, XltoolsError
from ..core.messages import fill
from ..core.periods import Period
from ..core.text import clean, header_key
from ..core.upstairs import ACCEPTED, RETURNED, Decision, Finding, Review
from .bulkxml import BulkRows, bulk_rows
from .files import write_atomic
from .safety import read_checked
from .submission import lines_needed

FEEDBACK_FORMAT = "xltools-feedback-1"


def review_words(defs: Definitions) -> dict[str, Any]:
    """report.toml [review]."""
    spec = report_defs(defs).get("review", {})
    return spec if isinstance(spec, dict) else {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%d/%m/%Y")
    return clean(str(value)) or ""


def _int(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text.lstrip("-").isdigit() else None


# ------------------------------------------------------------------------------ writing (XlsxWriter)
class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, font: str) -> None:
        self.title = wb.add_format({"font_name": font, "bold": True, "font_size": 13})
        self.head = wb.add_format({"font_name": font, "bold": True, "text_wrap": True, "border": 1,
                                   "valign": "vcenter", "bg_color": "#D9E1F2"})
        self.text = wb.add_format({"font_name": font, "num_format": "@", "text_wrap": True, "valign": "top",
                                   "border": 1})
        self.num = wb.add_format({"font_name": font, "num_format": "#,##0", "valign": "top", "border": 1})
        self.plain = wb.add_format({"font_name": font, "text_wrap": True, "valign": "top"})
        self.label = wb.add_format({"font_name": font, "bold": True, "valign": "top"})
        self.returned = wb.add_format({"font_name": font, "bold": True, "font_color": "#C00000"})
        self.accepted = wb.add_format({"font_name": font, "bold": True, "font_color": "#006100"})
        self.small = wb.add_format({"font_name": font, "num_format": "@", "text_wrap": True, "valign": "top",
                                    "border": 1, "font_size": 7})
        self.entry = wb.add_format({"font_name": font, "num_format": "@", "valign": "top", "bg_color": "#FFF2CC",
                                    "border": 1, "locked": False, "text_wrap": True})


def _table(ws: Any, f: _Formats, top: int, columns: Sequence[str], rows: Sequence[Sequence[Any]],
           widths: Sequence[float], entry_columns: Sequence[int] = (), small_columns: Sequence[int] = (),
           bulk: BulkRows | None = None) -> None:
    """A header at ``top`` and the rows below it, with a filter and the header frozen. ``bulk``:
    the rows go into the sheet's XML after the workbook is written (a table nothing is written
    below; a national month's findings)."""
    for c, h in enumerate(columns):
        ws.write_string(top, c, h, f.head)
    cache: dict[tuple[str, int], int] = {}

    def measured(text: str, c: int) -> int:
        if (text, c) not in cache:
            cache[(text, c)] = lines_needed(text, widths[c] * 5.0, 11)  # a width unit is about 5 pt of Times New Roman 11
        return cache[(text, c)]

    heights: dict[int, float] = {}
    for i, row in enumerate(rows, start=top + 1):
        # a text no longer than the column's width in digits fits one line: only the longer ones are
        # measured, each distinct (text, column) once (labels and messages repeat over thousands of rows)
        lines = max((measured(v, c) for c, v in enumerate(row)
                     if isinstance(v, str) and c < len(widths) and len(v) > widths[c] and c not in small_columns),
                    default=1)
        if lines > 1:
            heights[i] = round(lines * 11 * 1.25 + 4, 1)
    formats = [f.entry if c in entry_columns else f.small if c in small_columns else f.text for c in range(len(columns))]
    if bulk is not None:
        bulk.add(ws, top + 1, rows, formats, [f.num] * len(columns), heights)
    else:
        for i, row in enumerate(rows, start=top + 1):
            if i in heights:
                ws.set_row(i, heights[i])
            for c, value in enumerate(row):
                if isinstance(value, int) and not isinstance(value, bool):
                    ws.write_number(i, c, value, f.num)
                else:
                    ws.write_string(i, c, "" if value is None else str(value), formats[c])
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.set_row(top, 32)
    ws.autofilter(top, 0, top + max(len(rows), 1), len(columns) - 1)
    ws.freeze_panes(top + 1, 0)
    ws.repeat_rows(top)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def write_review_sheets(wb: xlsxwriter.Workbook, review: Review, period_label: str, defs: Definitions, *,
                        decided_by: str = "", decided_at: dt.date | None = None) -> None:
    """Kiểm tra, Thay đổi and Quyết định of a rollup workbook."""
    w = review_words(defs)
    f = _Formats(wb, report_defs(defs)["layout"].font)
    bulk = bulk_rows(wb)  # the three tables' rows: nothing is written below them
    severity = w.get("severity_words", {})
    labels = {i.key: i.label for i in defs.indicators}
    names = {d.unit_code: d.unit_name for d in review.decisions}

    ws = wb.add_worksheet(w["checks_sheet"])
    ws.write_string(0, 0, fill(w["checks_title"], period=period_label), f.title)
    if not review.findings:
        ws.write_string(1, 0, w["checks_none"], f.plain)
    rows = [[x.unit_code, x.unit_name, x.period, severity.get(x.severity, x.severity), x.rule, x.part_code,
             x.part_name, labels.get(x.key, x.key), x.value, x.message] for x in review.findings]
    _table(ws, f, 2, w["checks_columns"], rows, (10, 16, 9, 9, 20, 10, 18, 24, 8, 70), bulk=bulk)

    ws = wb.add_worksheet(w["changes_sheet"])
    ws.write_string(0, 0, fill(w["changes_title"], period=period_label), f.title)
    if not review.changes:
        ws.write_string(1, 0, w["changes_none"], f.plain)
    files = {d.unit_code: d for d in review.decisions}
    rows = []
    for ch in review.changes:
        delta = ch.new - ch.old if ch.new is not None and ch.old is not None else None
        decision = files.get(ch.unit_code)
        rows.append([ch.unit_code, names.get(ch.unit_code, ""), ch.part_code, ch.part_name or w["total_part"],
                     labels.get(ch.key, ch.key), ch.old, ch.new, delta,
                     decision.replaces if decision else "", Path(decision.file).name if decision else ""])
    _table(ws, f, 2, w["changes_columns"], rows, (10, 16, 10, 18, 30, 9, 9, 10, 14, 28), bulk=bulk)

    ws = wb.add_worksheet(w["decisions_sheet"])
    ws.write_string(0, 0, fill(w["decisions_title"], period=period_label), f.title)
    ws.merge_range(1, 0, 1, 1, w["decided_by_label"], f.label)  # the label over two columns, the entry after
    ws.merge_range(1, 2, 1, 3, decided_by, f.entry)
    ws.merge_range(2, 0, 2, 1, w["decided_at_label"], f.label)
    ws.merge_range(2, 2, 2, 3, (decided_at or dt.date.today()).strftime("%d/%m/%Y"), f.entry)
    ws.merge_range(3, 0, 3, 7, w["instructions"], f.plain)
    ws.set_row(3, 45)
    words = w["decision_words"]
    rows = [[d.unit_code, d.unit_name, d.period, Path(d.file).name, d.report_date_text, d.replaces, d.errors,
             d.warnings, words[d.decision], d.reason, d.sha256, d.data_sha256] for d in review.decisions]
    top = 5
    _table(ws, f, top, w["decisions_columns"], rows, (10, 18, 9, 28, 12, 12, 7, 9, 13, 45, 26, 26),
           entry_columns=(8, 9), small_columns=(10, 11), bulk=bulk)
    if rows:
        ws.data_validation(top + 1, 8, top + len(rows), 8, {"validate": "list",
                                                            "source": [words[ACCEPTED], words[RETURNED]]})


# ------------------------------------------------------------------------------ reading a rollup workbook
@dataclass
class RollupAnswers:
    """What ``feedback`` needs from a rollup workbook."""

    unit_code: str
    unit_name: str
    period: str
    decided_by: str
    decided_at: str
    decisions: list[Decision] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _grid(wb: Any, names: Sequence[str], wanted: str, file: str, missing: str = "submission_not_ours") -> list[list[Any]]:
    key = header_key(wanted)
    for name in names:
        if header_key(name) == key:
            grid: list[list[Any]] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            return grid
    raise WorkbookError(missing, file=file, sheet=wanted)


def _find_header(grid: Sequence[Sequence[Any]], columns: Sequence[str], file: str, sheet: str) -> tuple[int, dict[str, int]]:
    """The row holding the table's header and each column's index (matched by text, not place)."""
    wanted = [header_key(c) for c in columns]
    for r, line in enumerate(grid):
        keys = [header_key(_text(v)) for v in line]
        if all(k in keys for k in wanted):
            return r, {c: keys.index(k) for c, k in zip(columns, wanted)}
    raise WorkbookError("review_no_table", file=file, sheet=sheet)


def _open(path: Path, limits: Mapping[str, Any]) -> Any:
    data, zf = read_checked(path, limits)
    zf.close()
    try:
        return pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError:
        raise WorkbookError("encrypted", file=path.name) from None
    except Exception as exc:
        raise WorkbookError("unreadable", file=path.name, reason=str(exc) or type(exc).__name__) from None


def _info(grid: Sequence[Sequence[Any]]) -> dict[str, str]:
    return {_text(line[0]): _text(line[2] if len(line) > 2 else "") for line in grid if line and _text(line[0])}


def read_answers(path: str | Path, limits: Mapping[str, Any], defs: Definitions | None = None) -> RollupAnswers:
    """The decisions (with the clerk's changes) and findings of a rollup workbook."""
    defs = defs or get_definitions()
    path = Path(path)
    w = review_words(defs)
    rep = report_defs(defs)
    wb = _open(path, limits)
    try:
        names = list(wb.sheet_names)
        info = _info(_grid(wb, names, rep["sheets"]["info"], path.name)[3:])
        decided = _grid(wb, names, w["decisions_sheet"], path.name, "review_not_rollup")
        checks = _grid(wb, names, w["checks_sheet"], path.name, "review_not_rollup")
    finally:
        wb.close()
    words = {header_key(v): k for k, v in w["decision_words"].items()}
    severity = {header_key(v): k for k, v in w["severity_words"].items()}
    by_label = {header_key(i.label): i.key for i in defs.indicators}
    cols = w["decisions_columns"]
    top, at = _find_header(decided, cols, path.name, w["decisions_sheet"])
    head = {}
    for line in decided[:top]:  # "label | entry" lines above the table: the first text and the next
        texts = [_text(v) for v in line if _text(v)]
        if texts:
            head[header_key(texts[0])] = texts[1] if len(texts) > 1 else ""
    answers = RollupAnswers(info.get("unit_code", ""), info.get("unit_name", ""), info.get("period", ""),
                            head.get(header_key(w["decided_by_label"]), ""),
                            head.get(header_key(w["decided_at_label"]), ""))
    for r, line in enumerate(decided[top + 1:], start=top + 2):
        cell = {c: _text(line[i]) if i < len(line) else "" for c, i in at.items()}
        code = cell[cols[0]]
        if not code:
            continue
        decision = words.get(header_key(cell[cols[8]]))
        if decision is None:
            raise WorkbookError("review_bad_decision", file=path.name, sheet=w["decisions_sheet"], row=r,
                                value=cell[cols[8]], allowed=" / ".join(w["decision_words"].values()))
        answers.decisions.append(Decision(
            unit_code=code, unit_name=cell[cols[1]], period=cell[cols[2]], decision=decision, reason=cell[cols[9]],
            file=cell[cols[3]], sha256=cell[cols[10]], replaces=cell[cols[5]], errors=_int(cell[cols[6]]) or 0,
            warnings=_int(cell[cols[7]]) or 0, proposed=False, report_date_text=cell[cols[4]],
            data_sha256=cell[cols[11]]))
    cols = w["checks_columns"]
    top, at = _find_header(checks, cols, path.name, w["checks_sheet"])
    for line in checks[top + 1:]:
        cell = {c: _text(line[i]) if i < len(line) else "" for c, i in at.items()}
        if not cell[cols[0]]:
            continue
        answers.findings.append(Finding(
            unit_code=cell[cols[0]], unit_name=cell[cols[1]], period=cell[cols[2]], rule=cell[cols[4]],
            severity=severity.get(header_key(cell[cols[3]]), "warning"), part_code=cell[cols[5]],
            part_name=cell[cols[6]], key=by_label.get(header_key(cell[cols[7]]), cell[cols[7]]),
            value=_int(cell[cols[8]]), message=cell[cols[9]]))
    return answers


# ------------------------------------------------------------------------------ the feedback file
@dataclass
class Feedback:
    """One feedback file as the unit reads it."""

    path: Path
    info: dict[str, str]
    findings: list[Finding]

    @property
    def decision(self) -> str:
        return self.info.get("decision", "")

    def get(self, key: str) -> str:
        return self.info.get(key, "")


INFO_KEYS = ("format", "from_unit_code", "from_unit_name", "unit_code", "unit_name", "period", "decision", "reason",
             "decided_by", "decided_at", "submission_file", "submission_date", "submission_sha256",
             "submission_data_sha256", "replaces",
             "findings", "created_at")


def feedback_checksum(info: Mapping[str, str], findings: Sequence[Finding]) -> str:
    """SHA-256 over every fact and finding a feedback file states."""
    facts = [[k, info.get(k, "")] for k in INFO_KEYS]
    lines = [[f.severity, f.rule, f.part_code, f.part_name, f.key, "" if f.value is None else str(f.value), f.message]
             for f in findings]
    return hashlib.sha256(json.dumps([facts, lines], ensure_ascii=False).encode()).hexdigest()


def _period_label(period: str) -> str:
    try:
        return Period.parse(period).label
    except XltoolsError:
        return period


def feedback_name(unit_code: str, period: str, defs: Definitions) -> str:
    return fill(review_words(defs)["feedback_file"], unit_code=unit_code, period=period)


def build_feedback(info: Mapping[str, str], findings: Sequence[Finding], defs: Definitions) -> bytes:
    """The feedback file's bytes: Phản hồi (printable) and Thông tin (facts and checksum)."""
    w = review_words(defs)
    rep = report_defs(defs)
    facts = {k: info.get(k, "") for k in INFO_KEYS}
    facts["format"] = FEEDBACK_FORMAT
    facts["findings"] = str(len(findings))
    buffer = io.BytesIO()
    font = rep["layout"].font
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "default_format_properties": {"font_name": font, "font_size": 11}})
    try:
        f = _Formats(wb, font)
        ws = wb.add_worksheet(w["feedback_sheet"])
        ws.merge_range(0, 0, 0, 7, fill(w["feedback_title"], period=_period_label(facts["period"]).upper()), f.title)
        words = w["decision_words"]
        lines = [
            (w["feedback_from"], facts["from_unit_name"]),
            (w["feedback_to"], f"{facts['unit_name']} ({facts['unit_code']})"),
            (w["feedback_period"], facts["period"]),
            (w["feedback_report"], fill(w["feedback_report_text"], file=facts["submission_file"],
                                        date=facts["submission_date"])),
        ]
        if facts["replaces"]:
            lines.append(("", fill(w["feedback_replaces"], date=facts["replaces"])))
        lines += [
            (w["feedback_decision"], words.get(facts["decision"], facts["decision"])),
            (w["feedback_reason"], facts["reason"]),
            (w["feedback_decided"], ", ".join(x for x in (facts["decided_by"], facts["decided_at"]) if x)),
        ]
        for r, (label, value) in enumerate(lines, start=2):
            ws.merge_range(r, 0, r, 1, label, f.label)
            strong = label == w["feedback_decision"]
            ws.merge_range(r, 2, r, 7, value, f.returned if strong and facts["decision"] == RETURNED
                           else f.accepted if strong else f.plain)
        top = len(lines) + 3
        ws.write_string(top, 0, w["feedback_findings"], f.label)
        severity = w["severity_words"]
        labels = {i.key: i.label for i in defs.indicators}
        rows = [[severity.get(x.severity, x.severity), x.rule, x.part_code, x.part_name, x.key, labels.get(x.key, x.key),
                 "" if x.value is None else str(x.value), x.message] for x in findings]
        _table(ws, f, top + 1, w["feedback_columns"], rows, (9, 19, 9, 16, 22, 28, 7, 60))
        end = top + 2 + len(rows)
        if not findings:
            ws.merge_range(end, 0, end, 7, w["feedback_no_findings"], f.plain)
            end += 1
        ws.merge_range(end + 1, 0, end + 1, 7, w["feedback_how"], f.plain)
        ws.activate()
        wi = wb.add_worksheet(w["feedback_info_sheet"])
        labels_info = rep.get("info", {})
        wi.write_string(0, 0, labels_info.get("title", ""), f.title)
        for c, h in enumerate(labels_info.get("columns", ["key", "label", "value"])):
            wi.write_string(2, c, h, f.head)
        facts["feedback_sha256"] = feedback_checksum(facts, findings)
        for r, (k, v) in enumerate(facts.items(), start=3):
            wi.write_string(r, 0, k, f.text)
            wi.write_string(r, 1, labels_info.get("labels", {}).get(k, k), f.text)
            wi.write_string(r, 2, v, f.text)
        wi.set_column(0, 0, 22)
        wi.set_column(1, 1, 30)
        wi.set_column(2, 2, 70)
    finally:
        wb.close()
    return buffer.getvalue()


def write_feedback(path: str | Path, data: bytes) -> Path:
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(data), keep_backup=False)


def read_feedback(path: str | Path, limits: Mapping[str, Any], defs: Definitions | None = None, *,
                  verify: bool = True) -> Feedback:
    """Read (and by default verify) one feedback file; WorkbookError with the reason."""
    defs = defs or get_definitions()
    path = Path(path)
    w = review_words(defs)
    wb = _open(path, limits)
    try:
        names = list(wb.sheet_names)
        info = _info(_grid(wb, names, w["feedback_info_sheet"], path.name, "feedback_not_ours")[3:])
        sheet = _grid(wb, names, w["feedback_sheet"], path.name, "feedback_not_ours")
    finally:
        wb.close()
    if info.get("format") != FEEDBACK_FORMAT:
        raise WorkbookError("feedback_not_ours", file=path.name)
    cols = w["feedback_columns"]
    top, at = _find_header(sheet, cols, path.name, w["feedback_sheet"])
    severity = {header_key(v): k for k, v in w["severity_words"].items()}
    findings = []
    for line in sheet[top + 1:]:
        cell = {c: _text(line[i]) if i < len(line) else "" for c, i in at.items()}
        if not cell[cols[1]]:  # the rule id: the how-to line below the table has none
            continue
        findings.append(Finding(info.get("unit_code", ""), info.get("unit_name", ""), info.get("period", ""),
                                cell[cols[1]], severity.get(header_key(cell[cols[0]]), "warning"), cell[cols[2]],
                                cell[cols[3]], cell[cols[4]], _int(cell[cols[6]]), cell[cols[7]]))
    fb = Feedback(path, info, findings)
    if verify and (not info.get("feedback_sha256") or info["feedback_sha256"] != feedback_checksum(info, findings)):
        raise WorkbookError("feedback_checksum", file=path.name)
    return fb
