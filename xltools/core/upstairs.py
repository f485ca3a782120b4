"""The level above checks, compares and decides (core: the standard library and numpy).

``check_units`` runs on each unit's submission the commune rules that make sense on its
per-part figures (a commune's villages, a district's communes): the rule ids, severities and
parameters are those of ``workbook/rules.toml`` [rule.<id>], the list of rules and the
messages for figures a commune workbook does not hand up (a report's date, a village's
deadline) or for parts that are not villages are its [upstairs] section. Outliers are judged
against the same unit's earlier submissions of the same kind of period (months with months),
with the bounds of the commune's own outlier rule (``validation.outliers.bounds``).

``diff_units`` lists what a corrected submission changed against the one it replaces, per part
and indicator and in the totals. ``propose`` gives each unit its proposed decision: returned
when it has errors, accepted otherwise; the clerk's word (``--return``/``--accept``, or the
decision column of the rollup workbook) overrides it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aggregation import DataRow
from .definitions import Definitions
from .errors import InputError
from .messages import fill
from .periods import Period
from .validation.core import fill as fill_rule
from .validation.core import rules_config
from .validation.outliers import bounds

ACCEPTED, RETURNED = "accepted", "returned"


@dataclass(frozen=True)
class UnitFigures:
    """One unit's submission as the checks need it."""

    code: str
    name: str
    period: str
    rows: Sequence[DataRow]
    villages: bool = True  # its parts are villages (a commune's submission), else units below
    file: str = ""
    created_at: dt.datetime | None = None
    report_date: dt.date | None = None
    sha256: str = ""  # of the submission file
    data_sha256: str = ""  # its Thông tin data_sha256: the checksum of its figures


@dataclass(frozen=True)
class Finding:
    """One thing a rule found in one unit's figures."""

    unit_code: str
    unit_name: str
    period: str
    rule: str
    severity: str  # error | warning
    part_code: str
    part_name: str
    key: str  # indicator key ("" when the finding is about the whole unit)
    value: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit_code, "period": self.period, "rule": self.rule, "severity": self.severity,
                "part": self.part_code, "part_name": self.part_name, "indicator": self.key, "value": self.value,
                "message": self.message}


@dataclass(frozen=True)
class Change:
    """One figure a corrected submission changed: part ("" for the unit's total), indicator, old → new."""

    unit_code: str
    part_code: str
    part_name: str
    key: str
    old: int | None
    new: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit_code, "part": self.part_code, "part_name": self.part_name, "indicator": self.key,
                "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Decision:
    """What the level above answers a unit for a period."""

    unit_code: str
    unit_name: str
    period: str
    decision: str  # ACCEPTED | RETURNED
    reason: str = ""
    file: str = ""  # the submission answered
    sha256: str = ""  # its SHA-256
    replaces: str = ""  # the date (dd/mm/yyyy) of the submission it replaces, if any
    errors: int = 0
    warnings: int = 0
    proposed: bool = True  # the toolkit's proposal, not (yet) the clerk's word
    report_date_text: str = ""  # the date on the submission's date line (dd/mm/yyyy)
    data_sha256: str = ""  # the checksum of the submission's figures (its Thông tin data_sha256)


@dataclass
class Review:
    """Everything the rollup adds for the clerk: findings, changes, decisions."""

    findings: list[Finding] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "changes": [c.as_dict() for c in self.changes],
            "decisions": [{"unit": d.unit_code, "period": d.period, "decision": d.decision, "reason": d.reason,
                           "file": d.file, "sha256": d.sha256, "replaces": d.replaces, "errors": d.errors,
                           "warnings": d.warnings, "proposed": d.proposed} for d in self.decisions],
        }


# ------------------------------------------------------------------------------ configuration
def upstairs_config(defs: Definitions) -> dict[str, Any]:
    """rules.toml [upstairs]: the rules run at the level above and their part messages."""
    section = rules_config(defs).get("upstairs", {})
    return section if isinstance(section, dict) else {}


def _rule_entry(defs: Definitions, rule_id: str) -> dict[str, Any]:
    entry = rules_config(defs).get("rule", {}).get(rule_id, {})
    return entry if isinstance(entry, dict) else {}


