"""Combine units' submissions one level up (core: pandas and the standard library).

Each unit contributes the total rows of its Số liệu (base values: indicators and the
numerators and denominators of derived indicators). The newest submission of a unit
wins and the others are listed as superseded; totals add the units, so no unit is
ever counted twice, and ratios are recomputed from the summed parts. Completeness
and timeliness are measured against the expected list of units.

(Not named ``xltools/rollup.py``: a submodule of that name would shadow the public
function ``xltools.rollup`` as soon as it is imported.)
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import pandas as pd

from .aggregation import DEN, LEVEL_UPPER, NUM, Aggregate, RollupStatus, base_keys
from .definitions import Definitions, report_defs
from .periods import Period
from .text import clean, header_key


@dataclass(frozen=True)
class UnitData:
    """One unit's submission as the rollup needs it."""

    code: str
    name: str
    values: dict[str, int]  # key -> total of the unit
    agg: dict[str, str] = field(default_factory=dict)  # key -> sum | last | num | den
    created_at: dt.datetime | None = None
    file: str = ""  # path of the submission (its name is shown)
    report_date: dt.date | None = None  # the date on its date line; None: judged by created_at


def judged_date(unit: UnitData) -> tuple[dt.date | None, bool]:
    """The date a unit's timeliness is judged by and whether it is the report's own date
    (True) or, lacking one, the day its file was created (False)."""
    if unit.report_date is not None:
        return unit.report_date, True
    return (unit.created_at.date() if unit.created_at else None), False


def choose_newest(units: Iterable[UnitData]) -> tuple[list[UnitData], list[tuple[UnitData, UnitData]]]:
    """Keep the newest submission per unit code; return (kept, [(superseded, kept instead)]).

    Newest means the latest creation time; ties are broken by file name, so the choice
    never depends on the order in which files were found.
    """
    groups: dict[str, list[UnitData]] = {}
    for u in units:
        groups.setdefault(u.code, []).append(u)
    kept: list[UnitData] = []
    superseded: list[tuple[UnitData, UnitData]] = []
    for _code, items in groups.items():
        items = sorted(items, key=lambda u: (u.created_at or dt.datetime.min, u.file))
        newest = items[-1]
        kept.append(newest)
        superseded.extend((old, newest) for old in items[:-1])
    kept.sort(key=lambda u: u.code)
    return kept, superseded


