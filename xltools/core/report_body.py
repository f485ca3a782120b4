"""The body of the signed report, built once for the Báo cáo sheet and the Word draft.

From the introduction (the plan the report executes, by number and date) to the proposals, the
report is a list of ``Block``: numbered section headings, sub-headings, paragraphs, notes and
tables, every word from ``workbook/report.toml`` [text]. ``io/submission.py`` lays the list out
on the sheet and ``io/report_docx.py`` in Word; neither words anything of its own, so the two
documents say the same.

What it says comes from the data of the period:
- II. results in prose per kind of propaganda ([text] ``results_groups``: a line names indicator
  keys as placeholders; a line naming an indicator the definitions lack takes its ``otherwise``
  wording or is left out, a line whose figures are all unreported is left out), the totals table,
  the stocks carried from an earlier month, and for a sơ kết (6 or 9 months) or tổng kết (year)
  the comparison with the previous period and the same period of the year before;
- the weak points (tồn tại, hạn chế) from the validation findings of the period (``Findings``:
  villages without a report, without a launch, people not yet reached) and the steps overdue at
  the period's data cut-off;
- the direction (phương hướng): the ``report_directions`` setting (tasks separated by ";"), else
  [text] ``directions``;
- the proposals (kiến nghị) from the same findings, the budget and the villages' own notes.
"""
from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .aggregation import DEN, LEVEL_COMMUNE, NUM, Aggregate, aggregate_tables
from .definitions import Definitions, report_defs
from .frames import ROW, records
from .messages import fill
from .numbers import group_number, percent
from .periods import Period
from .prose import general_lines

SECTION, HEADING, PARA, NOTE, TABLE = "section", "heading", "para", "note", "table"


@dataclass(frozen=True)
class Block:
    """One piece of the report body. Tables carry their column weights (shares of the width)
    and alignments; ``total_last`` marks a total row that never stands alone on a page."""

    kind: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    weights: tuple[float, ...] = ()
    aligns: tuple[str, ...] = ()
    total_last: bool = False


@dataclass
class ReportBody:
    blocks: list[Block]
    closing: str

    def text(self) -> list[str]:
        """Every sentence of the body, tables as their cells joined (for tests and search)."""
        out = []
        for b in self.blocks:
            if b.kind == TABLE:
                out += [" | ".join(b.header)] + [" | ".join(r) for r in b.rows]
            else:
                out.append(b.text)
        return out + [self.closing]


@dataclass
class Findings:
    """What validation found about the period's village reports, per village name (in the
    villages' order): months without a report, reports sent late, months without a movement
    launch, and the people not yet reached at the end of the period."""

    missing: dict[str, int] = field(default_factory=dict)
    late: dict[str, int] = field(default_factory=dict)
    no_launch: dict[str, int] = field(default_factory=dict)
    not_reached: dict[str, int] = field(default_factory=dict)


def _num(value: Any) -> str:
    if value is None or value is pd.NA:
        return "–"
    return group_number(value) or "–"


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out


def date_text(value: Any) -> str:
    """A date as the report prints it, dd/mm/yyyy ('' for anything else)."""
    return value.strftime("%d/%m/%Y") if isinstance(value, (dt.date, dt.datetime)) else ""