def _part_label(part_code: str, part_name: str) -> str:
    if not part_code:  # the unit's totals
        return part_name
    return f"{part_name} ({part_code})" if part_name and part_name != part_code else part_code


class _Checker:
    def __init__(self, defs: Definitions, unit: UnitFigures) -> None:
        self.defs = defs
        self.unit = unit
        self.config = upstairs_config(defs)
        self.out: list[Finding] = []
        parts: dict[str, dict[str, int]] = {}
        names: dict[str, str] = {}
        for r in unit.rows:
            if not r.is_total:
                parts.setdefault(r.part_code, {})[r.key] = r.value
                names[r.part_code] = r.part_name
        self.parts = parts
        self.names = names

    def enabled(self, rule_id: str) -> dict[str, Any] | None:
        entry = _rule_entry(self.defs, rule_id)
        if rule_id not in self.config.get("rules", []) or not entry or entry.get("enabled", True) is False:
            return None
        return entry

    def add(self, rule_id: str, entry: Mapping[str, Any], part: str, key: str, value: int | None, **fields: Any) -> None:
        name = self.names.get(part, "") if part else self.unit.name
        own = str(entry.get("message", ""))
        part_template = self.config.get("messages", {}).get(rule_id, "")
        # A commune's villages read the commune's own sentence; other parts, or a sentence that needs
        # what a submission does not carry, read the [upstairs.messages] one.
        template = own if self.unit.villages and rule_id not in self.config.get("part_only", []) else part_template
        params = {"village": part, "village_name": name, "period": self.unit.period, "value": value,
                  "part": _part_label(part, name), "unit": self.unit.name, **fields}
        if key:
            params.setdefault("header", self.defs.indicator(key).label if _has_indicator(self.defs, key) else key)
        self.out.append(Finding(self.unit.code, self.unit.name, self.unit.period, rule_id, str(entry.get("severity")),
                                part, name, key, value, fill_rule(template or own, params)))


def _has_indicator(defs: Definitions, key: str) -> bool:
    try:
        defs.indicator(key)
    except KeyError:
        return False
    return True


def check_unit(unit: UnitFigures, history: Sequence[UnitFigures], defs: Definitions) -> list[Finding]:
    """The findings of the [upstairs] rules on one unit's figures (``history``: its earlier submissions)."""
    c = _Checker(defs, unit)
    if entry := c.enabled("plan-reached-le-known"):
        reached, known = entry["params"]["reached"], entry["params"]["known"]
        for part, v in c.parts.items():
            if reached in v and known in v and v[reached] > v[known]:
                c.add("plan-reached-le-known", entry, part, reached, v[reached], known=v[known])
    if entry := c.enabled("plan-zalo-households"):
        key = entry["params"]["indicator"]
        households = c.config.get("households", "")  # the households a submission carries (a denominator)
        for part, v in c.parts.items():
            if key in v and households in v and v[households] > 0 and v[key] > v[households]:
                c.add("plan-zalo-households", entry, part, key, v[key], households=v[households])
    if entry := c.enabled("plan-monthly-launch"):
        num, den = c.config.get("launch_months", ["", ""])
        for part, v in c.parts.items():
            if num in v and den in v and v[num] < v[den]:
                c.add("plan-monthly-launch", entry, part, entry["params"]["indicator"], v[num], months=v[den])
    for rule_id, pair in (("plan-missing-report", "reports"), ("plan-late-report", "on_time")):
        if entry := c.enabled(rule_id):
            num, den = c.config.get(pair, ["", ""])
            for part, v in c.parts.items():
                if num in v and den in v and v[num] < v[den]:
                    c.add(rule_id, entry, part, "", v[num], expected=v[den], count=v[den] - v[num])
    if entry := c.enabled("report-outlier"):
        _outliers(c, entry, unit, history)
    return c.out


