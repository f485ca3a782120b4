"""Aggregate a commune's village reports for any period, and the same shape one level up.

Core module (pandas and the standard library only). An ``Aggregate`` holds one row per
part (a village, or a unit one level up) with *base values* only: every numeric
indicator aggregated over the period's months (``sum`` for flows, the latest month for
stocks) and, for each derived indicator of ``indicators.toml``, its numerator
``<key>.num`` and denominator ``<key>.den``. Totals add the parts; ratios are always
computed from summed numerators and denominators, never averaged. The long form of
these rows is the ``Số liệu`` sheet of a submission, which is why a rollup of rollups
works at any level.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from .definitions import Definitions, Derived, report_defs
from .errors import DefinitionsError
from .frames import records
from .hotspot import LevelResult, hotspot_check
from .numbers import group_number, percent
from .periods import Period, deadline_day_of, report_deadline

NUM, DEN = ".num", ".den"


@dataclass
class RollupStatus:
    """What a rollup found about its units' submissions (empty at the commune level).

    The lists hold what the report prints: "name (code)" for units, file names for files."""

    missing: list[str] = field(default_factory=list)  # expected units without a submission
    late: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # submitted but not in the expected list
    superseded: list[str] = field(default_factory=list)  # "old file → newer file"
    superseded_pairs: list[tuple[Any, Any]] = field(default_factory=list)  # (older, newer) UnitData
    empty: list[tuple[str, str]] = field(default_factory=list)  # (unit, file): completeness 0
    rejected: list[str] = field(default_factory=list)  # files refused, with the reason
    by_file: list[str] = field(default_factory=list)  # units judged by file time (no date on the report)

    def items(self, key: str) -> list[str]:
        """The list the report's sentence ``general_<key>`` names (missing, late, rejected …)."""
        return list(getattr(self, key))


class DataRow(NamedTuple):
    """One row of a submission's Số liệu sheet; the checksum is over these fields in this order.

    ``part_code`` is empty on the unit's totals."""

    unit_code: str
    period: str
    part_code: str
    part_name: str
    key: str
    agg: str
    value: int

    @property
    def is_total(self) -> bool:
        return self.part_code == ""
LEVEL_COMMUNE, LEVEL_UPPER = "commune", "upper"


# ---------------------------------------------------------------------------- helpers


def cut_day(defs: Definitions) -> int:
    """The day a month's data window closes on (rules.toml [common] cut_day; 15 when unusable)."""
    from .validation.core import common_cut_day  # the one reading of it (validation reports a bad value)

    return common_cut_day(defs.extra("rules")) or 15


def _deadline_days(settings: Mapping[str, Any], defs: Definitions) -> tuple[int, int]:
    """(form_deadline_day, cut_day) as validation reads them, with the same fallbacks."""
    return deadline_day_of(settings.get("form_deadline_day")), cut_day(defs)


def period_end(period: Period) -> dt.date:
    last = period.month_numbers[-1]
    return dt.date(period.year, last, calendar.monthrange(period.year, last)[1])


