"""The level above's answers in the commune workbook: state, lock and what ``receive`` writes.

The Phản hồi cấp trên table (workbook.toml, key ``feedback``) is a log: one decision row per
feedback file received (accepted or returned, the reason, who decided), one row per finding of
the level above (its village and indicator) and a "Mở lại" row when the officer reopens an
accepted period. The latest decision row of a period is its state:

- accepted: the period is locked. Its report rows' checksum (``rows_sha256``) is kept with the
  decision; an import that would change them is refused, and validation flags an edit
  (``feedback-accepted-changed``), until the period is reopened (``--reopen``, in Nhật ký).
- returned: the findings are shown on Kiểm tra (``feedback-returned``) while the submission
  they answer is still the period's latest export (the register's row).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import messages
from .book import CommuneBook
from .change import WorkbookChange, last_action, log_entry, table_change
from .definitions import Definitions, report_defs
from .frames import ROW
from .periods import Period
from .text import is_blank

FEEDBACK = "feedback"  # the sheet key in workbook.toml
ACCEPTED, RETURNED, REOPENED = "accepted", "returned", "reopened"
STAMP = "%d/%m/%Y %H:%M"


def words(defs: Definitions) -> dict[str, Any]:
    """report.toml [review]."""
    spec = report_defs(defs).get("review", {})
    return spec if isinstance(spec, dict) else {}


def decision_word(defs: Definitions, decision: str) -> str:
    w = words(defs)
    return str(w["reopened_word"] if decision == REOPENED else w["decision_words"].get(decision, decision))


def _decision_of(defs: Definitions, text: Any) -> str | None:
    if is_blank(text):
        return None
    value = str(text).strip().casefold()
    for key in (ACCEPTED, RETURNED, REOPENED):
        if decision_word(defs, key).casefold() == value:
            return key
    return None


def has_feedback(book: CommuneBook) -> bool:
    """Whether the workbook has the Phản hồi cấp trên table (a workbook made before it has not)."""
    return any(s.key == FEEDBACK for s in book.defs.sheets) and FEEDBACK in book.letters and FEEDBACK in book.tables


def _text(value: Any) -> str:
    return "" if is_blank(value) or value is pd.NA else str(value).strip()


@dataclass(frozen=True)
class PeriodState:
    """The latest decision of the level above on one period."""

    period: str
    decision: str  # ACCEPTED | RETURNED | REOPENED
    reason: str
    upper_unit: str
    decided_by: str
    decided_at: str
    submission_sha256: str
    rows_sha256: str
    file: str
    received_at: Any
    row: int  # its Excel row
    findings: tuple[dict[str, str], ...] = field(default_factory=tuple)  # for a returned period


def period_states(book: CommuneBook) -> dict[str, PeriodState]:
    """Each period's latest decision (with its findings), by period."""
    if not has_feedback(book):
        return {}
    frame = book.tables[FEEDBACK]
    if not len(frame):
        return {}
    out: dict[str, PeriodState] = {}
    found: dict[str, list[dict[str, str]]] = {}
    for rec in frame.sort_values(ROW).to_dict("records"):
        period = _text(rec.get("period"))
        decision = _decision_of(book.defs, rec.get("decision"))
        if not period:
            continue
        if decision is None:  # a finding of the decision row above it (same file)
            state = out.get(period)
            if state is not None and _text(rec.get("file")) == state.file and _text(rec.get("message")):
                found.setdefault(period, []).append({k: _text(rec.get(k)) for k in
                                                    ("village_code", "indicator", "rule", "message")})
            continue
        found[period] = []
        out[period] = PeriodState(period, decision, _text(rec.get("reason")), _text(rec.get("upper_unit")),
                                  _text(rec.get("decided_by")), _text(rec.get("decided_at")),
                                  _text(rec.get("submission_sha256")), _text(rec.get("rows_sha256")),
                                  _text(rec.get("file")), rec.get("received_at"), int(rec[ROW]))
    return {p: PeriodState(**{**s.__dict__, "findings": tuple(found.get(p, []))}) for p, s in out.items()}


