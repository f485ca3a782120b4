"""Budget family: approved within the estimate, spent within the approved, launch lines present."""
from __future__ import annotations

from ..text import header_key
from .core import Context, RuleConfigError, RuleRun, rule, toml_text


def _budget(ctx: Context):
    frame = ctx.table("budget")
    return frame if ctx.has_sheet("budget") else frame.iloc[0:0]


@rule("budget-approved-estimate", "budget", needs=("budget.estimate", "budget.approved"))
def approved_estimate(ctx: Context, run: RuleRun) -> None:
    """The approved amount does not exceed the estimate."""
    b = _budget(ctx)
    if not b.empty:
        run.rows("budget", b, b["approved"] > b["estimate"], "approved", estimate=b["estimate"], item=b["item"])


@rule("budget-spent-approved", "budget", needs=("budget.approved", "budget.spent"))
def spent_approved(ctx: Context, run: RuleRun) -> None:
    """The amount spent does not exceed the approved amount."""
    b = _budget(ctx)
    if not b.empty:
        run.rows("budget", b, b["spent"] > b["approved"], "spent", approved=b["approved"], item=b["item"])


@rule("budget-launch-line", "budget", needs=("budget.item",), kind=str)
def launch_line(ctx: Context, run: RuleRun) -> None:
    """Each launch-ceremony budget line of the plan is in the Kinh phí sheet."""
    lines = [b for b in ctx.defs.budget_lines if b.get("kind") == run.params["kind"]]
    if not lines:
        raise RuleConfigError("no_budget_kind", value=toml_text(run.params["kind"]))
    if not ctx.has_sheet("budget"):
        return
    present = {header_key(v) for v in _budget(ctx)["item"].dropna()}
    for line in lines:
        if header_key(line.get("item")) not in present:
            run.issue("budget", None, "item", None, item=line.get("item", ""))