def submission_deadline(period: Period, defs: Definitions) -> dt.date:
    """The day submissions of ``period`` are due (report.toml [rollup], configurable)."""
    spec = report_defs(defs).get("rollup", {})
    offset = int(spec.get("deadline_month_offset", 1))
    last = period.month_numbers[-1]
    index = period.year * 12 + (last - 1) + offset
    year, month = divmod(index, 12)
    month += 1
    day = min(int(spec.get("deadline_day", 20)), calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


def combine(
    units: Sequence[UnitData],
    period: str | Period,
    unit_code: str,
    unit_name: str,
    defs: Definitions,
    *,
    expected: Sequence[tuple[str, str]] | None = None,
    deadline: dt.date | None = None,
) -> Aggregate:
    """The aggregate one level up: one part per unit (newest submission), totals, status."""
    period = Period.parse(period)
    kept, superseded = choose_newest(units)
    rep = report_defs(defs)
    text = rep.get("text", {})
    roll = rep.get("rollup", {})
    keys, agg, labels = base_keys(defs)
    present: set[str] = set()
    for unit in kept:
        present.update(unit.values)
        for k, kind in unit.agg.items():
            agg.setdefault(k, kind)
    extra_keys = sorted(k for k in present if k not in keys)
    keys = [k for k in keys if k in present or not kept] + extra_keys
    for k in extra_keys:
        agg.setdefault(k, "sum")
        labels.setdefault(k, k)
    known_derived = [(d.key, d.label) for d in defs.derived]
    derived_keys = {k for k, _ in known_derived}
    derived = [(k, lbl) for k, lbl in known_derived if k + NUM in keys and k + DEN in keys]
    for k in extra_keys:
        if k.endswith(NUM) and k[: -len(NUM)] not in derived_keys and k[: -len(NUM)] + DEN in keys:
            derived.append((k[: -len(NUM)], k[: -len(NUM)]))
    indicators = [k for k in keys if agg.get(k) not in ("num", "den")]

    data: dict[str, Any] = {"code": [u.code for u in kept], "name": [u.name or u.code for u in kept]}
    for k in keys:
        data[k] = pd.array([u.values.get(k) for u in kept], dtype="Int64")
    parts = pd.DataFrame(data, columns=["code", "name", *keys])

    labels["_part"] = text.get("column_unit", "")
    labels["_total"] = text.get("total", "")
    result = Aggregate(
        unit_code=unit_code, unit_name=unit_name, period=period, level=LEVEL_UPPER, parts=parts,
        keys=keys, agg=agg, labels=labels, derived=derived, indicators=indicators,
    )

    deadline = deadline or submission_deadline(period, defs)
    by_code = {u.code: u for u in kept}
    listed = list(expected) if expected is not None else [(u.code, u.name) for u in kept]
    listed_codes = {c for c, _ in listed}
    status_rows = []
    missing: list[str] = []
    late: list[str] = []
    timely = submitted = 0
    by_file: list[str] = []  # units judged by their file's creation time (no date on the report)
    for code, name in listed:
        u = by_code.get(code)
        if u is None:
            status = roll.get("status_missing", "")
            missing.append(f"{name or code} ({code})")
            status_rows.append({"code": code, "name": name or code, "file": "", "created_at": "", "date": "",
                                "basis": "", "status": status})
            continue
        submitted += 1
        day, own = judged_date(u)
        on_time = day is not None and day <= deadline
        timely += on_time
        if not on_time:
            late.append(f"{u.name or name or code} ({code})")
        if not own:
            by_file.append(f"{u.name or name or code} ({code})")
        shown = day.strftime("%d/%m/%Y") if day else ""
        status_rows.append({
            "code": code, "name": u.name or name or code, "file": PurePath(u.file).name,
            "created_at": u.created_at.strftime("%d/%m/%Y %H:%M") if u.created_at else "",
            "date": shown if own or not shown else roll.get("date_from_file", "{date}").format(date=shown),
            "basis": "report" if own else "file",
            "status": roll.get("status_on_time" if on_time else "status_late", ""),
        })
    unexpected = [f"{u.name or u.code} ({u.code})" for u in kept if u.code not in listed_codes]
    empty = [(f"{u.name or u.code} ({u.code})", PurePath(u.file).name) for u in empty_units(kept, defs)]
    result.status = pd.DataFrame(status_rows, columns=["code", "name", "file", "created_at", "date", "basis", "status"])
    result.facts = {"expected": len(listed), "submitted": submitted, "timely": timely, "units": len(kept),
                    "superseded": len(superseded), "deadline": deadline.isoformat(),
                    "timely_by_file": len(by_file)}
    result.rollup = RollupStatus(
        missing=missing, late=late, unexpected=unexpected,
        superseded=[f"{PurePath(old.file).name} → {PurePath(new.file).name}" for old, new in superseded],
        superseded_pairs=list(superseded), empty=empty, by_file=by_file,
    )
    return result


def empty_units(units: Iterable[UnitData], defs: Definitions) -> list[UnitData]:
    """The units whose submission reports nothing: its completeness (the derived indicators of
    kind ``completeness`` in indicators.toml) is 0 or absent, although the data were counted."""
    keys = [d.key for d in defs.derived if d.kind == "completeness"]
    if not keys:
        return []
    return [u for u in units if not any(u.values.get(k + NUM) for k in keys)]


def read_expected_rows(rows: Iterable[Sequence[Any]], header_words: Iterable[str]) -> list[tuple[str, str]]:
    """(code, name) pairs from the rows of an expected-units list; a header row is skipped."""
    words = {header_key(w) for w in header_words}
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        cells = [clean(str(c)) or "" for c in row]
        if not cells or not cells[0]:
            continue
        if i == 0 and header_key(cells[0]) in words:
            continue
        code = cells[0]
        if code in seen:
            continue
        seen.add(code)
        out.append((code, cells[1] if len(cells) > 1 else ""))
    return out