def _outliers(c: _Checker, entry: Mapping[str, Any], unit: UnitFigures, history: Sequence[UnitFigures]) -> None:
    """The unit's totals against its own earlier periods of the same kind (its earlier submissions,
    or its part of an earlier rollup: both give the unit's totals)."""
    p = entry.get("params", {})
    kind = Period.parse(unit.period).kind
    newest: dict[str, UnitFigures] = {}
    for h in sorted(history, key=lambda h: (h.period, h.created_at or dt.datetime.min)):
        if h.code == unit.code and h.period < unit.period and Period.parse(h.period).kind == kind:
            newest[h.period] = h  # one per period: the newest
    earlier = list(newest.values())[-int(p.get("window", 12)):]
    if len(earlier) < int(p.get("min_history", 6)):
        return
    past = [{r.key: r.value for r in h.rows if r.is_total} for h in earlier]
    now = {r.key: r.value for r in unit.rows if r.is_total}
    for ind in c.defs.numeric_indicators:
        if ind.key not in now:
            continue
        values = np.asarray([m[ind.key] for m in past if ind.key in m] + [now[ind.key]], dtype="float64")
        counts, med, low, high, judged = bounds(
            values, np.zeros(len(values), dtype=np.int64), int(p["window"]), float(p["factor"]),
            int(p["min_history"]), float(p["min_spread"]), float(p["min_spread_share"]))
        x = values[-1]
        if judged[-1] and (x > high[-1] or x < low[-1]):
            c.add("report-outlier", entry, "", ind.key, int(x), median=round(float(med[-1]), 1),
                  low=int(np.floor(low[-1])), high=int(np.ceil(high[-1])), n=int(counts[-1]))


def check_units(units: Sequence[UnitFigures], history: Sequence[UnitFigures], defs: Definitions) -> list[Finding]:
    """The findings of every unit, in the order of ``units`` (the history grouped by unit once, so a
    national month with years of history stays linear)."""
    own: dict[str, list[UnitFigures]] = {}
    for h in history:
        own.setdefault(h.code, []).append(h)
    return [f for u in units for f in check_unit(u, own.get(u.code, []), defs)]


# ------------------------------------------------------------------------------ resubmissions
def diff_units(old: UnitFigures, new: UnitFigures) -> list[Change]:
    """The figures ``new`` changed against ``old``: per part and indicator, then the totals."""
    def table(u: UnitFigures) -> dict[tuple[str, str], DataRow]:
        return {(r.part_code, r.key): r for r in u.rows}

    a, b = table(old), table(new)
    keys = sorted(set(a) | set(b), key=lambda k: (k[0] == "", k[0], k[1]))  # parts first, totals last
    out = []
    for key in keys:
        before, after = a.get(key), b.get(key)
        if before is None or after is None or before.value != after.value:
            either = after or before
            out.append(Change(new.code, key[0], either.part_name if either else "", key[1], before.value if before else None,
                              after.value if after else None))
    return out


# ------------------------------------------------------------------------------ decisions
def clerk_decisions(returns: Mapping[str, str] | None, accepts: Sequence[str] | None,
                    known: set[str]) -> dict[str, tuple[str, str]]:
    """The clerk's word (``--return CODE=reason``, ``--accept CODE``) as code -> (decision, reason);
    InputError naming a code that has no submission here."""
    given = {code: (RETURNED, reason) for code, reason in (returns or {}).items()}
    given.update({code: (ACCEPTED, "") for code in (accepts or ())})
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError("rollup_unknown_unit", code=unknown[0], codes=", ".join(sorted(known)))
    return given


def propose(unit: UnitFigures, findings: Sequence[Finding], *, replaces: str = "",
            given: Mapping[str, tuple[str, str]] | None = None, reason_template: str = "") -> Decision:
    """The decision for ``unit``: the clerk's (``given``: code -> (decision, reason)) or the proposal.
    ``findings``: the unit's own (others' are ignored; a caller deciding many units groups them once)."""
    own = [f for f in findings if f.unit_code == unit.code]
    errors = sum(f.severity == "error" for f in own)
    warnings = sum(f.severity == "warning" for f in own)
    day = unit.report_date or (unit.created_at.date() if unit.created_at else None)
    if given and unit.code in given:
        decision, reason = given[unit.code]
        proposed = False
    else:
        decision, reason = (RETURNED, fill(reason_template, count=errors)) if errors else (ACCEPTED, "")
        proposed = True
    return Decision(unit.code, unit.name, unit.period, decision, reason, file=unit.file, sha256=unit.sha256,
                    replaces=replaces, errors=errors, warnings=warnings, proposed=proposed,
                    report_date_text=day.strftime("%d/%m/%Y") if day else "", data_sha256=unit.data_sha256)
