"""Benchmark: export of a commune-year, and a rollup of 150 commune submissions.

Prints seconds and, for the rollup, the ratio against an openpyxl-based reading of the
same files measured in the same run (the reference reads Số liệu and Thông tin with
openpyxl in read-only mode and adds the totals, without any checks).

    python benchmarks/bench_export.py [--communes 150]
"""
from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openpyxl  # noqa: E402

from xltools import export, rollup  # noqa: E402
from xltools.core.definitions import (
    get_definitions,  # noqa: E402
    report_defs,  # noqa: E402
)
from xltools.core.submission import info_rows, report_header, submission_name  # noqa: E402
from xltools.io.submission import build_submission, write_submission  # noqa: E402
from xltools.verbs.aggregate import aggregate  # noqa: E402
from xltools.verbs.new import new, sample_commune  # noqa: E402


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def make_submissions(workbook: Path, folder: Path, n: int) -> list[Path]:
    """``n`` distinct commune submissions derived from the sample's December aggregate."""
    defs = get_definitions()
    base = aggregate(workbook, "2023-12")
    rng = random.Random(150)
    files = []
    for i in range(n):
        agg = copy.copy(base)
        agg.unit_code, agg.unit_name = f"{20100 + 3 * i:05d}", f"Xã mẫu {i + 1}"
        parts = base.parts.copy()
        for key in base.keys:
            parts[key] = (parts[key] * rng.uniform(0.5, 2.0)).round().astype("Int64")
            if key.endswith(".num"):  # a numerator never exceeds its denominator
                den = key[:-4] + ".den"
                parts[key] = parts[[key]].join(parts[[den]]).min(axis=1).astype("Int64") if den in parts else parts[key]
        agg.parts = parts
        rows = agg.long_rows()
        info = info_rows(agg, rows, kind="commune", source_sha256="", errors=0, warnings=0, forced=False,
                         members=False, doc_number=1, defs=defs)
        data = build_submission(agg, rows, info, report_header({}, defs), defs)
        files.append(write_submission(folder / submission_name(agg.unit_code, agg.period, defs), data))
    return files


def openpyxl_reference(files: list[Path]) -> dict[str, int]:
    """Read each file's Số liệu and Thông tin with openpyxl (read-only) and add the totals."""
    sheets = report_defs(get_definitions())["sheets"]
    totals: dict[str, int] = {}
    for f in files:
        wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        info = {r[0]: r[2] for r in wb[sheets["info"]].iter_rows(min_row=4, values_only=True) if r and r[0]}
        assert info["period"]
        for row in wb[sheets["data"]].iter_rows(min_row=2, values_only=True):
            if row[2] in (None, ""):
                totals[row[4]] = totals.get(row[4], 0) + int(row[6])
        wb.close()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings, tables = sample_commune()
        workbook = new(tmp / "SoTheoDoi_HongThuy.xlsx", settings, tables)
        t_year = timed(lambda: export(workbook, "2023", tmp / "out"))
        t_month = timed(lambda: export(workbook, "2023-12", tmp / "out"))
        print(f"export, commune-year (2023, {len(tables['reports'])} village-months): {t_year:.2f} s")
        print(f"export, one month (2023-12):                          {t_month:.2f} s")

        t0 = time.perf_counter()
        files = make_submissions(workbook, tmp / "in", args.communes)
        print(f"(setup: {len(files)} submissions written in {time.perf_counter() - t0:.1f} s)")
        # both measured the same way (median of 3, the files in the OS cache after the first run)
        t_ref = timed(lambda: openpyxl_reference(files), repeat=3)
        t_roll = timed(lambda: rollup([tmp / "in"], "2023-12", tmp / "dist", unit_name="Huyện mẫu", unit_code="999"), repeat=3)
        result = rollup([tmp / "in"], "2023-12", tmp / "dist", unit_name="Huyện mẫu", unit_code="999")
        assert not result.rejected and len(result.accepted) == len(files)
        ref = openpyxl_reference(files)
        assert result.aggregate.total() == {k: ref.get(k) for k in result.aggregate.keys}
        print(f"rollup of {len(files)} communes (read, verify, combine, write): {t_roll:.2f} s")
        print(f"openpyxl reference (read Số liệu + Thông tin only):  {t_ref:.2f} s")
        print(f"ratio openpyxl reference / rollup: {t_ref / t_roll:.1f}x")


if __name__ == "__main__":
    main()
