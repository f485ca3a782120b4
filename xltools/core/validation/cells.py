"""Cells family: required, whole numbers, dates, periods, list values, phones, lengths, settings.

Values the reader could not convert are already in ``book.problems`` (with a
reason key of the message catalogue); they become issues here, one per cell,
and are not reported again as "required".
"""
from __future__ import annotations

import re

from .. import messages
from ..definitions import Column
from ..frames import CODE_MATCHED, ROW, coerce
from ..text import ValueProblem, is_blank
from .core import Context, RuleConfigError, RuleRun, rule

_DATA_KINDS = ("data", "settings")
_BY_TYPE = {"int": "cell-integer", "money": "cell-integer", "number": "cell-number", "date": "cell-date",
            "datetime": "cell-date", "period": "cell-period", "bool": "cell-list", "list": "cell-list"}


def _problem_rule(problem) -> str:
    if problem.reason == CODE_MATCHED:
        return "cell-code-matched"
    if problem.reason == "reason_error_value":
        return "cell-unreadable"
    return _BY_TYPE.get(problem.type, "cell-unreadable")


def _out_of_scope_rows(ctx: Context) -> set[int]:
    """Excel rows of report rows outside the chosen period (not checked)."""
    if ctx.period is None:
        return set()
    frame = ctx.table("reports")
    return set(frame.loc[~ctx.report_scope(frame), ROW].tolist())


def _problems(ctx: Context, run: RuleRun) -> None:
    skip = _out_of_scope_rows(ctx)
    reports_name = ctx.sheet("reports").name
    keys = {sheet.name: sheet.key for sheet in ctx.defs.sheets}
    for p in ctx.book.problems:
        if _problem_rule(p) != run.spec.id or (p.sheet == reports_name and p.row in skip):
            continue
        key = keys.get(p.sheet)
        reason = messages.text(p.reason, value=p.value)
        extra = {}
        if key:
            try:
                lst = ctx.sheet(key).column(p.key).list
            except KeyError:
                lst = None
            if lst:
                extra["list"] = ctx.defs.lists[lst].label
        run.issue(key, p.row, p.key, p.value, sheet_name=p.sheet, header=p.header, reason=reason, **extra)


def _checked_columns(ctx: Context, predicate):
    """(sheet, frame in scope, column) for the data columns found in the workbook."""
    for sheet in ctx.defs.table_sheets:
        if sheet.kind not in _DATA_KINDS or not ctx.has_sheet(sheet.key):
            continue
        frame = ctx.table(sheet.key)
        if sheet.key == "reports":
            frame = frame[ctx.report_scope(frame)]
        if frame.empty:
            continue
        for col in sheet.readable_columns:
            if ctx.has_column(sheet.key, col.key) and predicate(col):
                yield sheet, frame, col


@rule("cell-integer", "cells")
def cell_integer(ctx: Context, run: RuleRun) -> None:
    """Counts and amounts are whole numbers >= 0 (no words, no fraction, not negative)."""
    _problems(ctx, run)


@rule("cell-number", "cells")
def cell_number(ctx: Context, run: RuleRun) -> None:
    """Number columns hold numbers."""
    _problems(ctx, run)


@rule("cell-date", "cells")
def cell_date(ctx: Context, run: RuleRun) -> None:
    """Date columns hold real dates."""
    _problems(ctx, run)


@rule("cell-period", "cells")
def cell_period(ctx: Context, run: RuleRun) -> None:
    """Period columns hold a month YYYY-MM."""
    _problems(ctx, run)


@rule("cell-unreadable", "cells")
def cell_unreadable(ctx: Context, run: RuleRun) -> None:
    """Any other value that cannot be read as its column's type (formula errors …)."""
    _problems(ctx, run)


