"""Feedback family: what the level above answered (``core.approval``).

- ``feedback-returned``: the findings of a returned period, at the Báo cáo thôn cell they
  concern (the village's row of the period's latest month, the indicator's column), while the
  submission they answer is still the period's latest export.
- ``feedback-accepted-changed``: a period accepted by the level above whose village report rows
  changed since (their checksum differs from the one kept with the decision): it must be
  reopened (``xltools receive --reopen``) before it can change.
"""
from __future__ import annotations

import pandas as pd

from ..approval import RETURNED as RETURNED_STATE
from ..approval import latest_exports, locked_periods, period_rows_sha256, period_states
from ..periods import Period
from .core import Context, RuleRun, rule


@rule("feedback-returned", "feedback", needs=("feedback.period", "feedback.decision"))
def returned(ctx: Context, run: RuleRun) -> None:
    """The level above's findings on a returned period, until it is exported again."""
    exports = {p: sha for p, (sha, _) in latest_exports(ctx.book).items()}
    reports = ctx.table("reports")
    for period, state in period_states(ctx.book).items():
        if state.decision != RETURNED_STATE or (exports.get(period) and exports[period] != state.submission_sha256):
            continue
        months = Period.parse(period).months() if _parses(period) else []
        for finding in state.findings or ({"village_code": "", "indicator": "", "message": state.reason},):
            row = None
            code, key = finding.get("village_code", ""), finding.get("indicator", "")
            if code and months and len(reports):
                hit = reports[(reports["village_code"] == code) & reports["period"].isin(months)]
                if len(hit):
                    row = int(hit.sort_values("period").iloc[-1]["_row"])
            column = key if key in ctx.book.letters.get("reports", {}) else None
            run.issue("reports" if row else "feedback", row if row else state.row,
                      column if row else "period", period, period=period, upper=state.upper_unit or "-",
                      finding=finding.get("message") or state.reason or "-", date=state.decided_at or "-")


def _parses(period: str) -> bool:
    try:
        Period.parse(period)
    except Exception:
        return False
    return True


@rule("feedback-accepted-changed", "feedback", needs=("feedback.period", "feedback.decision"))
def accepted_changed(ctx: Context, run: RuleRun) -> None:
    """A period accepted by the level above keeps the village reports it was accepted with."""
    reports: pd.DataFrame = ctx.table("reports")
    for period, state in locked_periods(ctx.book).items():
        if not state.rows_sha256 or not _parses(period):
            continue
        if period_rows_sha256(ctx.book, period, reports) != state.rows_sha256:
            run.issue("feedback", state.row, "period", period, period=period, upper=state.upper_unit or "-",
                      date=state.decided_at or "-")