def _fields(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()


# ---------------------------------------------------------------------------- the findings
def findings_from_issues(issues: Iterable[Any], tables: Mapping[str, pd.DataFrame], agg: Aggregate) -> Findings:
    """The validation issues of the period (``validate_book(book, period).issues``) that the report
    names as weak points, counted per village: plan-missing-report (per month), plan-late-report,
    plan-monthly-launch (per report row), plan-all-reached (the people still not reached at the
    period's end, for the villages it flags)."""
    reports = tables.get("reports")
    by_row: dict[int, str] = {}
    if reports is not None and ROW in reports and "village_code" in reports:
        by_row = {int(r): str(c) for r, c in zip(reports[ROW], reports["village_code"]) if c is not None and c is not pd.NA}
    parts = records(agg.parts)
    names = {str(p["code"]): str(p["name"] or p["code"]) for p in parts}
    order = list(names)
    counts: dict[str, dict[str, int]] = {k: {} for k in ("missing", "late", "no_launch", "reached")}
    which = {"plan-missing-report": "missing", "plan-late-report": "late", "plan-monthly-launch": "no_launch",
             "plan-all-reached": "reached"}
    for issue in issues:
        key = which.get(issue.rule)
        if key is None:
            continue
        code = str(issue.value) if key == "missing" else by_row.get(int(issue.row)) if issue.row else None
        if code is None:
            continue
        counts[key][code] = counts[key].get(code, 0) + 1

    def named(found: dict[str, int]) -> dict[str, int]:
        codes = sorted(found, key=lambda c: (order.index(c) if c in order else len(order), c))
        return {names.get(c, c): found[c] for c in codes}

    gaps: dict[str, int] = {}
    for p in parts:
        code = str(p["code"])
        known, reached = p.get("drug_people_known"), p.get("drug_people_reached")
        if code in counts["reached"] and known is not None and known is not pd.NA:
            gap = int(known) - int(0 if reached is None or reached is pd.NA else reached)
            if gap > 0:
                gaps[code] = gap
    return Findings(missing=named(counts["missing"]), late=named(counts["late"]),
                    no_launch=named(counts["no_launch"]), not_reached=named(gaps))


# ---------------------------------------------------------------------------- comparisons
def comparison_periods(period: Period) -> list[Period]:
    """What a sơ kết or tổng kết compares with: the previous period and the same period of the
    year before (6 months), the same 9 months of the year before, the year before (a year)."""
    if period.kind == "half":
        previous = Period(period.year - 1, "half", 2) if period.n == 1 else Period(period.year, "half", 1)
        return [previous, Period(period.year - 1, "half", period.n)]
    if period.kind == "nine":
        return [Period(period.year - 1, "nine")]
    if period.kind == "year":
        return [Period(period.year - 1, "year")]
    return []


def comparisons_for(tables: Mapping[str, pd.DataFrame], settings: Mapping[str, Any], period: Period,
                    defs: Definitions) -> list[tuple[Period, Aggregate]]:
    """The aggregates of ``comparison_periods`` from the same commune tables."""
    return [(p, aggregate_tables(tables, settings, p, defs)) for p in comparison_periods(period)]


def _has_data(agg: Aggregate) -> bool:
    total = agg.total()
    return any(total.get(k) is not None for k in agg.indicators)


# ---------------------------------------------------------------------------- pieces
def split_general(agg: Aggregate, rep: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Section I's sentences for the signed page, and those about the software (thresholds not
    configured, files rejected or replaced: [layout] technical_lines) for the notes sheet."""
    technical_keys = [k for k in rep["layout"].technical_lines if k in rep.get("text", {})]
    quiet = {**rep, "text": {**rep["text"], **{k: "" for k in technical_keys}}}
    signed = [line for line in general_lines(agg, quiet) if line]
    technical = [line for line in general_lines(agg, rep) if line not in signed]
    return signed, technical


def _figures(agg: Aggregate, layout: Any) -> tuple[dict[str, str], set[str]]:
    """The placeholders of a results line: every indicator's total as printed, every ratio as a
    percentage and its parts (``<key>_num``, ``<key>_den``); and the keys without a value."""
    total = agg.total()
    decimals, comma = int(layout.percent_decimals), bool(layout.decimal_comma)
    values: dict[str, str] = {}
    empty: set[str] = set()
    for key in agg.indicators:
        values[key] = _num(total.get(key))
        if total.get(key) is None:
            empty.add(key)
    rates = agg.rates_of(total)
    for key, _ in agg.derived:
        values[key] = percent(rates.get(key), decimals, comma)
        values[key + "_num"] = _num(total.get(key + NUM))
        values[key + "_den"] = _num(total.get(key + DEN))
        if rates.get(key) is None:
            empty.add(key)
    return values, empty


def _line(entry: Any, values: Mapping[str, str], empty: set[str], params: Mapping[str, Any]) -> str:
    """One results line: its text when every figure it names is defined and one has a value, its
    ``otherwise`` wording when it names a figure the definitions lack, else nothing."""
    spec = entry if isinstance(entry, Mapping) else {"text": str(entry)}
    template = str(spec.get("text", ""))
    named = _fields(template) - set(params)
    if named - set(values):
        other = str(spec.get("otherwise", ""))
        return fill(other, **{**params, **values}) if other and not (_fields(other) - set(params) - set(values)) else ""
    if named and named <= empty:
        return ""
    return fill(template, **{**params, **values})


def _territory(header: Mapping[str, Any], text: Mapping[str, Any]) -> str:
    """Section I: the agencies and enterprises on the territory (settings), when entered."""
    counts = {k: header.get(k + "_count") for k in ("agencies", "enterprises")}
    if all(v is None or v == "" for v in counts.values()):
        return ""
    return fill(text.get("general_territory", ""), **{k: _num(v) if v not in (None, "") else "–" for k, v in counts.items()})


def _border_line(agg: Aggregate, text: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The border villages' own figures (Thôn biên giới: facts ``border``): the indicators of
    [text] results_border summed over those villages (stocks: their latest month)."""
    codes = agg.facts.get("border") or []
    template = str(text.get("results_border", ""))
    if not codes or not template or not text.get("results_border_title"):
        return ""
    rows = agg.parts[agg.parts["code"].isin(codes)]
    values: dict[str, str] = {}
    for key in agg.indicators:
        col = pd.to_numeric(rows[key], errors="coerce") if key in rows else pd.Series([], dtype=float)
        values[key] = _num(int(col.sum()) if col.notna().any() else None)
    if _fields(template) - set(values) - set(params) - {"count", "names"}:
        return ""  # names an indicator these definitions lack
    names = ", ".join(str(n) for n in rows["name"])
    return fill(template, **{**params, **values, "count": len(codes), "names": names})


def _budget_lines(agg: Aggregate, text: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Section IV beyond the sources: the budget per purpose, and what was spent in the period
    (the rows with a month), from ``aggregation.budget_by_purpose``."""
    out = []
    purposes = agg.facts.get("budget_purposes") or []
    if purposes and text.get("budget_purposes"):
        items = "; ".join(fill(text["budget_purpose_item"], purpose=p["purpose"], **{
            c: _num(p.get(c)) for c in ("estimate", "approved", "spent")}) for p in purposes)
        out.append(fill(text["budget_purposes"], items=items))
    if agg.facts.get("budget_in_period") is not None and text.get("budget_in_period"):
        out.append(fill(text["budget_in_period"], spent=_num(agg.facts["budget_in_period"]), **params))
    return out


def _items(found: Mapping[str, int], template: str, months: int) -> str:
    """'Thôn A (1 tháng), Thôn B (2 tháng)'; in a month's report only the names."""
    out = []
    for name, count in found.items():
        out.append(fill(template, name=name, count=count) if months > 1 else name)
    return ", ".join(out)


def _month_text(month: str) -> str:
    return f"{month[5:]}/{month[:4]}" if len(month) == 7 else month


def results_table(agg: Aggregate, defs: Definitions) -> list[tuple[str, ...]]:
    """TT, indicator, unit, the total; then the ratios."""
    layout = defs.layout
    total = agg.total()
    decimals, comma = int(layout.percent_decimals), bool(layout.decimal_comma)
    rows: list[tuple[str, ...]] = []
    known = {i.key: i for i in defs.indicators}
    for i, key in enumerate(agg.indicators, start=1):
        ind = known.get(key)
        rows.append((str(i), ind.label if ind else key, ind.unit if ind else "", _num(total.get(key))))
    rates = agg.rates_of(total)
    for j, (key, label) in enumerate(agg.derived, start=len(rows) + 1):
        rows.append((str(j), label, "%", percent(rates[key], decimals, comma)))
    return rows


def carried_note(agg: Aggregate, defs: Definitions) -> str:
    """The sentence naming the villages whose end-of-period stocks are of an earlier month."""
    text = report_defs(defs).get("text", {})
    carried = agg.facts.get("carried") or {}
    if not carried:
        return ""
    names = {str(p["code"]): str(p["name"] or p["code"]) for p in records(agg.parts)}
    stocks = [agg.labels.get(i.key, i.key).lower() for i in defs.numeric_indicators if i.agg == "last"
              and i.key in agg.indicators]
    items = ", ".join(fill(text.get("carried_item", ""), name=names.get(c, c), month=_month_text(m)) for c, m in carried.items())
    return fill(text.get("carried", ""), labels=", ".join(stocks), items=items)


# ---------------------------------------------------------------------------- the body
def report_body(
    agg: Aggregate,
    header: Mapping[str, Any],
    defs: Definitions,
    *,
    findings: Findings | None = None,
    comparisons: Sequence[tuple[Period, Aggregate]] = (),
    annexes: Sequence[int] = (),
) -> ReportBody:
    """The body of the report of ``agg`` (a commune's or a rollup's), from the introduction to
    the closing sentence. ``header`` is ``core.submission.report_header`` (with ``forced_errors``);
    ``findings`` and ``comparisons`` are the commune's (none one level up); ``annexes`` the
    numbers of the annexes the results point to."""
    rep = report_defs(defs)
    text, layout = rep.get("text", {}), rep["layout"]
    upper = agg.level != LEVEL_COMMUNE
    months = len(agg.period.months())
    params: dict[str, Any] = {**{k: v for k, v in header.items() if isinstance(v, (str, int))},
                              "unit_name": agg.unit_name, "period_label": agg.period.label}
    blocks: list[Block] = []
    count = 0

    def section(title: str) -> None:
        nonlocal count
        count += 1
        blocks.append(Block(SECTION, f"{_roman(count)}. {title}"))

    def para(value: str, kind: str = PARA) -> None:
        if value:
            blocks.append(Block(kind, value))

    # -- the introduction: the plan executed, by number and date ---------------------------------
    plan_no = str(header.get("plan_number") or "").strip()
    if upper:
        para(fill(text["intro_upper"], **params))
    elif plan_no:
        when = header.get("plan_date")
        dated = fill(text.get("plan_dated", ""), date=date_text(when)) if isinstance(when, (dt.date, dt.datetime)) else ""
        para(fill(text["intro_plan"], **{**params, "plan_number": plan_no, "plan_dated": dated}))
    else:
        para(fill(text["intro"], **params))
    if header.get("forced_errors"):
        para(fill(text["forced"], errors=header["forced_errors"]), NOTE)

    # -- I. the general situation ------------------------------------------------------------------
    section(text["section_general"])
    for line in split_general(agg, rep)[0]:
        para(line)
    para(_territory(header, text))

    # -- II. results: in words per kind of propaganda, the totals, the annexes, comparisons ------
    section(text["section_results"])
    values, empty = _figures(agg, layout)
    sub = 0

    def heading(title: str) -> None:
        nonlocal sub
        sub += 1
        blocks.append(Block(HEADING, f"{sub}. {title}"))

    for group in text.get("results_groups", []):
        lines = [_line(e, values, empty, params) for e in group.get("lines", [])]
        lines = [x for x in lines if x]
        if lines:
            heading(str(group.get("title", "")))
            for x in lines:
                para("- " + x)
    border = _border_line(agg, text, params)
    if border:
        heading(text["results_border_title"])
        para("- " + border)
    heading(text["results_table_title"])
    whole = text["column_total_upper" if upper else "column_total"]
    blocks.append(Block(TABLE, header=(text["column_no"], text["column_indicator"], text["column_unit_of"], whole),
                        rows=tuple(results_table(agg, defs)), weights=(1, 7, 2, 2),
                        aligns=("center", "left", "center", "right")))
    para(carried_note(agg, defs), NOTE)
    if annexes:
        names = ", ".join(fill(text["annex_name"], number=n) for n in annexes)
        part_label = text["column_unit" if upper else "column_village"].lower()
        para(fill(text["annex_pointer"], annexes=names, part_label=part_label), NOTE)
    usable = [(p, a) for p, a in comparisons if _has_data(a)]
    if comparisons:
        labels = " và ".join(p.label for p, _ in comparisons)
        heading(fill(text["comparison_title"], labels=labels))
        if usable:
            blocks.append(_comparison_table(agg, comparisons, defs))
        else:
            para(fill(text["comparison_none"], labels=labels))

    # -- rollup: who sent what ---------------------------------------------------------------------
    if agg.status is not None and len(agg.status):
        roll = rep.get("rollup", {})
        heading(roll.get("section_status", ""))
        status = tuple((str(s["code"]), str(s["name"]), str(s.get("date") or str(s["created_at"] or "")[:10]),
                        str(s["status"])) for s in records(agg.status))
        blocks.append(Block(TABLE, header=tuple(roll.get("status_columns", [])), rows=status, weights=(2, 5, 3, 2),
                            aligns=("center", "left", "center", "center")))

    # -- III. milestones, at the period's data cut-off ------------------------------------------------
    overdue_steps: list[str] = []
    if agg.milestones is not None and len(agg.milestones):
        m = agg.milestones
        done = int((m["status_key"] == "done").sum())
        late = records(m[m["status_key"] == "overdue"])
        overdue_steps = [fill(text["item_step"], no=x.get("step_no") or "", step=x.get("step") or "",
                              deadline=date_text(x.get("deadline"))) for x in late]
        section(text["section_milestones"])
        para(fill(text["milestones_summary"], done=done, total=len(m), overdue=len(late)))
        steps = tuple((str(x.get("step_no") or ""), str(x.get("step") or ""), date_text(x.get("deadline")),
                       date_text(x.get("done_on")), str(x.get("status") or "")) for x in records(m))
        blocks.append(Block(TABLE, header=tuple(text["milestone_columns"]), rows=steps, weights=(1, 5, 2, 2, 2),
                            aligns=("center", "left", "center", "center", "center")))

    # -- IV. budget --------------------------------------------------------------------------------
    budget_gap: dict[str, int] = {}
    if agg.budget is not None and len(agg.budget):
        b = records(agg.budget)
        sums = {c: sum(int(x[c] or 0) for x in b) for c in ("estimate", "approved", "spent")}
        money = [(str(x["source"]), _num(x["estimate"]), _num(x["approved"]), _num(x["spent"])) for x in b]
        money.append((text["total"], *[_num(sums[c]) for c in ("estimate", "approved", "spent")]))
        section(text["section_budget"])
        blocks.append(Block(TABLE, header=tuple(text["budget_columns"]), rows=tuple(money), weights=(6, 2, 2, 2),
                            aligns=("left", "right", "right", "right"), total_last=True))
        if sums["approved"] < sums["estimate"]:
            budget_gap = sums
        for line in _budget_lines(agg, text, params):
            para(line)

    # -- V. weak points (tồn tại, hạn chế) -------------------------------------------------------------
    section(text["section_weak"])
    weak = _weak_lines(agg, findings, overdue_steps, text, months)
    for line in weak or [fill(text["weak_none_upper" if upper else "weak_none"], **params)]:
        para("- " + line if weak else line)

    # -- VI. what comes next (phương hướng) ----------------------------------------------------------
    section(text["section_directions"])
    own = str(header.get("directions") or "").strip()
    # the officer's tasks, separated by ";" (a cell's line breaks are folded when the workbook is read)
    lines = [x.strip() for x in re.split(r"[;\n]", own) if x.strip()] if own else [fill(x, **params) for x in text["directions"]]
    for line in lines:
        para(line if line[:1] in "-+•" else "- " + line)

    # -- VII. proposals from the data of the period ------------------------------------------------------
    section(text["section_proposals"])
    proposals = _proposals(agg, findings, overdue_steps, budget_gap, text, params, months)
    for line in proposals or [fill(text["proposals_none_upper" if upper else "proposals_none"], **params)]:
        para("- " + line if proposals else line)

    closing = fill(text["closing_upper" if upper else "closing"], **params)
    return ReportBody(blocks, closing)


def _comparison_table(agg: Aggregate, comparisons: Sequence[tuple[Period, Aggregate]], defs: Definitions) -> Block:
    text = report_defs(defs).get("text", {})
    total = agg.total()
    others = [(p, a.total()) for p, a in comparisons]
    base_p, base = others[-1]  # the same period of the year before (or the year before)
    head = (text["column_no"], text["column_indicator"], _cap(agg.period.label), *[_cap(p.label) for p, _ in others],
            fill(text["comparison_change"], label=base_p.label))
    rows = []
    for i, key in enumerate(agg.indicators, start=1):
        now, then = total.get(key), base.get(key)
        change = "–" if now is None or then is None else (("+" if now > then else "") + group_number(now - then))
        rows.append((str(i), agg.labels.get(key, key), _num(now), *[_num(t.get(key)) for _, t in others], change))
    n = len(others)
    return Block(TABLE, header=head, rows=tuple(rows), weights=(1, 3, *([2] * (n + 1)), 2),
                 aligns=("center", "left", *(["right"] * (n + 2))))


def _cap(label: str) -> str:
    return label[:1].upper() + label[1:]


def _weak_lines(agg: Aggregate, findings: Findings | None, overdue: Sequence[str], text: Mapping[str, Any],
                months: int) -> list[str]:
    out = []
    if findings is not None:
        f = findings
        if f.missing:
            out.append(fill(text["weak_missing"], count=sum(f.missing.values()), items=_items(f.missing, text["item_months"], months)))
        if f.late:
            out.append(fill(text["weak_late"], count=sum(f.late.values()), items=_items(f.late, text["item_months"], months)))
        if f.no_launch:
            out.append(fill(text["weak_no_launch"], count=len(f.no_launch), items=_items(f.no_launch, text["item_months"], months)))
        if f.not_reached:
            out.append(fill(text["weak_not_reached"], count=sum(f.not_reached.values()),
                            items=", ".join(fill(text["item_people"], name=n, count=c) for n, c in f.not_reached.items())))
    elif agg.level != LEVEL_COMMUNE:
        roll = agg.rollup
        if roll.missing:
            out.append(fill(text["weak_units_missing"], count=len(roll.missing), names="; ".join(roll.missing)))
        if roll.late:
            out.append(fill(text["weak_units_late"], count=len(roll.late), names="; ".join(roll.late)))
        total = agg.total()
        known, reached = total.get("drug_people_known"), total.get("drug_people_reached")
        if known is not None and reached is not None and known > reached:
            out.append(fill(text["weak_units_not_reached"], count=group_number(known - reached)))
    if overdue:
        out.append(fill(text["weak_overdue"], count=len(overdue), items="; ".join(overdue)))
    return out


def _proposals(agg: Aggregate, findings: Findings | None, overdue: Sequence[str], budget: Mapping[str, int],
               text: Mapping[str, Any], params: Mapping[str, Any], months: int) -> list[str]:
    out = []
    f = findings
    if f is not None:
        behind = list(dict.fromkeys([*f.missing, *f.late]))
        if behind:
            out.append(fill(text["proposal_reports"], items=", ".join(behind), **params))
        if f.no_launch:
            out.append(fill(text["proposal_launch"], items=", ".join(f.no_launch), **params))
        if f.not_reached:
            out.append(fill(text["proposal_reached"], items=", ".join(f.not_reached), count=sum(f.not_reached.values()), **params))
    elif agg.level != LEVEL_COMMUNE and (agg.rollup.missing or agg.rollup.late):
        out.append(fill(text["proposal_units"], names="; ".join([*agg.rollup.missing, *agg.rollup.late]), **params))
    if overdue:
        out.append(fill(text["proposal_overdue"], items="; ".join(overdue), **params))
    if budget:
        out.append(fill(text["proposal_budget"], gap=group_number(budget["estimate"] - budget["approved"]),
                        estimate=group_number(budget["estimate"]), approved=group_number(budget["approved"]), **params))
    for lv in agg.hotspot:
        if lv.configured and lv.met:
            out.append(fill(text["proposal_hotspot"], level=lv.label, **params))
    out += [fill(x, **params) for x in text.get("proposals_upper" if agg.level != LEVEL_COMMUNE else "proposals", [])]
    for name, note in agg.notes:
        out.append(fill(text["village_note"], name=name, note=note))
    return out