@rule("cell-code-matched", "cells")
def cell_code_matched(ctx: Context, run: RuleRun) -> None:
    """A code that lost its leading zero (1 typed for 01) was matched to the one code it can be."""
    keys = {sheet.name: sheet.key for sheet in ctx.defs.sheets}
    skip = _out_of_scope_rows(ctx)
    reports_name = ctx.sheet("reports").name
    for p in ctx.book.problems:
        key = keys.get(p.sheet)
        if p.reason != CODE_MATCHED or key is None or (p.sheet == reports_name and p.row in skip):
            continue
        frame = ctx.table(key)
        code = frame.loc[frame[ROW] == p.row, p.key]
        run.issue(key, p.row, p.key, p.value, sheet_name=p.sheet, header=p.header,
                  code=code.iloc[0] if len(code) else "")


@rule("cell-list", "cells")
def cell_list(ctx: Context, run: RuleRun) -> None:
    """List columns hold a value of their list; Có/Không columns hold Có or Không."""
    _problems(ctx, run)
    for sheet, frame, col in _checked_columns(ctx, lambda c: c.type == "list" and c.list):
        lst = ctx.defs.lists[col.list]
        values = frame[col.key]
        mask = values.notna() & ~values.isin(lst.values)
        run.rows(sheet.key, frame, mask, col.key, list=lst.label)


@rule("cell-required", "cells")
def cell_required(ctx: Context, run: RuleRun) -> None:
    """Required columns are filled."""
    unreadable: dict[tuple[str, str], set[int]] = {}  # reported by the type rules, not as empty
    for p in ctx.book.problems:
        unreadable.setdefault((p.sheet, p.key), set()).add(p.row)
    for sheet, frame, col in _checked_columns(ctx, lambda c: c.required):
        mask = frame[col.key].isna()
        if mask.any():
            bad = unreadable.get((sheet.name, col.key))
            if bad:
                mask &= ~frame[ROW].isin(bad)
            run.rows(sheet.key, frame, mask, col.key)


@rule("cell-phone", "cells", pattern=str)
def cell_phone(ctx: Context, run: RuleRun) -> None:
    """Phone columns hold a Vietnamese phone number."""
    try:
        pattern = re.compile(run.params["pattern"])
    except re.error as exc:
        raise RuleConfigError("bad_pattern", error=str(exc)) from None
    for sheet, frame, col in _checked_columns(ctx, lambda c: c.type == "phone"):
        text = frame[col.key].astype("string")
        mask = text.notna() & ~text.str.fullmatch(pattern.pattern).fillna(False)
        run.rows(sheet.key, frame, mask, col.key)


@rule("cell-length", "cells")
def cell_length(ctx: Context, run: RuleRun) -> None:
    """Text columns stay within their maximum length."""
    for sheet, frame, col in _checked_columns(ctx, lambda c: bool(c.max_length)):
        length = frame[col.key].astype("string").str.len()
        mask = length > col.max_length
        run.rows(sheet.key, frame, mask, col.key, length=length, max_length=col.max_length)


def _setting_column(setting) -> Column:
    return Column(key=setting.key, header=setting.label, type=setting.type)


@rule("setting-required", "cells", needs=("settings.key", "settings.value"))
def setting_required(ctx: Context, run: RuleRun) -> None:
    """Required settings of the Cấu hình sheet are filled."""
    if not ctx.has_sheet("settings"):
        return
    for s in ctx.defs.settings:
        if s.required and is_blank(ctx.book.settings.get(s.key)) and is_blank(ctx.book.raw_settings.get(s.key)):
            row = ctx.book.settings_rows.get(s.key)
            run.issue("settings", row, "value", None, key=s.key, label=s.label)


@rule("setting-invalid", "cells", needs=("settings.key", "settings.value"))
def setting_invalid(ctx: Context, run: RuleRun) -> None:
    """Settings have the type (and pattern) the definitions give them."""
    if not ctx.has_sheet("settings"):
        return
    for s in ctx.defs.settings:
        raw = ctx.book.raw_settings.get(s.key)
        if is_blank(raw):
            continue
        reason = None
        try:
            value = coerce(raw, _setting_column(s))
            if value is not None and s.pattern and not re.fullmatch(s.pattern, str(value)):
                reason = messages.text("reason_not_code")
        except ValueProblem as exc:
            reason = messages.text(exc.reason, value=raw)
        if reason:
            row = ctx.book.settings_rows.get(s.key)
            run.issue("settings", row, "value", raw, key=s.key, label=s.label, reason=reason)

