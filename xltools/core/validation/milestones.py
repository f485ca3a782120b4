"""Milestones family: overdue steps, steps done before the steps they depend on, launch date."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from ..frames import ROW
from .core import Context, RuleConfigError, RuleRun, rule, toml_text

_SPLIT = re.compile(r"[,;\s]+")


def _steps(ctx: Context) -> pd.DataFrame:
    if not ctx.has_sheet("milestones"):
        return ctx.table("milestones").iloc[0:0]
    return ctx.table("milestones")


def _tokens(text) -> list[str]:
    return [t for t in _SPLIT.split(str(text or "")) if t]


@rule("milestone-overdue", "milestones", needs=("milestones.deadline", "milestones.done_on"))
def overdue(ctx: Context, run: RuleRun) -> None:
    """A step past its deadline without a completion date."""
    steps = _steps(ctx)
    if steps.empty:
        return
    deadline = pd.to_datetime(steps["deadline"])
    mask = steps["done_on"].isna() & (deadline < pd.Timestamp(ctx.today))
    run.rows("milestones", steps, mask, "deadline", step_no=steps["step_no"])


@rule("milestone-depends", "milestones", needs=("milestones.step_no", "milestones.depends_on"))
def depends(ctx: Context, run: RuleRun) -> None:
    """'Sau bước' names existing step numbers."""
    steps = _steps(ctx)
    if steps.empty or not ctx.has_column("milestones", "depends_on"):
        return
    known = {int(s) for s in steps["step_no"].dropna()}
    for row, text in zip(steps[ROW], steps["depends_on"]):
        for token in _tokens(text):
            if not token.isdigit() or int(token) not in known:
                run.issue("milestones", int(row), "depends_on", text, token=token)


@rule("milestone-order", "milestones", needs=("milestones.step_no", "milestones.depends_on", "milestones.done_on"))
def order(ctx: Context, run: RuleRun) -> None:
    """A step is not done before a step it depends on."""
    steps = _steps(ctx)
    if steps.empty or not ctx.has_column("milestones", "depends_on"):
        return
    done = {int(s): d for s, d in zip(steps["step_no"], steps["done_on"]) if s is not pd.NA and d is not None}
    for row, step, text, when in zip(steps[ROW], steps["step_no"], steps["depends_on"], steps["done_on"]):
        if when is None or step is pd.NA:
            continue
        for token in _tokens(text):
            other = done.get(int(token)) if token.isdigit() else None
            if other is not None and when < other:
                run.issue("milestones", int(row), "done_on", when, step_no=int(step), depends=token, depends_done=other)


@rule("milestone-launch-date", "milestones", month=int, day=int, max_days=int, kind=str)
def launch_date(ctx: Context, run: RuleRun) -> None:
    """The launch ceremony is held near 3 February (the Party's founding day)."""
    p = run.params
    try:
        dt.date(2024, p["month"], p["day"])
    except ValueError:
        raise RuleConfigError("bad_day", day=p["day"], month=p["month"]) from None
    numbers = {int(m["step_no"]) for m in ctx.defs.milestones if m.get("kind") == p["kind"] and "step_no" in m}
    if not numbers:
        raise RuleConfigError("no_step_kind", value=toml_text(p["kind"]))
    steps = _steps(ctx)
    for row, step, done, deadline in zip(steps.get(ROW, []), steps.get("step_no", []), steps.get("done_on", []), steps.get("deadline", [])):
        if step is pd.NA or int(step) not in numbers:
            continue
        when, column = (done, "done_on") if done is not None else (deadline, "deadline")
        if when is None:
            continue
        days = min(abs((when - dt.date(y, p["month"], p["day"])).days) for y in (when.year - 1, when.year, when.year + 1))
        if days > p["max_days"]:
            run.issue("milestones", int(row), column, when, step_no=int(step), days=days)