def _int(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def _ratio(num: Any, den: Any) -> float | None:
    n, d = _int(num), _int(den)
    if n is None or not d:
        return None
    return n / d


def _jsonable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append({k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in item.items()})
    return out


# ---------------------------------------------------------------------------- the aggregate
@dataclass
class Aggregate:
    """Per-part base values for a period, with totals and ratios computed on demand."""

    unit_code: str
    unit_name: str
    period: Period
    level: str  # commune | upper
    parts: pd.DataFrame  # columns: code, name, then every key of ``keys`` (Int64, NA = no data)
    keys: list[str]
    agg: dict[str, str]  # key -> sum | last | num | den
    labels: dict[str, str]
    derived: list[tuple[str, str]]  # (key, label) of the ratios, in order
    indicators: list[str]  # the indicator keys among ``keys``
    trend: pd.DataFrame | None = None  # month x indicator totals over the year (commune level)
    milestones: pd.DataFrame | None = None
    budget: pd.DataFrame | None = None
    hotspot: list[LevelResult] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (part name, note)
    facts: dict[str, Any] = field(default_factory=dict)  # counts for the general section
    status: pd.DataFrame | None = None  # rollup: expected units and their submission status
    rollup: RollupStatus = field(default_factory=RollupStatus)  # rollup: who is missing, late …

    # -- totals and ratios --------------------------------------------------------
    def total(self) -> dict[str, int | None]:
        """Sum of the parts for every key (None when no part has a value)."""
        out: dict[str, int | None] = {}
        for key in self.keys:
            col = pd.to_numeric(self.parts[key], errors="coerce") if key in self.parts else pd.Series([], dtype=float)
            out[key] = None if col.notna().sum() == 0 else int(col.sum())
        return out

    def rates_of(self, values: Mapping[str, Any]) -> dict[str, float | None]:
        return {key: _ratio(values.get(key + NUM), values.get(key + DEN)) for key, _ in self.derived}

    def rate_table(self) -> pd.DataFrame:
        """One row per part plus the total: code, name and every ratio (None when 0/0)."""
        rows = []
        for rec in records(self.parts):
            rows.append({"code": rec["code"], "name": rec["name"], **self.rates_of(rec)})
        rows.append({"code": "", "name": self.labels.get("_total", ""), **self.rates_of(self.total())})
        return pd.DataFrame(rows)

    # -- the long table (Số liệu) -----------------------------------------------
    def long_rows(self) -> list[DataRow]:
        """Canonical Số liệu rows: (unit, period, part code, part name, key, agg, value).

        Parts first in table order, then the totals (empty part code). Keys without a
        value for a part are left out; totals carry every key with a value.
        """
        out = []
        period = str(self.period)
        for rec in records(self.parts):
            for key in self.keys:
                v = _int(rec.get(key))
                if v is not None:
                    out.append(DataRow(self.unit_code, period, str(rec["code"]), str(rec["name"] or ""), key,
                                       self.agg[key], v))
        total = self.total()
        for key in self.keys:
            value = total[key]
            if value is not None:
                out.append(DataRow(self.unit_code, period, "", "", key, self.agg[key], value))
        return out

    # -- output -----------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        total = self.total()
        parts = []
        for rec in records(self.parts):
            parts.append({
                "code": rec["code"], "name": rec["name"],
                "values": {k: _int(rec.get(k)) for k in self.indicators},
                "rates": self.rates_of(rec),
            })
        return {
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "period": str(self.period),
            "level": self.level,
            "parts": parts,
            "total": {"values": {k: total[k] for k in self.indicators}, "rates": self.rates_of(total)},
            "facts": {k: v for k, v in self.facts.items() if isinstance(v, (int, float, str, type(None)))},
            "milestones": None if self.milestones is None else _jsonable(records(self.milestones)),
            "budget": None if self.budget is None else _jsonable(records(self.budget)),
            "hotspot": [
                {"level": lv.key, "label": lv.label, "source": lv.source, "configured": lv.configured, "met": lv.met,
                 "criteria": [{"key": c.key, "label": c.label, "met": c.met, "value": c.value} for c in lv.criteria]}
                for lv in self.hotspot
            ],
        }

    def table_rows(self) -> tuple[list[str], list[list[Any]]]:
        """Header and rows of the per-part table with the total row (for text and Tổng hợp)."""
        header = [self.labels["_part"], *[self.labels.get(k, k) for k in self.indicators],
                  *[label for _, label in self.derived]]
        rows: list[list[Any]] = []
        for rec in records(self.parts):
            rates = self.rates_of(rec)
            rows.append([rec["name"] or rec["code"], *[_int(rec.get(k)) for k in self.indicators],
                         *[rates[k] for k, _ in self.derived]])
        total = self.total()
        rates = self.rates_of(total)
        rows.append([self.labels["_total"], *[total[k] for k in self.indicators], *[rates[k] for k, _ in self.derived]])
        return header, rows

    def to_text(self) -> str:
        """A plain-text summary for the terminal (Vietnamese)."""
        header, rows = self.table_rows()
        n_ind = len(self.indicators)
        lines = [f"{self.unit_name} – {self.period.label}"]
        for i, name in enumerate(header[1:], start=1):
            cells = []
            for row in rows:
                v = row[i]
                cells.append(percent(v) if i > n_ind else (group_number(v) or "–"))
            lines.append(f"  {name}: " + " | ".join(cells))
        lines.insert(1, "  " + header[0] + ": " + " | ".join(str(r[0]) for r in rows))
        for lv in self.hotspot:
            if lv.configured:
                lines.append(f"  {lv.label}: {lv.met_count}/{lv.needed} ({lv.source})")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- checksum


# ---------------------------------------------------------------------------- commune level
def base_keys(defs: Definitions) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Keys, agg kinds and labels of the base values: indicators then ratio parts."""
    rep = report_defs(defs).get("data", {})
    keys: list[str] = []
    agg: dict[str, str] = {}
    labels: dict[str, str] = {}
    for ind in defs.numeric_indicators:
        keys.append(ind.key)
        agg[ind.key] = ind.agg
        labels[ind.key] = ind.short
    for d in defs.derived:
        for suffix, kind, label in ((NUM, "num", rep.get("num_suffix", " num")), (DEN, "den", rep.get("den_suffix", " den"))):
            keys.append(d.key + suffix)
            agg[d.key + suffix] = kind
            labels[d.key + suffix] = d.label + label
    return keys, agg, labels


def _check_derived(defs: Definitions, d: Derived) -> None:
    """A derived indicator must name numeric indicators (or a column of the villages sheet)."""
    known = {i.key for i in defs.numeric_indicators}
    villages = defs.sheet("villages")
    village_columns = {c.key for c in villages.columns}
    where = str(defs.folder / "indicators.toml")
    if d.kind == "ratio":
        for side in ("numerator", "denominator"):
            ref = str(d.params.get(side, ""))
            column = ref.split(".", 1)[1] if ref.startswith("villages.") else None
            if not (ref in known or column in village_columns):
                raise DefinitionsError("bad_definitions", file=where, reason=(
                    f"[[derived]] {d.key}: {side} = “{ref}” không phải mã chỉ tiêu số hay villages.<mã cột của sheet {villages.name}>"))
    elif d.kind == "months_with":
        if d.params.get("indicator") not in known:
            raise DefinitionsError("bad_definitions", file=where, reason=(
                f"[[derived]] {d.key}: indicator = “{d.params.get('indicator', '')}” không phải mã chỉ tiêu số"))
    elif d.kind not in ("completeness", "timeliness"):
        raise DefinitionsError("bad_definitions", file=where, reason=(
            f"[[derived]] {d.key}: kind = “{d.kind}” không hợp lệ (ratio, months_with, completeness, timeliness)"))


def aggregate_tables(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, Any],
    period: str | Period,
    defs: Definitions,
) -> Aggregate:
    """The commune aggregate of ``period`` from typed tables (as the reader returns them)."""
    period = Period.parse(period)
    rep = report_defs(defs)
    text = rep.get("text", {})
    months = period.months()
    n_months = len(months)
    deadline_day, cut_day = _deadline_days(settings, defs)

    villages = tables.get("villages")
    villages = villages if villages is not None else pd.DataFrame(columns=["code", "name", "active"])
    vil = villages[villages["code"].notna()].drop_duplicates("code", keep="first")
    active_mask = vil["active"].astype(object).where(vil["active"].notna(), True).astype(bool) if "active" in vil else pd.Series(True, index=vil.index)
    active_codes = list(vil.loc[active_mask, "code"])

    reports = tables.get("reports")
    if reports is None or not len(reports):
        reports = pd.DataFrame(columns=["period", "village_code", "report_date", *[i.key for i in defs.indicators]])
    rp = reports[reports["period"].isin(months) & reports["village_code"].notna()].copy()
    rp = rp.sort_values("period", kind="stable").drop_duplicates(["period", "village_code"], keep="last")

    # parts: active villages, plus any village that reported in the period
    codes = list(active_codes)
    known_codes = list(vil["code"])
    for code in rp["village_code"].unique():
        if code not in codes:
            codes.append(code)
    codes.sort(key=lambda c: (known_codes.index(c) if c in known_codes else len(known_codes), str(c)))
    names = dict(zip(vil["code"], vil["name"]))
    parts = pd.DataFrame({"code": codes, "name": [names.get(c) or c for c in codes]})

    keys, agg, labels = base_keys(defs)
    grouped = rp.groupby("village_code", sort=False)
    for ind in defs.numeric_indicators:
        col = pd.to_numeric(rp[ind.key], errors="coerce") if ind.key in rp else pd.Series(dtype=float)
        frame = pd.DataFrame({"village_code": rp["village_code"], "v": col})
        if ind.agg == "last":
            values = frame.groupby("village_code", sort=False)["v"].last()
        else:
            values = frame.groupby("village_code", sort=False)["v"].sum(min_count=1)
        parts[ind.key] = pd.array([_int(values.get(c)) for c in codes], dtype="Int64")

    reported = grouped.size() if len(rp) else pd.Series(dtype=int)
    if "report_date" in rp and len(rp):
        deadlines = rp["period"].map({m: report_deadline(m, deadline_day, cut_day) for m in months})
        on_time = pd.Series([d is not None and d is not pd.NA and d <= dl for d, dl in zip(rp["report_date"], deadlines)], index=rp.index)
        timely = on_time.groupby(rp["village_code"]).sum()
    else:
        timely = pd.Series(dtype=int)
    n_reported = [int(reported.get(c, 0)) for c in codes]

    for d in defs.derived:
        _check_derived(defs, d)
        nums: list[int | None] = []
        dens: list[int | None] = []
        for c, n_rep in zip(codes, n_reported):
            active = c in active_codes
            if d.kind == "completeness":
                nums.append(n_rep if active else None)
                dens.append(n_months if active else None)
            elif d.kind == "timeliness":
                nums.append(int(timely.get(c, 0)) if active else None)
                dens.append(n_months if active else None)
            elif d.kind == "months_with":
                ind_key = d.params["indicator"]
                at_least = float(d.params.get("at_least", 1))
                sub = pd.to_numeric(rp.loc[rp["village_code"] == c, ind_key], errors="coerce")
                # over the expected village-months (an active village's month without a report
                # counts as a month without it), not only the months reported (issue 12, item 9)
                expected = n_months if active else n_rep
                nums.append(int((sub >= at_least).sum()) if expected else None)
                dens.append(expected if expected else None)
            else:  # ratio
                pair = []
                for side in ("numerator", "denominator"):
                    ref = str(d.params[side])
                    if ref.startswith("villages."):
                        column = ref.split(".", 1)[1]
                        source = dict(zip(vil["code"], vil[column])) if column in vil else {}
                        pair.append(_int(source.get(c)))
                    else:
                        pair.append(_int(parts.loc[parts["code"] == c, ref].iloc[0]))
                if n_rep and pair[0] is not None and pair[1] is not None:
                    nums.append(pair[0])
                    dens.append(pair[1])
                else:
                    nums.append(None)
                    dens.append(None)
        parts[d.key + NUM] = pd.array(nums, dtype="Int64")
        parts[d.key + DEN] = pd.array(dens, dtype="Int64")

    labels["_part"] = text.get("column_village", "")
    labels["_total"] = text.get("total", "")
    result = Aggregate(
        unit_code=str(settings.get("commune_code") or ""),
        unit_name=str(settings.get("commune_name") or ""),
        period=period,
        level=LEVEL_COMMUNE,
        parts=parts,
        keys=keys,
        agg=agg,
        labels=labels,
        derived=[(d.key, d.label) for d in defs.derived],
        indicators=[i.key for i in defs.numeric_indicators],
    )
    result.trend = _trend(reports, period, defs)
    # judged at the period's data cut-off (the 14th), not the month's end: a step due on the 25th
    # is not overdue in that month's report (issue 12, item 8)
    result.milestones = milestone_progress(tables.get("milestones"), period.window(cut_day)[1], defs)
    result.budget = budget_by_source(tables.get("budget"), defs)
    population = sum(_int(p) or 0 for p, c in zip(vil.get("population", []), vil["code"]) if c in active_codes)
    result.hotspot = hotspot_check(tables.get("situation"), period, population, defs)
    note_key = next((i.key for i in defs.indicators if not i.numeric), None)
    if note_key and note_key in rp:
        for code, note in zip(rp["village_code"], rp[note_key]):
            if isinstance(note, str) and note.strip():
                result.notes.append((names.get(code) or code, note.strip()))
    situation = tables.get("situation")
    sit_rows = situation[situation["period"].isin(months)].sort_values("period") if situation is not None and len(situation) else None
    facts: dict[str, Any] = {
        "active": len(active_codes),
        "expected": len(active_codes) * n_months,
        "reported": sum(n for c, n in zip(codes, n_reported) if c in active_codes),
        "timely": int(sum(int(timely.get(c, 0)) for c in active_codes)),
        "population": population,
        "months": n_months,
    }
    # stocks (agg = "last") of a village whose period's last month has no report come from an
    # earlier month: the report says so ("số liệu tháng trước"), code -> the month they are of
    if any(i.agg == "last" for i in defs.numeric_indicators) and len(rp):
        latest = rp.groupby("village_code", sort=False)["period"].max()
        facts["carried"] = {c: str(latest[c]) for c in codes if c in latest.index and str(latest[c]) < months[-1]}
    if sit_rows is not None and len(sit_rows):
        last = sit_rows.iloc[-1]
        for key in ("addicts", "users", "post_rehab"):
            if key in sit_rows:
                facts[key] = _int(last[key])
        if "arrested" in sit_rows:
            facts["arrested"] = int(pd.to_numeric(sit_rows["arrested"], errors="coerce").fillna(0).sum())
    facts.update(budget_by_purpose(tables.get("budget"), period, defs))  # by purpose, spent in the period
    if "border" in vil:  # the border villages among the parts (Thôn biên giới = Có): their own line
        border = set(vil.loc[vil["border"].astype(object).where(vil["border"].notna(), False).astype(bool), "code"])
        facts["border"] = [c for c in codes if c in border]
    result.facts = facts
    return result


def _trend(reports: pd.DataFrame, period: Period, defs: Definitions) -> pd.DataFrame:
    """Totals over villages per month, January to the period's last month."""
    months = [f"{period.year:04d}-{m:02d}" for m in range(1, period.month_numbers[-1] + 1)]
    rp = reports[reports["period"].isin(months)] if len(reports) else reports
    rp = rp.drop_duplicates(["period", "village_code"], keep="last") if len(rp) else rp
    out = pd.DataFrame({"month": months})
    for ind in defs.numeric_indicators:
        if ind.key in rp and len(rp):
            sums = pd.to_numeric(rp[ind.key], errors="coerce").groupby(rp["period"]).sum(min_count=1)
            out[ind.key] = pd.array([_int(sums.get(m)) for m in months], dtype="Int64")
        else:
            out[ind.key] = pd.array([None] * len(months), dtype="Int64")
    return out


def milestone_progress(milestones: pd.DataFrame | None, as_of: dt.date, defs: Definitions) -> pd.DataFrame | None:
    """Each step with its status on ``as_of`` (done, overdue, ongoing, no deadline)."""
    if milestones is None or not len(milestones):
        return None
    status = report_defs(defs).get("milestone_status", {})
    rows = []
    for rec in records(milestones):
        done, deadline = rec.get("done_on"), rec.get("deadline")
        if done is not None and done <= as_of:
            key = "done"
        elif deadline is None:
            key = "no_deadline"
        elif deadline < as_of:
            key = "overdue"
        else:
            key = "ongoing"
        rows.append({"step_no": rec.get("step_no"), "step": rec.get("step"), "deadline": deadline,
                     "done_on": done if key == "done" else None, "status_key": key, "status": status.get(key, key)})
    return pd.DataFrame(rows)


def _budget_groups(budget: pd.DataFrame, key: str, defs: Definitions) -> tuple[list[str], pd.DataFrame]:
    """Estimate, approved and spent summed per value of the budget column ``key`` (source or
    purpose), and those values in the order of the column's list, unlisted ones after."""
    col = defs.sheet("budget").column(key)
    order = list(defs.lists[col.list].values) if col.list else []
    frame = budget.copy()
    frame[key] = frame[key].fillna("")
    grouped = frame.groupby(key, sort=False)[["estimate", "approved", "spent"]].sum(min_count=1)
    return [v for v in order if v in grouped.index] + [v for v in grouped.index if v not in order], grouped


def budget_by_source(budget: pd.DataFrame | None, defs: Definitions) -> pd.DataFrame | None:
    """Estimate, approved and spent per funding source, in the order of the source list."""
    if budget is None or not len(budget):
        return None
    sources, grouped = _budget_groups(budget, "source", defs)
    out = pd.DataFrame({"source": sources})
    for c in ("estimate", "approved", "spent"):
        out[c] = pd.array([_int(grouped.loc[s, c]) for s in sources], dtype="Int64")
    return out


def budget_by_purpose(budget: pd.DataFrame | None, period: Period, defs: Definitions) -> dict[str, Any]:
    """Facts of the budget beyond its sources: estimate, approved and spent per purpose (in the
    order of the purpose list), and what was spent in the months of ``period`` by the rows whose
    month (Tháng chi) is filled in (None when no row has a month)."""
    if budget is None or not len(budget) or "purpose" not in budget:
        return {}
    purposes, grouped = _budget_groups(budget, "purpose", defs)
    out: dict[str, Any] = {"budget_purposes": [
        {"purpose": p, **{c: _int(grouped.loc[p, c]) for c in ("estimate", "approved", "spent")}} for p in purposes]}
    if "period" in budget and budget["period"].notna().any():
        months = set(period.months())
        mask = budget["period"].astype("string").isin(months).fillna(False)
        out["budget_in_period"] = int(pd.to_numeric(budget.loc[mask, "spent"], errors="coerce").fillna(0).sum())
    return out


def aggregate_book(book: Any, period: str | Period | None = None) -> Aggregate:
    """``aggregate_tables`` over a CommuneBook; ``period`` defaults to its current period."""
    chosen = book.chosen_period(None if period is None else str(period))
    return aggregate_tables(book.tables, book.settings, chosen, book.defs)


