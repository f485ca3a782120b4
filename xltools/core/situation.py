"""What a unit reported beyond its figures, machine-readable for the level above (issue 12, item 11).

A submission's Tình hình sheet (report.toml [sheets] situation, wording in [info.situation]) holds
one (key, value) row per fact, covered by ``situation_sha256`` in Thông tin:

- a commune's: the drug situation at the period's end (``drug.*``), the hotspot check per level
  (``hotspot.<level>``: met | not_met | unknown | not_configured, with the criteria met), the
  milestones at the period's data cut-off (``milestones.total/done/overdue`` and the overdue
  steps) and the budget totals (``budget.estimate/approved/spent``);
- a rollup's: the same facts added up over its units (``UNIT_KEYS``): units per hotspot verdict,
  units with overdue steps, units exported despite errors, the units' validation counts, so that a
  rollup of rollups carries them upward.

A fact without data is absent (never 0); a submission made before the sheet existed has none and is
"không có số liệu" in the rollup.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .aggregation import Aggregate
from .checksum import rows_checksum
from .definitions import Definitions, report_defs
from .frames import records
from .messages import fill
from .numbers import group_number
from .text import clean

LEVEL_KEY = "level"
DRUG = ("addicts", "users", "post_rehab", "arrested")
MONEY = ("estimate", "approved", "spent")
STEPS = ("done", "total", "overdue")
VERDICTS = ("met", "not_met", "unknown")  # a configured level's verdict; "not_configured" is not counted
_VERDICT = {True: "met", False: "not_met", None: "unknown"}


def situation_checksum(rows: Iterable[tuple[str, str]]) -> str:
    """The SHA-256 of the Tình hình rows (key and value; the labels and words are for reading)."""
    return rows_checksum((k, v) for k, v in rows)


def canonical(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rows as the sheet gives them back: NFC, trimmed, white space folded (what the checksum covers)."""
    return [(clean(str(k)) or "", clean(str(v)) or "") for k, v in rows]


def _int(value: Any) -> int | None:
    try:
        if value is None or str(value).strip() == "":
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def commune_situation(agg: Aggregate) -> list[tuple[str, str]]:
    """The Tình hình rows of a commune's submission, from its aggregate of the period."""
    out: list[tuple[str, str]] = [(LEVEL_KEY, "commune")]
    for key in DRUG:
        value = _int(agg.facts.get(key))
        if value is not None:
            out.append((f"drug.{key}", str(value)))
    for lv in agg.hotspot:
        if not lv.configured:
            out.append((f"hotspot.{lv.key}", "not_configured"))
            continue
        out += [(f"hotspot.{lv.key}", _VERDICT[lv.met]), (f"hotspot.{lv.key}.criteria_met", str(lv.met_count)),
                (f"hotspot.{lv.key}.criteria_needed", str(lv.needed)),
                (f"hotspot.{lv.key}.criteria", ", ".join(c.key for c in lv.criteria if c.met is True))]
    if agg.milestones is not None and len(agg.milestones):
        steps = records(agg.milestones)
        late = [s for s in steps if s.get("status_key") == "overdue"]
        out += [("milestones.total", str(len(steps))),
                ("milestones.done", str(sum(s.get("status_key") == "done" for s in steps))),
                ("milestones.overdue", str(len(late))),
                ("milestones.overdue_steps", "; ".join(f"{s.get('step_no') or ''}. {s.get('step') or ''}".strip()
                                                       for s in late))]
    if agg.budget is not None and len(agg.budget):
        budget = records(agg.budget)
        for key in MONEY:
            values = [_int(b.get(key)) for b in budget]
            known = [v for v in values if v is not None]
            if known:
                out.append((f"budget.{key}", str(sum(known))))
    return out


