"""Issues as the officer reads them: text grouped by sheet, JSON records, CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .. import messages
from ..definitions import Definitions, get_definitions
from ..sheetrows import SheetRow
from ..text import header_key, is_blank
from .core import FIELDS, SEVERITIES, Report, fmt_value, rules_config


def summary(report: Report, file: str = "") -> str:
    key = "validate_summary_period" if report.period else "validate_summary"
    return messages.text(key, file=file, period=report.period or "", errors=report.errors,
                         warnings=report.warnings, infos=report.infos)


def severity_labels(defs: Definitions) -> dict[str, str]:
    labels = rules_config(defs).get("severity", {})
    return {s: labels.get(s, s) for s in SEVERITIES}


def render_text(report: Report, file: str = "", defs: Definitions | None = None) -> str:
    """One heading per sheet, one line per issue: severity, cell, message, rule id."""
    defs = defs or get_definitions()
    labels = severity_labels(defs)
    width = max(len(v) for v in labels.values())
    lines = [summary(report, file)]
    counts = Counter(i.sheet for i in report.issues)
    current = object()
    for issue in report.issues:
        if issue.sheet != current:
            current = issue.sheet
            count = counts[current]
            heading = (messages.text("validate_sheet_heading", sheet=current, count=count) if current
                       else messages.text("validate_general_heading", count=count))
            lines += ["", heading]
        where = issue.cell or "–"
        lines.append(f"  {labels.get(issue.severity, issue.severity):<{width}}  {where:<7} {issue.message}  [{issue.rule}]")
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.records())
    return buffer.getvalue()


def render(report: Report, fmt: str = "text", file: str = "", defs: Definitions | None = None) -> str:
    """The report as ``text``, ``json`` (the list of issue records) or ``csv``."""
    if fmt == "json":
        return json.dumps(report.records(), ensure_ascii=False, indent=2, default=str) + "\n"
    if fmt == "csv":
        return render_csv(report)
    return render_text(report, file, defs)


FIRST_ISSUE_ROW = 5  # Kiểm tra: title, counts, blank line, header, then one row per issue


def checks_rows(report: Report, defs: Definitions, when: dt.datetime) -> list[SheetRow]:
    """The Kiểm tra sheet (rules.toml [checks_sheet]): title, counts, header, one row per issue
    from row FIRST_ISSUE_ROW on (the writers add the hyperlinks and the highlights)."""
    config = rules_config(defs).get("checks_sheet", {})
    columns = config.get("columns", [])
    labels = severity_labels(defs)
    fixes = {k: v.get("fix", "") for k, v in rules_config(defs).get("rule", {}).items() if isinstance(v, dict)}
    rows = [
        SheetRow((config.get("title", defs.sheet("checks").name.upper()),), "title"),
        SheetRow((messages.fill(config.get("checked", ""), time=when.strftime("%d/%m/%Y %H:%M"), errors=report.errors,
                                warnings=report.warnings, infos=report.infos),), "note"),
        SheetRow((), "blank"),
        SheetRow(tuple(c.get("header", c["key"]) for c in columns), "header"),
    ]
    for issue in report.issues:
        values = {
            "severity": labels.get(issue.severity, issue.severity), "rule": issue.rule, "sheet": issue.sheet,
            "cell": issue.cell, "header": issue.header, "value": fmt_value(issue.value), "message": issue.message,
            # an engine issue's value is the rule it is about: its fix names that rule's entry
            "fix": messages.fill(fixes.get(issue.rule, ""), rule_id=issue.value),
            "row": issue.row, "column": issue.column,
        }
        rows.append(SheetRow(tuple(None if values.get(c["key"]) in ("", None) else values.get(c["key"]) for c in columns), "data"))
    if not report.issues:
        rows.append(SheetRow((config.get("none", ""),), "text"))
    return rows


def _listed(rows: Iterable[Sequence[Any]], defs: Definitions) -> Iterator[tuple[str, str, Any]]:
    """(sheet, cell, severity label) of every issue listed on a Kiểm tra sheet (its rows of
    values, from A1). A cell written as a HYPERLINK formula counts by the address it shows."""
    columns = rules_config(defs).get("checks_sheet", {}).get("columns", [])
    headers = {header_key(c.get("header", c["key"])): c["key"] for c in columns}
    positions: dict[str, int] | None = None

    def at(row: Sequence[Any], key: str) -> Any:
        assert positions is not None
        i = positions.get(key)
        return row[i] if i is not None and i < len(row) else None

    for row in rows:
        if positions is None:
            found = {headers[header_key(v)]: i for i, v in enumerate(row) if header_key(v) in headers}
            if "sheet" in found and "cell" in found:
                positions = found
            continue
        sheet, cell = at(row, "sheet"), at(row, "cell")
        if is_blank(sheet) or is_blank(cell):
            continue
        text = str(cell).strip()
        if text.upper().startswith("=HYPERLINK("):
            text = text.rstrip(")").rsplit(",", 1)[-1].strip().strip('"')
        yield str(sheet), text, at(row, "severity")


def listed_cells(rows: Iterable[Sequence[Any]], defs: Definitions) -> list[tuple[str, str]]:
    """(sheet, cell) of every issue listed on a Kiểm tra sheet (its rows of values, from A1)."""
    return [(sheet, cell) for sheet, cell, _ in _listed(rows, defs)]


def highlighted_cells(rows: Iterable[Sequence[Any]], defs: Definitions) -> list[tuple[str, str]]:
    """(sheet, cell) of the issues listed on a Kiểm tra sheet whose severity has a fill: the cells
    the previous run filled, and so the only ones the next run clears (a fill the officer chose
    on another cell stays). Without a severity column every listed cell counts."""
    config = rules_config(defs).get("checks_sheet", {})
    filled = {header_key(label) for sev, label in severity_labels(defs).items()
              if str(config.get(f"{sev}_fill") or "").strip()}
    return [(sheet, cell) for sheet, cell, sev in _listed(rows, defs) if sev is None or header_key(sev) in filled]
