"""The hotspot check (QĐ 28/2025): which criteria of each level a commune meets in a period,
from the Tình hình ma túy rows and the thresholds of report.toml [hotspot]."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .definitions import Definitions, report_defs
from .numbers import group_number, percent
from .periods import Period


@dataclass(frozen=True)
class CriterionResult:
    level: str
    key: str
    label: str
    source: str
    met: bool | None  # None: cannot be evaluated (missing data or thresholds)
    value: str  # what was measured, for display


@dataclass(frozen=True)
class LevelResult:
    key: str
    label: str
    source: str
    configured: bool  # thresholds exist in report.toml
    needed: int
    met_count: int
    unknown_count: int
    criteria: tuple[CriterionResult, ...]

    @property
    def met(self) -> bool | None:
        if not self.configured:
            return None
        if self.met_count >= self.needed:
            return True
        if self.met_count + self.unknown_count >= self.needed:
            return None
        return False


def _condition_value(rows: pd.DataFrame, cond: Mapping[str, Any], population: int) -> float | None:
    if rows.empty:
        return None
    cols = [c for c in cond.get("columns", []) if c in rows.columns]
    if not cols:
        return None
    if cond.get("over", "last") == "sum":
        total = 0.0
        for c in cols:
            total += float(pd.to_numeric(rows[c], errors="coerce").fillna(0).sum())
    else:
        last = rows.iloc[-1]
        vals = [last[c] for c in cols]
        if any(v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in vals):
            return None
        total = float(sum(float(v) for v in vals))
    if cond.get("per") == "population":
        if not population:
            return None
        return total / population
    return total


def hotspot_check(situation: pd.DataFrame | None, period: Period, population: int, defs: Definitions) -> list[LevelResult]:
    """QĐ 28/2025 criteria checked level by level from the Tình hình ma túy rows of the period.

    A level without criteria in report.toml is reported as not configured; a criterion
    whose data are missing counts as unknown, never as met.
    """
    spec = report_defs(defs).get("hotspot", {})
    levels = spec.get("level", [])
    criteria = spec.get("criterion", [])
    rows = pd.DataFrame()
    if situation is not None and len(situation) and "period" in situation.columns:
        rows = situation[situation["period"].isin(period.months())].sort_values("period")
    results: dict[str, LevelResult] = {}
    # levels referenced by others (loại III for loại I đ) are evaluated first
    order = sorted(levels, key=lambda lv: 0 if any(
        c.get("requires_level", {}).get("level") == lv["key"] for c in criteria) else 1)
    for lv in order:
        own = [c for c in criteria if c.get("level") == lv["key"]]
        configured = bool(own) and bool(lv.get("min_criteria"))
        out: list[CriterionResult] = []
        for c in own:
            met: bool | None
            shown: list[str] = []
            values = []
            for cond in c.get("conditions", []):
                v = _condition_value(rows, cond, population)
                values.append(None if v is None else v >= float(cond["at_least"]))
                if v is not None:
                    shown.append(percent(v, 2) if cond.get("per") == "population" else group_number(v))
            if values:
                met = True if any(v is True for v in values) else (None if any(v is None for v in values) else False)
            else:
                met = True
            flag = c.get("requires_true")
            if flag:
                if rows.empty or flag not in rows.columns or rows.iloc[-1][flag] is None or rows.iloc[-1][flag] is pd.NA:
                    met = None if met is not False else False
                elif not bool(rows.iloc[-1][flag]):
                    met = False
            req = c.get("requires_level")
            if req and met is not False:
                other = results.get(req.get("level", ""))
                needed = int(req.get("min", 1))
                if other is None or not other.configured:
                    met = None
                elif other.met_count < needed:  # enough met leaves ``met`` as it is
                    met = None if other.met_count + other.unknown_count >= needed else False
            out.append(CriterionResult(lv["key"], c["key"], c.get("label", c["key"]), c.get("source", ""), met, ", ".join(shown)))
        results[lv["key"]] = LevelResult(
            key=lv["key"], label=lv.get("label", lv["key"]), source=lv.get("source", ""), configured=configured,
            needed=int(lv.get("min_criteria") or 0), met_count=sum(r.met is True for r in out),
            unknown_count=sum(r.met is None for r in out), criteria=tuple(out),
        )
    return [results[lv["key"]] for lv in levels]