# ---------------------------------------------------------------------------- one unit, as the rollup sees it
@dataclass
class UnitSituation:
    """One unit of a rollup: what its Thông tin and Tình hình say, as counts that add up a level.

    ``values`` holds the summable facts (``UNIT_KEYS``; None: no data); ``verdicts`` a commune's
    hotspot verdict per level, ``criteria`` its (met, needed, keys) per level; ``overdue_steps``
    its overdue steps' names. ``known`` is False for a submission without a Tình hình sheet."""

    code: str
    name: str
    level: str  # commune | upper
    known: bool
    values: dict[str, int | None] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    criteria: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    overdue_steps: str = ""

    def get(self, key: str) -> int | None:
        return self.values.get(key)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "level": self.level, "situation": self.known,
                "forced": bool(self.get("forced_units")), "values": dict(self.values),
                "hotspot": {lv: {"verdict": v, **({"criteria_met": self.criteria[lv][0], "criteria_needed": self.criteria[lv][1],
                                                   "criteria": [c for c in self.criteria[lv][2].split(", ") if c]}
                                                  if lv in self.criteria else {})}
                            for lv, v in self.verdicts.items()},
                "overdue_steps": [s for s in self.overdue_steps.split("; ") if s]}


def hotspot_levels(defs: Definitions) -> list[tuple[str, str]]:
    """(key, label) of every hotspot level of report.toml, in order."""
    return [(lv["key"], lv.get("label", lv["key"])) for lv in report_defs(defs).get("hotspot", {}).get("level", [])]


def unit_situation(code: str, name: str, info: Mapping[str, str], situation: Mapping[str, str] | None,
                   defs: Definitions) -> UnitSituation:
    """A unit's facts from its Thông tin (``info``) and Tình hình (``situation``, None when absent)."""
    yes = str(report_defs(defs).get("info", {}).get("yes", "yes"))
    upper = (situation or {}).get(LEVEL_KEY) == "upper" or (situation is None and info.get("kind") ==
                                                             report_defs(defs).get("info", {}).get("kind_upper"))
    unit = UnitSituation(code=code, name=name, level="upper" if upper else "commune", known=situation is not None)
    v = unit.values
    if upper:
        # a rollup's own Thông tin counts rejected files, not its units' findings: those are in its Tình hình
        for key in ("forced_units", "validation_errors", "validation_warnings"):
            v[key] = _int((situation or {}).get(key))
    else:
        v["forced_units"] = 1 if info.get("forced", "") == yes else 0
        v["validation_errors"] = _int(info.get("validation_errors"))
        v["validation_warnings"] = _int(info.get("validation_warnings"))
    if situation is None:
        return unit
    s = situation
    v["units"] = _int(s.get("units")) if upper else 1
    v["units_no_data"] = _int(s.get("units_no_data")) if upper else 0
    for key in DRUG:
        v[f"drug.{key}"] = _int(s.get(f"drug.{key}"))
    for lv, _label in hotspot_levels(defs):
        if upper:
            for verdict in VERDICTS:
                v[f"hotspot.{lv}.{verdict}"] = _int(s.get(f"hotspot.{lv}.{verdict}"))
            continue
        verdict = s.get(f"hotspot.{lv}", "")
        if verdict in VERDICTS:
            unit.verdicts[lv] = verdict
            unit.criteria[lv] = (_int(s.get(f"hotspot.{lv}.criteria_met")) or 0,
                                 _int(s.get(f"hotspot.{lv}.criteria_needed")) or 0, s.get(f"hotspot.{lv}.criteria", ""))
            for other in VERDICTS:
                v[f"hotspot.{lv}.{other}"] = int(other == verdict)
        elif verdict:
            unit.verdicts[lv] = verdict
    for key in STEPS:
        v[f"milestones.{key}"] = _int(s.get(f"milestones.{key}"))
    if upper:
        v["milestones.units_overdue"] = _int(s.get("milestones.units_overdue"))
    else:
        overdue = v["milestones.overdue"]
        v["milestones.units_overdue"] = None if overdue is None else int(overdue > 0)
        unit.overdue_steps = s.get("milestones.overdue_steps", "")
    for key in MONEY:
        v[f"budget.{key}"] = _int(s.get(f"budget.{key}"))
    return unit


def _sum(values: Iterable[int | None]) -> int | None:
    known = [x for x in values if x is not None]
    return sum(known) if known else None


