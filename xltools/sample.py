"""Plausible monthly data for sample communes (demo, tests, benchmarks).

Deterministic for a seed. Flows vary month to month around a size-dependent
level, stocks drift slowly (Zalo households grow, drug-related people change by
one now and then), a few village-months are missing and a few arrive late, as in
real communes. No names of drug-related people exist here or anywhere.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any, Iterable

import pandas as pd

from .definitions import Definitions, get_definitions
from .frames import records
from .periods import Period


def _months(periods: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in periods:
        out.extend(Period.parse(p).months())
    return out


def make_reports(
    villages: pd.DataFrame,
    periods: Iterable[str],
    *,
    seed: int = 138,
    missing: float = 0.02,
    late: float = 0.08,
    deadline_day: int = 18,
    reporters: dict[str, str] | None = None,
    defs: Definitions | None = None,
) -> pd.DataFrame:
    """Reports of the active villages for every month of ``periods``."""
    defs = defs or get_definitions()
    rng = random.Random(seed)
    months = _months(periods)
    rows: list[dict[str, Any]] = []
    for v in records(villages):
        if v.get("active") is False:
            continue
        households = int(v.get("households") or 100)
        border = bool(v.get("border"))
        known = rng.randint(2, 6) if border else rng.randint(0, 3)
        zalo = int(households * rng.uniform(0.35, 0.55))
        scale = max(households / 120.0, 0.5)
        for i, month in enumerate(months):
            if i > 0 and rng.random() < missing:
                continue
            zalo = min(households, zalo + rng.randint(0, max(2, households // 25)))
            if rng.random() < 0.12:
                known = max(0, known + rng.choice((-1, 1)))
            reached = known if rng.random() < 0.8 else max(0, known - 1)
            sessions = rng.choice((0, 1, 1, 1, 2))
            values = {
                "team_meetings": rng.choice((1, 1, 1, 2)),
                "movement_launches": 0 if rng.random() < 0.07 else rng.choice((1, 1, 1, 1, 2)),
                "visual_items": int(rng.randint(2, 8) * scale),
                "concentrated_sessions": sessions,
                "concentrated_attendance": sum(rng.randint(25, 70) for _ in range(sessions)),
                "individual_contacts": rng.randint(known, known + 8),
                "online_posts": rng.randint(2, 12),
                "zalo_households": zalo,
                "drug_people_known": known,
                "drug_people_reached": reached,
                "tips": rng.choice((0, 0, 0, 1, 1, 2)),
                "drug_cases": 1 if rng.random() < 0.06 else 0,
            }
            year, mon = int(month[:4]), int(month[5:])
            day = rng.randint(deadline_day + 1, 26) if rng.random() < late else rng.randint(12, deadline_day)
            row: dict[str, Any] = {"period": month, "village_code": v["code"]}
            for ind in defs.indicators:  # new indicators get a plausible small count
                row[ind.key] = values.get(ind.key, rng.randint(0, 3)) if ind.numeric else None
            row.update(
                reporter=(reporters or {}).get(v["code"]),
                report_date=dt.date(year, mon, day),
                source="nhập tay",
            )
            rows.append(row)
    return pd.DataFrame(rows)


def make_situation(periods: Iterable[str], *, seed: int = 138, border: bool = True) -> pd.DataFrame:
    """The commune's monthly drug situation (counts only)."""
    rng = random.Random(seed + 1)
    addicts, users, post = (rng.randint(6, 12), rng.randint(3, 8), rng.randint(2, 5)) if border else (2, 1, 1)
    rows = []
    for month in _months(periods):
        addicts = max(0, addicts + rng.choice((-1, 0, 0, 0, 1)))
        rows.append(
            {
                "period": month,
                "addicts": addicts,
                "users": users,
                "post_rehab": post,
                "drug_places": 1 if border and rng.random() < 0.15 else 0,
                "arrested": rng.choice((0, 0, 0, 1, 2)) if border else 0,
                "plants_count": rng.choice((0, 0, 0, 0, 120, 350)) if border else 0,
                "plants_area": 0.0,
                "on_drug_route": border,
            }
        )
    return pd.DataFrame(rows)
