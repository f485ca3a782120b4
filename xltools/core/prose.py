"""What an aggregate says in words (the general situation) and the Tổng hợp sheet's rows."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .aggregation import LEVEL_COMMUNE, Aggregate
from .definitions import Definitions, report_defs
from .frames import records
from .messages import fill
from .numbers import group_number, percent
from .sheetrows import SheetRow


def general_lines(agg: Aggregate, rep: Mapping[str, Any]) -> list[str]:
    """The sentences of section I (general situation)."""
    text = rep["text"]
    layout = rep["layout"]
    decimals, comma = int(layout.percent_decimals), bool(layout.decimal_comma)
    f = agg.facts
    out = []
    if agg.level == LEVEL_COMMUNE:
        exp = f.get("expected") or 0
        out.append(fill(text["general_villages"], active=f.get("active", 0), reported=f.get("reported", 0), expected=exp,
                        completeness=percent(f.get("reported", 0) / exp if exp else None, decimals, comma),
                        timely=f.get("timely", 0), timeliness=percent(f.get("timely", 0) / exp if exp else None, decimals, comma)))
        if "addicts" in f:
            out.append(fill(text["general_situation"], **{k: group_number(f.get(k)) or "0" for k in ("addicts", "users", "post_rehab", "arrested")}))
        unconfigured = []
        for lv in agg.hotspot:
            if not lv.configured:
                unconfigured.append(lv.label)
                continue
            verdict = {True: text["hotspot_yes"], False: text["hotspot_no"], None: text["hotspot_unknown"]}[lv.met]
            out.append(fill(text["general_hotspot"], level=lv.label, source=lv.source, met=lv.met_count, needed=lv.needed, verdict=verdict))
        if unconfigured:
            out.append(fill(text["hotspot_not_configured"], levels=", ".join(unconfigured)))
    else:
        exp = f.get("expected") or 0
        out.append(fill(text["general_units"], submitted=f.get("submitted", 0), expected=exp,
                        completeness=percent(f.get("submitted", 0) / exp if exp else None, decimals, comma),
                        timely=f.get("timely", 0), timeliness=percent(f.get("timely", 0) / exp if exp else None, decimals, comma)))
        basis = timeliness_basis(agg, rep)
        if basis:
            out.append(basis)
        for key, param in (("missing", "names"), ("late", "names"), ("unexpected", "names"), ("rejected", "items"), ("superseded", "items")):
            items = agg.rollup.items(key)
            if items:
                out.append(fill(text[f"general_{key}"], **{param: "; ".join(items)}))
    return out


def timeliness_basis(agg: Aggregate, rep: Mapping[str, Any]) -> str:
    """Which date a rollup judged timeliness by: the date on each report (report.toml [rollup]
    basis_report), the files' creation time for those without one (basis_mixed), or only that."""
    f, roll = agg.facts, rep.get("rollup", {})
    if not f.get("submitted") or not f.get("deadline"):
        return ""
    deadline = dt.date.fromisoformat(str(f["deadline"])).strftime("%d/%m/%Y")
    by_file = agg.rollup.items("by_file")
    if not by_file:
        return fill(roll.get("basis_report", ""), deadline=deadline)
    if len(by_file) == f["submitted"]:
        return fill(roll.get("basis_file", ""), deadline=deadline)
    return fill(roll.get("basis_mixed", ""), deadline=deadline, names="; ".join(by_file))


def summary_rows(agg: Aggregate, defs: Definitions, when: dt.datetime) -> list[SheetRow]:
    """The Tổng hợp sheet of the commune workbook (report.toml [summary]): title, time, the
    general situation, the table per village with its total, milestones and budget."""
    rep = report_defs(defs)
    summary, text = rep.get("summary", {}), rep.get("text", {})
    rows = [
        SheetRow((fill(summary.get("title", ""), period_label=agg.period.label.upper(), period=str(agg.period)),), "title"),
        SheetRow((fill(summary.get("generated", ""), time=when.strftime("%d/%m/%Y %H:%M")),), "note"),
    ]
    rows += [SheetRow((line,), "text") for line in general_lines(agg, rep)]
    rows.append(SheetRow((), "blank"))
    header, table = agg.table_rows()
    n_ind = len(agg.indicators)
    formats = (None,) + ("#,##0",) * n_ind + ("0.0%",) * (len(header) - 1 - n_ind)
    rows.append(SheetRow(tuple(header), "header"))
    for i, values in enumerate(table):
        style = "total" if i == len(table) - 1 else "data"
        rows.append(SheetRow(tuple(values), style, formats))
    if agg.milestones is not None and len(agg.milestones):
        m = agg.milestones
        rows += [
            SheetRow((), "blank"),
            SheetRow((text.get("section_milestones", ""),), "section"),
            SheetRow((fill(text.get("milestones_summary", ""), done=int((m["status_key"] == "done").sum()),
                           total=len(m), overdue=int((m["status_key"] == "overdue").sum())),), "text"),
        ]
    if agg.budget is not None and len(agg.budget):
        labels = tuple(text.get("budget_columns", []))
        rows += [SheetRow((), "blank"), SheetRow((text.get("section_budget", ""),), "section"),
                 SheetRow(labels, "header")]
        money = (None,) + ("#,##0",) * max(len(labels) - 1, 0)
        for rec in records(agg.budget):
            rows.append(SheetRow(tuple(rec.values()), "data", money))
    return rows

