"""``receive``: the level above's feedback files into the commune workbook (and ``--reopen``).

Each feedback file (``xltools feedback`` upstairs) is read after the safety checks and verified
(its checksum), then judged against the workbook (``core.approval``): another commune's, an
answer to a submission this workbook did not export, or to one exported again since, is
refused with the reason. What is received goes to the Phản hồi cấp trên table (the decision and
the findings), Nhật ký (one row per file) and the dashboard (the state of the latest periods);
Kiểm tra is rewritten in the same save, with the findings of a returned period at the cells
they concern. ``reopen`` lifts the lock of accepted periods (a "Mở lại" row, in Nhật ký).
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core import messages
from ..core.approval import (
    ACCEPTED,
    FEEDBACK,
    Received,
    add_reopening,
    dashboard_text,
    decision_word,
    has_feedback,
    judge_feedback,
    locked_periods,
    period_states,
    receive_change,
)
from ..core.book import CommuneBook
from ..core.change import WorkbookChange, now
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError, WorkbookError, XltoolsError
from ..core.frames import ROW
from ..core.outputs import validation_change
from ..core.periods import Period
from ..core.validation import validate_book
from ..core.validation.render import highlighted_cells
from ..io.files import current_user, refuse_if_open
from ..io.reader import read_sheet_rows, read_workbook
from ..io.review import read_feedback, review_words
from ..io.sink import apply_change
from ..io.submission_reader import submission_limits


@dataclass
class ReceiveResult:
    """What ``receive`` did with each file, and the periods reopened."""

    path: Path
    files: list[Received] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    defs: Definitions | None = field(default=None, repr=False)

    @property
    def rejected(self) -> list[Received]:
        return [r for r in self.files if r.status == "rejected"]

    def as_dict(self) -> dict[str, Any]:
        return {"workbook": str(self.path), "written": self.written, "reopened": list(self.reopened),
                "files": [{"file": r.file, "status": r.status, "period": r.period, "decision": r.decision,
                           "reason": r.reason or r.info.get("reason", ""), "findings": len(r.findings),
                           "replaces": r.info.get("replaces", "")} for r in self.files]}

    def summary_lines(self) -> list[str]:
        defs = self.defs or get_definitions()
        lines = []
        for r in self.files:
            if r.status == "rejected":
                lines.append(f"  ✗ {r.file}: {r.reason}")
                continue
            word = decision_word(defs, r.decision)
            reason = r.info.get("reason", "")
            lines.append(messages.text(f"receive_line_{r.status}", file=r.file, period=r.period, decision=word,
                                       reason=f": {reason}" if reason else "", count=len(r.findings)))
            lines.extend(f"    {note}" for note in r.notes)
        for period in self.reopened:
            lines.append(messages.text("receive_reopened", period=period))
        if self.dry_run:
            lines.append(messages.text("import_summary_dry_run"))
        return [messages.text("receive_done", received=sum(r.status == "received" for r in self.files),
                              total=len(self.files), workbook=self.path.name), *lines]


def feedback_files(sources: Iterable[str | Path], defs: Definitions | None = None) -> list[Path]:
    """Files given, and the .xlsx files of folders given whose name begins as report.toml
    [review] feedback_file says (PhanHoi_…)."""
    prefix = review_words(defs or get_definitions())["feedback_file"].split("{")[0].casefold()
    out: list[Path] = []
    for source in map(Path, sources):
        if not source.exists():
            raise WorkbookError("not_found", file=str(source))
        if source.is_dir():
            out.extend(sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() == ".xlsx"
                              and p.name.casefold().startswith(prefix) and not p.name.startswith(("~$", "."))))
        else:
            out.append(source)
    return out


def _judge(book: CommuneBook, files: Sequence[Path], defs: Definitions) -> list[Received]:
    limits = submission_limits(defs)
    states = period_states(book)
    out: list[Received] = []
    for path in files:
        try:
            fb = read_feedback(path, limits, defs)
        except XltoolsError as err:
            out.append(Received(path.name, "rejected", reason=err.vi.rstrip(".") + "."))
            continue
        sha = _sha256(path)
        info = fb.info
        period = info.get("period", "")
        decision = info.get("decision", "")
        why = judge_feedback(book, path.name, info)
        findings = [{"part_code": f.part_code, "key": f.key, "rule": f.rule, "message": f.message} for f in fb.findings]
        if why:
            out.append(Received(path.name, "rejected", period, decision, why, info=dict(info), sha256=sha))
            continue
        data_matches = True
        if decision == ACCEPTED and info.get("submission_data_sha256"):
            data_matches = _figures_sha256(book, period) == info["submission_data_sha256"]
        state = states.get(period)
        same = state is not None and state.file == path.name and state.decision == decision \
            and state.submission_sha256 == info.get("submission_sha256", "")
        notes = [] if data_matches else [messages.text("receive_data_differs", period=period)]
        out.append(Received(path.name, "unchanged" if same else "received", period, decision, info=dict(info),
                            findings=findings, sha256=sha, data_matches=data_matches, notes=notes))
    # two answers on one period in one batch: the one decided last is the period's state
    out.sort(key=lambda r: (r.status != "rejected", r.info.get("created_at", "")))
    return out


def _figures_sha256(book: CommuneBook, period: str) -> str:
    """The checksum of the figures an export of ``period`` would carry now (Thông tin data_sha256)."""
    from ..core.aggregation import aggregate_book
    from ..core.checksum import rows_checksum

    try:
        return rows_checksum(aggregate_book(book, period).long_rows())
    except XltoolsError:
        return ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _after(book: CommuneBook, change: WorkbookChange) -> CommuneBook:
    """``book`` as it will read once the rows appended to the feedback table are written."""
    tc = change.table(FEEDBACK)
    if tc is None or not tc.appends:
        return book
    rows = pd.DataFrame([{**a, ROW: tc.first_free_row + i} for i, a in enumerate(tc.appends)])
    frame = pd.concat([book.tables[FEEDBACK], rows], ignore_index=True) if len(book.tables[FEEDBACK]) else rows
    ends = {**book.table_ends, FEEDBACK: max(book.table_ends.get(FEEDBACK, 0), tc.last_row)}
    return dataclasses.replace(book, tables={**book.tables, FEEDBACK: frame}, table_ends=ends)


def receive(
    path: str | Path,
    sources: Iterable[str | Path] = (),
    *,
    reopen: Sequence[str] = (),
    reason: str = "",
    dry_run: bool = False,
    defs: Definitions | None = None,
) -> ReceiveResult:
    """Receive the feedback files of ``sources`` (files or folders) into the workbook at ``path``;
    ``reopen``: accepted periods to unlock (``reason`` is written with them). Written in one
    atomic save (the openpyxl sink); with ``dry_run`` nothing is written."""
    defs = defs or get_definitions()
    path = Path(path)
    if not dry_run:
        refuse_if_open(path)
    book = read_workbook(path, defs, strict=False)
    previous = highlighted_cells(read_sheet_rows(path, defs.sheet("checks").name), defs)
    result, change = plan_receive(book, sources, reopen=reopen, reason=reason, previous=previous)
    result.dry_run = dry_run
    if change is not None and not dry_run:
        apply_change(path, change, defs)
        result.written = True
    return result


def plan_receive(
    book: CommuneBook,
    sources: Iterable[str | Path],
    *,
    reopen: Sequence[str] = (),
    reason: str = "",
    previous: Sequence[tuple[str, str]] = (),
) -> tuple[ReceiveResult, WorkbookChange | None]:
    """Read the feedback files of ``sources`` and decide, against ``book`` (read from the file or
    from the open book), what each does; return the result and the change to write (None: nothing
    to write). ``previous``: the cells the last Kiểm tra highlighted (cleared)."""
    defs = book.defs
    sources = list(sources)
    reopen = [str(Period.parse(p)) for p in reopen]
    if not sources and not reopen:
        raise InputError("receive_nothing")
    if not has_feedback(book):
        raise InputError("receive_needs_upgrade", workbook=book.path.name, sheet=defs.sheet(FEEDBACK).name)
    result = ReceiveResult(book.path, defs=defs)
    files = feedback_files(sources, defs) if sources else []
    if sources and not files and not reopen:
        raise InputError("receive_no_files", paths=", ".join(map(str, sources)))
    result.files = _judge(book, files, defs)
    locked = locked_periods(book)
    not_locked = [p for p in reopen if p not in locked]
    if not_locked:
        raise InputError("receive_not_locked", period=not_locked[0],
                         locked=", ".join(sorted(locked)) or messages.text("receive_none_locked"))
    when = now()
    user = current_user()
    change = receive_change(book, result.files, when=when, user=user, action=messages.text("receive_log_action")) \
        if result.files else WorkbookChange()
    if reopen:
        add_reopening(book, change, reopen, when=when, user=user, reason=reason or messages.text("receive_reopen_reason"))
        result.reopened = reopen
    change = change.covering(book)
    if not any(r.status == "received" for r in result.files) and not reopen:
        return result, change  # only refusals or files received before: Nhật ký says so
    after = _after(book, change)
    change.fields.update(_state_fields(after))
    report = validate_book(after)
    checks = validation_change(after, report, when=when, user=user, file=book.path.name, previous=previous)
    change.outputs = checks.outputs
    change.fills = checks.fills
    change.fields["validation"] = checks.fields.get("validation")
    return result, change


def _state_fields(book: CommuneBook) -> dict[str, Any]:
    states = period_states(book)
    return {"upper_feedback": dashboard_text(states, book.defs)} if states else {}
