"""Issues as the officer reads them: text grouped by sheet, JSON records, CSV."""
from __future__ import annotations

import csv
import io
import json

from .. import messages
from ..definitions import Definitions, get_definitions
from .core import FIELDS, Report, rules_config


def summary(report: Report, file: str = "") -> str:
    key = "validate_summary_period" if report.period else "validate_summary"
    return messages.text(key, file=file, period=report.period or "", errors=report.errors,
                         warnings=report.warnings, infos=report.infos)


def severity_labels(defs: Definitions) -> dict[str, str]:
    labels = rules_config(defs).get("severity", {})
    return {s: labels.get(s, s) for s in ("error", "warning", "info")}


def render_text(report: Report, file: str = "", defs: Definitions | None = None) -> str:
    """One heading per sheet, one line per issue: severity, cell, message, rule id."""
    defs = defs or get_definitions()
    labels = severity_labels(defs)
    width = max(len(v) for v in labels.values())
    lines = [summary(report, file)]
    current = object()
    for issue in report.issues:
        if issue.sheet != current:
            current = issue.sheet
            count = sum(1 for i in report.issues if i.sheet == current)
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
