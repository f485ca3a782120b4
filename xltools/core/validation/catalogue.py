"""The catalogue of rules, generated from the registry and rules.toml (``--list-rules``)."""
from __future__ import annotations

import json
from typing import Any

from ..definitions import Definitions, get_definitions
from .core import RULES, rules_config, words


def catalogue(defs: Definitions | None = None) -> list[dict[str, Any]]:
    """Every registered rule: id, family, severity, description, fix, parameters, message."""
    defs = defs or get_definitions()
    config = rules_config(defs)
    entries = config.get("rule", {})
    labels = config.get("severity", {})
    families = config.get("family", {})
    out = []
    for rule_id, spec in RULES.items():
        entry = entries.get(rule_id, {})
        severity = entry.get("severity", "")
        out.append({
            "id": rule_id,
            "family": spec.family,
            "family_label": families.get(spec.family, spec.family),
            "severity": severity,
            "severity_label": labels.get(severity, severity),
            "enabled": entry.get("enabled", True) is not False,
            "description": entry.get("description", ""),
            "fix": entry.get("fix", ""),
            "message": entry.get("message", ""),
            "params": dict(entry.get("params", {})),
        })
    return out


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def rule_catalogue(fmt: str = "md", defs: Definitions | None = None) -> str:
    """The catalogue as a Markdown table (``md``) or JSON (``json``)."""
    defs = defs or get_definitions()
    rules = catalogue(defs)
    if fmt == "json":
        return json.dumps(rules, ensure_ascii=False, indent=2)
    config = rules_config(defs)
    header = words(config, "catalogue_header", "| id | family_label | severity_label | description | fix | params |")
    lines = [header, "|" + "---|" * header.count("|", 1)]
    for r in rules:
        params = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in r["params"].items())
        severity = r["severity_label"] + ("" if r["enabled"] else words(config, "disabled", " (enabled = false)"))
        lines.append(
            f"| `{r['id']}` | {_cell(r['family_label'])} | {_cell(severity)} | {_cell(r['description'])} "
            f"| {_cell(r['fix'])} | {_cell(params)} |"
        )
    return "\n".join(lines) + "\n"