def summed(units: Sequence[UnitSituation], defs: Definitions) -> dict[str, int | None]:
    """Every summable fact added up over the units (None when no unit has it)."""
    keys = ["units", "units_no_data", "forced_units", "validation_errors", "validation_warnings",
            *[f"drug.{k}" for k in DRUG],
            *[f"hotspot.{lv}.{v}" for lv, _ in hotspot_levels(defs) for v in VERDICTS],
            *[f"milestones.{k}" for k in STEPS], "milestones.units_overdue", *[f"budget.{k}" for k in MONEY]]
    out = {k: _sum(u.get(k) for u in units) for k in keys}
    out["units_no_data"] = (out["units_no_data"] or 0) + sum(not u.known for u in units)
    out["units"] = (out["units"] or 0) + sum(not u.known for u in units)
    return out


def upper_situation(units: Sequence[UnitSituation], defs: Definitions) -> list[tuple[str, str]]:
    """The Tình hình rows of a rollup's own submission: its units' facts added up."""
    out: list[tuple[str, str]] = [(LEVEL_KEY, "upper")]
    for key, value in summed(units, defs).items():
        if value is not None:
            out.append((key, str(value)))
    return out


# ---------------------------------------------------------------------------- words
def words(defs: Definitions) -> Mapping[str, Any]:
    return report_defs(defs).get("info", {}).get("situation", {})


def row_label(key: str, defs: Definitions) -> str:
    """The label of a Tình hình key ("hotspot.loai_1.criteria_met" -> its [info.situation.labels] "hotspot.*…")."""
    labels = words(defs).get("labels", {})
    parts = key.split(".")
    if parts[0] == "hotspot" and len(parts) >= 2:
        names = dict(hotspot_levels(defs))
        pattern = ".".join(["hotspot", "*", *parts[2:]])
        return fill(labels.get(pattern, key), level=names.get(parts[1], parts[1]))
    return labels.get(key, key)


def row_words(key: str, value: str, defs: Definitions) -> str:
    """The value of a Tình hình row in words (the verdicts, the level)."""
    w = words(defs)
    if key == LEVEL_KEY:
        return str(w.get(f"level_{value}", value))
    if key.startswith("hotspot.") and key.count(".") == 1:
        return str(w.get(f"status_{value}", value))
    if value.lstrip("-").isdigit():
        return group_number(int(value))
    return value


def hotspot_text(unit: UnitSituation, level: str, defs: Definitions) -> str:
    """A unit's hotspot cell: "thuộc diện (đáp ứng 3 trên 3 tiêu chí: a, b, c)", or for a rollup
    the count of units per verdict; "không có số liệu" when the unit has none."""
    w = words(defs)
    if not unit.known:
        return str(w.get("no_data", ""))
    if unit.level == "upper":
        counts = {v: unit.get(f"hotspot.{level}.{v}") for v in VERDICTS}
        if all(c is None for c in counts.values()):
            return str(w.get("no_data", ""))
        return fill(str(w.get("hotspot_upper", "")), **{k: c or 0 for k, c in counts.items()})
    verdict = unit.verdicts.get(level)
    if verdict is None:
        return str(w.get("no_data", ""))
    out = str(w.get(f"status_{verdict}", verdict))
    if level in unit.criteria:
        met, needed, keys = unit.criteria[level]
        out += " (" + fill(str(w.get("criteria_words", "")), met=met, needed=needed) + (f": {keys}" if keys else "") + ")"
    return out


def shown_levels(units: Sequence[UnitSituation], defs: Definitions) -> list[tuple[str, str]]:
    """The hotspot levels some unit was judged on (a level configured nowhere is left out)."""
    return [(lv, label) for lv, label in hotspot_levels(defs)
            if any(any(u.get(f"hotspot.{lv}.{v}") is not None for v in VERDICTS) for u in units)]


