"""Benchmark: validate a province-sized reports table (200,000 rows).

Builds, in memory, a book of ~16,700 villages with a year of monthly reports each
(200,000 rows of Báo cáo thôn, typed by ``frames.build_frame`` from raw values as
the reader delivers them), then measures in the same run:
- ``build_frame``: the reader's typing of the 200,000 rows (for scale);
- ``validate_book``: every rule of the toolkit, vectorised with pandas/numpy;
- the reference: a naive row-by-row loop over plain dicts that checks only the
  report-row rules (required and whole numbers, known village, duplicates,
  reached vs known, Zalo households, attendance, launch, deadline, outliers with
  a per-row median/quartiles of the village's history).

Prints the times and the ratio reference / toolkit.
Target: validation in a few seconds and well ahead of the reference.

    python benchmarks/bench_validate.py [--rows 200000] [--write FILE.xlsx]

With ``--write`` the book is also written to an .xlsx and validated end to end
(read with python-calamine + validate), which takes longer.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import pandas as pd

from xltools.core.book import CommuneBook
from xltools.core.definitions import get_definitions
from xltools.core.frames import build_frame, column_letter
from xltools.core.periods import Period
from xltools.core.sample import make_reports
from xltools.core.settings import resolve
from xltools.core.validation import validate_book
from xltools.verbs.new import sample_commune

MONTHS = Period.parse("2023").months()


def province(n_rows: int, seed: int = 138):
    """Settings, villages frame and raw report rows (floats for numbers, as calamine gives)."""
    defs = get_definitions()
    settings, tables = sample_commune(defs=defs)
    rng = random.Random(seed)
    n_villages = max(1, n_rows // len(MONTHS))
    villages = pd.DataFrame({
        "code": [f"{i:06d}" for i in range(1, n_villages + 1)],
        "name": [f"Thôn {i}" for i in range(1, n_villages + 1)],
        "households": [rng.randint(60, 250) for _ in range(n_villages)],
        "population": [0] * n_villages,
        "border": [rng.random() < 0.3 for _ in range(n_villages)],
        "zalo_group": [f"Nhóm Zalo thôn {i}" for i in range(1, n_villages + 1)],
        "team_founded": [dt.date(2023, 1, 16)] * n_villages,
        "active": [True] * n_villages,
    })
    villages["population"] = villages["households"] * 4
    # one team leader per village and every village head on the board, copied from the sample's rows
    leader = tables["teams"].iloc[0]
    tables["teams"] = pd.DataFrame([{**leader.to_dict(), "village_code": c, "phone": None} for c in villages["code"]])
    board = tables["board"]
    head = board[board["village_code"].notna()].iloc[0].to_dict()
    tables["board"] = pd.concat([board[board["village_code"].isna()],
                                 pd.DataFrame([{**head, "village_code": c} for c in villages["code"]])],
                                ignore_index=True)
    reports = make_reports(villages, ["2023"], seed=seed, missing=0.01, late=0.05, defs=defs)
    raw = []
    for rec in reports.to_dict("records"):
        row = {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in rec.items()}
        raw.append(row)
    # a few realistic mistakes
    for i in range(0, len(raw), 997):
        raw[i]["tips"] = "2 tin"
    for i in range(5, len(raw), 1499):
        raw[i]["drug_people_reached"] = float((raw[i]["drug_people_known"] or 0) + 2)
    return defs, settings, tables, villages, raw


def typed_book(defs, settings, tables, villages, raw) -> tuple[CommuneBook, float]:
    """A CommuneBook as the reader would build it; returns it and the seconds build_frame took."""
    book = CommuneBook(Path("province.xlsx"), defs, {}, {}, {}, {}, {}, {})
    build_seconds = 0.0
    data = dict(tables, villages=villages, reports=raw)
    for sheet in defs.table_sheets:
        rows = data.get(sheet.key)
        if sheet.key == "settings":
            rows = [{"key": s.key, "label": s.label, "value": settings.get(s.key)} for s in defs.settings]
        if rows is None:
            rows = []
        if isinstance(rows, pd.DataFrame):
            rows = rows.to_dict("records")
        letters = {c.key: column_letter(i) for i, c in enumerate(sheet.readable_columns)}
        start = time.perf_counter()
        frame, problems = build_frame(defs, sheet, rows, list(range(2, 2 + len(rows))), letters)
        if sheet.key == "reports":
            build_seconds = time.perf_counter() - start
        book.tables[sheet.key] = frame
        book.letters[sheet.key] = letters
        book.header_rows[sheet.key] = 1
        book.problems.extend(problems)
    for i, s in enumerate(defs.settings, start=2):
        book.raw_settings[s.key] = settings.get(s.key)
        book.settings_rows[s.key] = i
    book.settings = resolve(defs, {k: v for k, v in settings.items() if k in {s.key for s in defs.settings}}, strict=False)
    return book, build_seconds


def _quartiles(history: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(history, n=4, method="inclusive")
    return q[0], statistics.median(history), q[2]


def naive(defs, villages: pd.DataFrame, raw: list[dict], deadline_day: int = 18) -> int:
    """The obvious row-by-row validation of the report rows (the reference)."""
    info = {r["code"]: r for r in villages.to_dict("records")}
    numeric = [i.key for i in defs.numeric_indicators]
    seen: dict[tuple, int] = {}
    history: dict[tuple[str, str], list[float]] = {}
    issues: list[dict] = []

    def add(n: int, column: str, message: str) -> None:
        issues.append({"sheet": "reports", "row": n, "column": column, "message": message})

    for n, row in enumerate(sorted(raw, key=lambda r: (str(r["village_code"]), str(r["period"]))), start=2):
        values = {}
        for key in numeric:
            v = row.get(key)
            if v is None or v == "":
                add(n, key, f"{key} is required")
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                add(n, key, f"{key} = {v!r} is not a number")
                continue
            if f < 0 or not f.is_integer():
                add(n, key, f"{key} = {v!r} is not a whole number >= 0")
                continue
            values[key] = f
        code, period = row["village_code"], row["period"]
        village = info.get(code)
        if village is None:
            add(n, "village_code", f"unknown village {code}")
            continue
        if (period, code) in seen:
            add(n, "village_code", f"duplicate of row {seen[(period, code)]}")
        seen[(period, code)] = n
        known, reached = values.get("drug_people_known"), values.get("drug_people_reached")
        if known is not None and reached is not None:
            if reached > known:
                add(n, "drug_people_reached", f"village {code} {period}: reached {reached:.0f} > known {known:.0f}")
            elif reached < known:
                add(n, "drug_people_reached", f"village {code} {period}: reached {reached:.0f}/{known:.0f}")
        if values.get("zalo_households", 0) > village["households"]:
            add(n, "zalo_households", f"village {code} {period}: more Zalo households than households")
        sessions = max(values.get("concentrated_sessions", 0), 1)
        if values.get("concentrated_attendance", 0) > village["population"] * sessions:
            add(n, "concentrated_attendance", f"village {code} {period}: attendance above population")
        if values.get("movement_launches", 1) < 1:
            add(n, "movement_launches", f"village {code}: no launch in {period}")
        year, month = int(period[:4]), int(period[5:])
        deadline = dt.date(year, month, deadline_day)
        if row.get("report_date") and row["report_date"] > deadline:
            add(n, "report_date", f"village {code} {period}: sent {row['report_date']:%d/%m/%Y}, due {deadline:%d/%m/%Y}")
        for key, f in values.items():
            past = history.setdefault((code, key), [])
            if len(past) >= 6:
                q1, med, q3 = _quartiles(past[-12:])
                spread = max(q3 - q1, 2.0, 0.5 * abs(med))
                if f > q3 + 3 * spread or f < max(q1 - 3 * spread, 0):
                    add(n, key, f"village {code} {period}: {key} = {f:.0f} far from its history (median {med})")
            past.append(f)
    return len(issues)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--write", type=Path, help="also write an .xlsx and validate it end to end")
    args = parser.parse_args()

    start = time.perf_counter()
    defs, settings, tables, villages, raw = province(args.rows)
    print(f"data: {len(raw):,} report rows, {len(villages):,} villages (generated in {time.perf_counter() - start:.1f} s)")

    book, build_seconds = typed_book(defs, settings, tables, villages, raw)
    today = dt.date(2024, 1, 31)
    validate_book(book, today=today)  # warm-up (imports, regex compilation)
    start = time.perf_counter()
    report = validate_book(book, today=today)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    reference_issues = naive(defs, villages, raw)
    reference = time.perf_counter() - start

    print(f"build_frame (reader typing) of the reports: {build_seconds:6.2f} s")
    print(f"validate_book (all rules):                  {ours:6.2f} s  "
          f"({report.errors:,} errors, {report.warnings:,} warnings, {report.infos:,} infos)")
    print(f"naive row-by-row reference (report rules):  {reference:6.2f} s  ({reference_issues:,} issues)")
    print(f"ratio reference / validate_book:            {reference / ours:6.1f}x")

    if args.write:
        from xltools.io.reader import read_workbook
        from xltools.verbs.new import new

        frame = book.tables["reports"].drop(columns="_row")
        start = time.perf_counter()
        new(args.write, settings, dict(tables, villages=villages, reports=frame), overwrite=True)
        written = time.perf_counter() - start
        start = time.perf_counter()
        read = read_workbook(args.write, strict=False)
        reading = time.perf_counter() - start
        start = time.perf_counter()
        validate_book(read, today=today)
        print(f"end to end: write {written:.1f} s, read {reading:.1f} s, validate {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
