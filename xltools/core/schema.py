"""The definitions as documentation: Markdown for the README, JSON for tools."""
from __future__ import annotations

from typing import Any

from .definitions import Definitions, get_definitions

_TYPE_VI = {
    "text": "chữ", "code": "mã (chữ)", "int": "số nguyên ≥ 0", "money": "số tiền (đồng)", "number": "số",
    "date": "ngày", "datetime": "ngày giờ", "bool": "Có/Không", "list": "danh sách", "phone": "điện thoại",
    "period": "kỳ YYYY-MM", "formula": "công thức",
}


def schema_dict(defs: Definitions | None = None) -> dict[str, Any]:
    defs = defs or get_definitions()
    return {
        "version": defs.version,
        "sheets": [
            {
                "key": s.key, "name": s.name, "kind": s.kind, "table": s.table, "protected": s.protected,
                "columns": [
                    {k: v for k, v in {
                        "key": c.key, "header": c.header, "type": c.type, "required": c.required,
                        "unique": c.unique, "list": c.list, "ref": c.ref, "max_length": c.max_length,
                    }.items() if v not in (None, False)}
                    for c in s.columns
                ],
            }
            for s in defs.sheets
        ],
        "indicators": [
            {"key": i.key, "label": i.label, "short": i.short, "unit": i.unit, "type": i.type, "agg": i.agg}
            for i in defs.indicators
        ],
        "derived": [{"key": d.key, "label": d.label, "kind": d.kind, **d.params} for d in defs.derived],
        "lists": {k: list(v.values) for k, v in defs.lists.items()},
        "settings": [{"key": s.key, "label": s.label, "type": s.type, "required": s.required} for s in defs.settings],
    }


def schema_markdown(defs: Definitions | None = None) -> str:
    defs = defs or get_definitions()
    out = [f"# Commune workbook, definitions {defs.version}", "", "## Sheets", ""]
    out += ["| sheet | table | kind | columns |", "|---|---|---|---|"]
    for s in defs.sheets:
        out.append(f"| {s.name} | {s.table or '–'} | {s.kind} | {len(s.columns) or '–'} |")
    for s in defs.table_sheets:
        out += ["", f"### {s.name} (`{s.table}`)", "", "| key | header | type | required | list |", "|---|---|---|---|---|"]
        for c in s.columns:
            lst = c.list or ("villages" if c.ref else "")
            out.append(f"| `{c.key}` | {c.header} | {_TYPE_VI.get(c.type, c.type)} | {'✓' if c.required else ''} | {lst} |")
    out += ["", "## Indicators (village monthly report)", "", "| key | label | unit | over time |", "|---|---|---|---|"]
    for i in defs.indicators:
        out.append(f"| `{i.key}` | {i.label} | {i.unit} | {i.agg} |")
    out += ["", "## Derived indicators", "", "| key | label | kind |", "|---|---|---|"]
    for d in defs.derived:
        out.append(f"| `{d.key}` | {d.label} | {d.kind} |")
    out += ["", "## Lists", ""]
    for k, v in defs.lists.items():
        out.append(f"- `{k}` ({v.label}): " + "; ".join(v.values))
    out += ["", "## Settings (Cấu hình)", "", "| key | label | type |", "|---|---|---|"]
    for setting in defs.settings:
        out.append(f"| `{setting.key}` | {setting.label} | {setting.type} |")
    return "\n".join(out) + "\n"