def body_lines(units: Sequence[UnitSituation], defs: Definitions) -> list[str]:
    """The rollup report's sentences (section I) about what its units reported: the drug situation
    added up, the units exported despite errors, the units meeting a hotspot level (report.toml [text])."""
    text = report_defs(defs).get("text", {})
    out: list[str] = []
    known = [u for u in units if u.known]
    totals = summed(units, defs)
    if any(totals.get(f"drug.{k}") is not None for k in DRUG):
        line = fill(text.get("units_drug", ""), **{k: group_number(totals.get(f"drug.{k}")) or "0" for k in DRUG})
        lacking = [u for u in units if not u.known or all(u.get(f"drug.{k}") is None for k in DRUG)]
        if lacking:
            line += fill(text.get("units_drug_partial", ""), count=len(lacking),
                         names="; ".join(f"{u.name} ({u.code})" for u in lacking))
        out.append(line)
    forced = [u for u in units if u.get("forced_units")]
    if forced:
        items = [fill(text.get("units_forced_item_upper", ""), name=u.name, count=u.get("forced_units"))
                 if u.level == "upper" else fill(text.get("units_forced_item", ""), name=u.name, errors=u.get("validation_errors") or 0)
                 for u in forced]
        out.append(fill(text.get("units_forced", ""), items="; ".join(items)))
    for lv, label in shown_levels(known, defs):
        hits = [u for u in known if u.get(f"hotspot.{lv}.met")]
        if hits:
            items = [fill(text.get("units_hotspot_item_upper", ""), name=u.name, count=u.get(f"hotspot.{lv}.met"))
                     if u.level == "upper" else u.name for u in hits]
            out.append(fill(text.get("units_hotspot", ""), level=label, count=sum(u.get(f"hotspot.{lv}.met") or 0 for u in hits),
                            items="; ".join(items)))
    return out


def units_table(units: Sequence[UnitSituation], defs: Definitions) -> tuple[list[str], list[list[Any]]]:
    """The rollup's per-unit sheet (Tình hình các đơn vị): header and rows (numbers as int, None for
    "không có số liệu"), then the total row: sums where they make sense, counts of units otherwise."""
    w = words(defs)
    none = str(w.get("no_data", ""))
    levels = shown_levels(units, defs)
    header = [*w.get("columns_units", []), *[fill(str(w.get("column_hotspot", "")), level=label) for _, label in levels],
              *w.get("columns_drug", []), *w.get("columns_milestones", []), *w.get("columns_budget", [])]
    rows: list[list[Any]] = []

    def value(u: UnitSituation, key: str) -> Any:
        v = u.get(key)
        return none if v is None else v

    for i, u in enumerate(units, start=1):
        count = u.get("forced_units") or 0
        if u.level == "upper":
            mark = fill(str(w.get("forced_mark_upper", "")), count=count) if count else ""
            steps = fill(str(w.get("overdue_upper", "")), count=u.get("milestones.units_overdue")) \
                if u.get("milestones.units_overdue") else ""
        else:
            mark = fill(str(w.get("forced_mark", "")), errors=u.get("validation_errors") or 0) if count else ""
            steps = u.overdue_steps
        rows.append([i, u.code, u.name, mark, value(u, "validation_errors"), value(u, "validation_warnings"),
                     *[hotspot_text(u, lv, defs) for lv, _ in levels],
                     *[value(u, f"drug.{k}") for k in DRUG],
                     *[value(u, f"milestones.{k}") for k in STEPS], steps if u.known else none,
                     *[value(u, f"budget.{k}") for k in MONEY]])
    t = summed(units, defs)
    total = [str(w.get("total", "")), "", "", fill(str(w.get("forced_mark_upper", "")), count=t["forced_units"] or 0),
             t["validation_errors"], t["validation_warnings"],
             *[fill(str(w.get("hotspot_upper", "")), **{v: t.get(f"hotspot.{lv}.{v}") or 0 for v in VERDICTS}) for lv, _ in levels],
             *[t.get(f"drug.{k}") for k in DRUG], *[t.get(f"milestones.{k}") for k in STEPS],
             fill(str(w.get("overdue_upper", "")), count=t.get("milestones.units_overdue") or 0),
             *[t.get(f"budget.{k}") for k in MONEY]]
    rows.append([none if x is None else x for x in total])
    return header, rows


def with_lines(body: Any, lines: Sequence[str]) -> Any:
    """``body`` (a ``report_body.ReportBody``) with ``lines`` as paragraphs at the end of section I."""
    from .report_body import PARA, SECTION, Block

    if not lines:
        return body
    sections = [i for i, b in enumerate(body.blocks) if b.kind == SECTION]
    at = sections[1] if len(sections) > 1 else len(body.blocks)
    body.blocks[at:at] = [Block(PARA, line) for line in lines]
    return body
