"""Plausible monthly data for sample communes (demo, tests, benchmarks).

Deterministic for a seed. Flows vary month to month around a size-dependent
level, stocks drift slowly (Zalo households grow, drug-related people change by
one now and then), a few village-months are missing and a few arrive late, as in
real communes. No names of drug-related people exist here or anywhere.
"""
from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Iterable
from typing import Any

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
    late: float = 0.05,
    deadline_day: int = 18,
    reporters: dict[str, str] | None = None,
    defs: Definitions | None = None,
) -> pd.DataFrame:
    """Reports of the active villages for every month of ``periods``."""
    defs = defs or get_definitions()
    rng = random.Random(seed)
    extra_rng = random.Random(seed + 12)  # the indicators of 1.2: their own stream, the others' values unchanged
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
        alarms = extra_rng.randint(2, 5) if border else extra_rng.randint(0, 2)
        installed = 0
        for i, month in enumerate(months):
            if i > 0 and rng.random() < missing:
                continue
            zalo = min(households, zalo + rng.randint(0, max(2, households // 25)))
            if rng.random() < 0.12:
                known = max(0, known + rng.choice((-1, 1)))
            reached = known if rng.random() < 0.94 else max(0, known - 1)
            sessions = rng.choice((0, 1, 1, 1, 2))
            values = {
                "team_meetings": rng.choice((1, 1, 1, 2)),
                "movement_launches": 0 if rng.random() < 0.04 else rng.choice((1, 1, 1, 1, 2)),
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
            if extra_rng.random() < 0.3:
                installed = min(alarms, installed + 1)
            extra = {
                "mass_media": int(extra_rng.randint(4, 12) * scale),
                "launch_attendance": sum(extra_rng.randint(40, 120) for _ in range(values["movement_launches"])),
                "board_inspections": extra_rng.choice((0, 0, 1, 1, 2)),
                "alarm_needed": alarms,
                "alarm_installed": installed,
            }
            year, mon = int(month[:4]), int(month[5:])
            day = rng.randint(deadline_day + 1, 26) if rng.random() < late else rng.randint(12, deadline_day)
            row: dict[str, Any] = {"period": month, "village_code": v["code"]}
            for ind in defs.indicators:  # new indicators get a plausible small count
                row[ind.key] = (extra[ind.key] if ind.key in extra else values.get(ind.key, rng.randint(0, 3))) \
                    if ind.numeric else None
            row.update(
                reporter=(reporters or {}).get(v["code"]),
                report_date=dt.date(year, mon, day),
                source=defs.extra("forms").get("import", {}).get("manual_source"),
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


# ---------------------------------------------------------------------------- more communes
def sample_commune_specs() -> dict[str, Any]:
    """The content of samples/communes.toml (three more sample communes)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    from .resources import resource_dir

    with open(resource_dir("samples") / "communes.toml", "rb") as fh:
        return tomllib.load(fh)


def make_villages(n: int, *, seed: int, border: bool, common: dict[str, Any]) -> pd.DataFrame:
    """``n`` active villages with codes 01.., plausible sizes; about half border villages if ``border``."""
    rng = random.Random(seed)
    founded = dt.date.fromisoformat(str(common.get("team_founded", "2023-01-16")))
    rows = []
    for i in range(1, n + 1):
        name = str(common.get("village_name", "{n}")).format(n=i)
        households = rng.randint(70, 190)
        rows.append({
            "code": f"{i:02d}",
            "name": name,
            "households": households,
            "population": int(households * rng.uniform(3.9, 4.6)),
            "border": bool(border and rng.random() < 0.5),
            "zalo_group": str(common.get("zalo_group", "{village}")).format(village=name),
            "team_founded": founded + dt.timedelta(days=rng.randint(0, 4)),
            "active": True,
        })
    return pd.DataFrame(rows)


def _person(rng: random.Random, names: dict[str, list[str]], used: set[str]) -> str:
    for _ in range(200):
        full = f"{rng.choice(names['family'])} {rng.choice(names['middle'])} {rng.choice(names['given'])}"
        if full not in used:
            used.add(full)
            return full
    full = f"{rng.choice(names['family'])} {rng.choice(names['middle'])} {rng.choice(names['given'])} {len(used)}"
    used.add(full)
    return full


def generated_commune(
    spec: dict[str, Any], specs: dict[str, Any] | None = None, *, defs: Definitions | None = None
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Settings and tables (villages, board, teams, reports, situation) of one generated commune."""
    defs = defs or get_definitions()
    specs = specs or sample_commune_specs()
    common = dict(specs.get("common", {}))
    names = specs["names"]
    seed = int(spec["seed"])
    rng = random.Random(seed * 7919)
    used: set[str] = set()
    villages = make_villages(int(spec["villages"]), seed=seed, border=bool(spec.get("border")), common=common)
    phone = iter(f"09{int(spec['code']) % 100000:05d}{k:03d}" for k in range(1, 1000))
    board = []
    for entry in specs.get("board", []):
        board.append({**entry, "name": _person(rng, names, used), "phone": next(phone)})
    heads = {}
    head_spec = specs.get("village_head", {})
    for v in records(villages):
        heads[v["code"]] = _person(rng, names, used)
        board.append({
            "name": heads[v["code"]], "title": str(common.get("head_title", "{village}")).format(village=v["name"]),
            "organisation": head_spec.get("organisation"), "role": head_spec.get("role"),
            "village_code": v["code"], "phone": next(phone),
        })
    teams = []
    for v in records(villages):
        for i, entry in enumerate(specs.get("team", [])):
            teams.append({
                "village_code": v["code"], "name": heads[v["code"]] if i == 0 else _person(rng, names, used),
                "role": entry["role"], "composition": entry["composition"], "phone": next(phone),
            })
    settings = {
        key: common[key] for key in ("province", "upper_level_name", "upper_bcd_name", "issuing_body", "doc_code",
                                     "doc_next_number", "form_deadline_day", "current_period") if key in common
    }
    settings.update({
        "commune_name": spec["name"],
        "commune_code": str(spec["code"]),
        "bcd_head": board[0]["name"] if board else "",
        "zalo_page": str(common.get("zalo_page", "{commune}")).format(commune=spec["name"]),
    })
    settings = {k: v for k, v in settings.items() if v is not None}
    year = str(common.get("year", "2023"))
    leaders = {t["village_code"]: t["name"] for t in teams if t["role"] == specs["team"][0]["role"]} if specs.get("team") else {}
    tables = {
        "villages": villages,
        "board": pd.DataFrame(board),
        "teams": pd.DataFrame(teams),
        "reports": make_reports(villages, [year], seed=seed, reporters=leaders,
                                deadline_day=int(common.get("form_deadline_day", 18)), defs=defs),
        "situation": make_situation([year], seed=seed, border=bool(spec.get("border"))),
    }
    return settings, tables


def generated_communes(*, defs: Definitions | None = None) -> list[tuple[dict[str, Any], dict[str, pd.DataFrame]]]:
    """Every commune of samples/communes.toml, generated."""
    specs = sample_commune_specs()
    return [generated_commune(spec, specs, defs=defs) for spec in specs.get("commune", [])]