def locked_periods(book: CommuneBook) -> dict[str, PeriodState]:
    """The periods accepted by the level above and not reopened since."""
    return {p: s for p, s in period_states(book).items() if s.decision == ACCEPTED}


def locks_of_month(locked: Mapping[str, PeriodState], month: str) -> list[PeriodState]:
    """The locked periods a village report of ``month`` counts in (its month, its quarter …)."""
    out = []
    for period, state in locked.items():
        try:
            if month in Period.parse(period).months():
                out.append(state)
        except Exception:  # a period typed by hand that does not parse locks nothing
            continue
    return out


def period_rows_sha256(book: CommuneBook, period: str, reports: pd.DataFrame | None = None) -> str:
    """SHA-256 of the village report rows of ``period``'s months: village, month and each indicator
    that holds a value (by key, so that a column an upgrade adds, empty, changes nothing)."""
    frame = book.tables["reports"] if reports is None else reports
    months = set(Period.parse(period).months())
    keys = [i.key for i in book.defs.indicators if i.key in frame.columns]
    rows = []
    if len(frame) and "period" in frame and "village_code" in frame:
        chosen = frame[frame["period"].map(lambda p: _text(p) in months)]
        for rec in chosen[["village_code", "period", *keys]].to_dict("records"):
            values = [[k, _value(rec[k])] for k in keys if _value(rec[k]) != ""]
            rows.append([_value(rec["village_code"]), _value(rec["period"]), values])
    rows.sort()
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def _value(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    return str(value).strip()


def dashboard_text(states: Mapping[str, PeriodState], defs: Definitions) -> str:
    """"2023-12: cấp trên đã nhận · 2023-11: bị trả lại: …" for the latest periods."""
    w = words(defs)
    shown = sorted(states.values(), key=lambda s: (s.period, s.row), reverse=True)[: int(w.get("state_shown", 3))]
    template = {ACCEPTED: w["state_accepted"], RETURNED: w["state_returned"], REOPENED: w["state_reopened"]}
    return " · ".join(messages.fill(template[s.decision], period=s.period, reason=s.reason or "-") for s in shown)


# ------------------------------------------------------------------------------ what receive decides
@dataclass
class Received:
    """One feedback file as ``receive`` decided it."""

    file: str
    status: str  # "received" | "unchanged" | "rejected"
    period: str = ""
    decision: str = ""
    reason: str = ""  # why it was refused (Vietnamese)
    notes: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    findings: list[dict[str, str]] = field(default_factory=list)
    sha256: str = ""
    data_matches: bool = True  # the workbook still holds the figures of the submission answered


def judge_feedback(book: CommuneBook, file: str, info: Mapping[str, str]) -> str | None:
    """Why a feedback file cannot be received into ``book`` (None when it can): another
    commune's, a submission this workbook never exported, or one exported again since."""
    own = _text(book.settings.get("commune_code"))
    unit = info.get("unit_code", "")
    if own and unit != own:
        return messages.text("receive_other_unit", file=file, unit=f"{info.get('unit_name', '')} ({unit})", own=own)
    period, sha = info.get("period", ""), info.get("submission_sha256", "")
    current = latest_exports(book).get(period)
    logged = {s: when for s, when in _logged_exports(book)}
    if current is not None and current[0] == sha:
        return None
    if current is None and sha in logged:  # a workbook without the register: its log says it was exported
        return None
    if current is not None and sha in logged:
        return messages.text("receive_replaced", file=file, period=period, date=logged[sha], latest=current[1])
    return messages.text("receive_unknown_submission", file=file, period=period,
                         file_name=info.get("submission_file", ""))


def latest_exports(book: CommuneBook) -> dict[str, tuple[str, str]]:
    """Per period, the SHA-256 and date of its latest export (the register's row)."""
    frame = book.tables.get("register")
    out: dict[str, tuple[str, str]] = {}
    if frame is None or not len(frame):
        return out
    for rec in frame.sort_values(ROW).to_dict("records"):
        period, sha = _text(rec.get("period")), _text(rec.get("sha256"))
        if period and sha:
            date = rec.get("date")
            out[period] = (sha, _day(date, "%d/%m/%Y"))
    return out


def _logged_exports(book: CommuneBook) -> list[tuple[str, str]]:
    """Every file this workbook wrote with its SHA-256 in Nhật ký (exports), with its time."""
    frame = book.tables.get("log")
    out = []
    if frame is not None and len(frame) and "sha256" in frame:
        for rec in frame.to_dict("records"):
            sha = _text(rec.get("sha256"))
            if sha:
                when = rec.get("time")
                out.append((sha, _day(when, STAMP)))
    return out


def receive_change(book: CommuneBook, received: Sequence[Received], *, when: dt.datetime, user: str,
                   action: str) -> WorkbookChange:
    """The decision and finding rows of every file received, one Nhật ký row per file received or
    refused (not for one received before), the dashboard's last action."""
    appends: list[dict[str, Any]] = []
    log = []
    for r in received:
        if r.status == "received":
            info = r.info
            base = {"received_at": when, "period": r.period, "upper_unit": info.get("from_unit_name", ""),
                    "decided_by": info.get("decided_by", ""), "decided_at": info.get("decided_at", ""),
                    "submission_sha256": info.get("submission_sha256", ""), "file": r.file}
            rows_sha = "" if r.decision != ACCEPTED else period_rows_sha256(book, r.period) if r.data_matches \
                else str(words(book.defs)["rows_differ"])
            appends.append({**base, "decision": decision_word(book.defs, r.decision), "reason": info.get("reason", ""),
                            "rows_sha256": rows_sha})
            for f in r.findings:
                appends.append({**base, "village_code": f.get("part_code", ""), "indicator": f.get("key", ""),
                                "rule": f.get("rule", ""), "message": f.get("message", "")})
        if r.status == "unchanged":  # a file of the folder received on an earlier click: logged then
            continue
        result = messages.text(f"receive_result_{r.status}")
        detail = r.reason or messages.text("receive_log_detail", period=r.period, decision=decision_word(
            book.defs, r.decision) if r.decision else "-", reason=r.info.get("reason", "") or "-",
            count=len(r.findings))
        if r.notes:
            detail = " ".join([detail, *r.notes])
        log.append(log_entry(time=when, action=action, file=r.file, sha256=r.sha256, result=result, detail=detail,
                             user=user))
    change = WorkbookChange(fields={"last_action": last_action(action, when, messages.text("receive_last_result",
                            received=sum(r.status == "received" for r in received), total=len(received)))})
    if appends:
        change.tables.append(table_change(book, FEEDBACK, appends=appends))
    change.tables.append(table_change(book, "log", appends=log))
    return change.covering(book)


def add_reopening(book: CommuneBook, change: WorkbookChange, periods: Sequence[str], *, when: dt.datetime,
                  user: str, reason: str) -> WorkbookChange:
    """``change`` with the "Mở lại" rows that lift the lock of ``periods`` and one Nhật ký row
    ("Mở lại kỳ"): the one place that reopens, for ``receive --reopen`` and ``import --reopen``."""
    locked = locked_periods(book)
    rows = [{"received_at": when, "period": p, "decision": decision_word(book.defs, REOPENED), "reason": reason,
             "upper_unit": locked[p].upper_unit if p in locked else "", "file": locked[p].file if p in locked else ""}
            for p in periods]
    entry = log_entry(time=when, action=messages.text("reopen_log_action"), file="",
                      result=messages.text("receive_result_received"), user=user,
                      detail=messages.text("reopen_log_detail", periods=", ".join(periods), reason=reason))
    for key, appends in ((FEEDBACK, rows), ("log", [entry])):
        tc = change.table(key)
        if tc is not None:
            tc.appends.extend(appends)
        else:
            change.tables.append(table_change(book, key, appends=appends))
    return change.covering(book)


def _day(value: Any, fmt: str) -> str:
    return value.strftime(fmt) if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)) else _text(value)
