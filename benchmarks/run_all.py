"""Every speed figure of issue 14 in one table, each against a baseline measured in the same run.

Figures: reading forms vs a bare unzip and vs an openpyxl reader; the whole import vs reading;
``xltools --help``, ``xltools validate`` and a button's click (``bench_click``: the Python side
on xlwings' remote engine) as whole processes vs ``python -c pass``; a rollup of generated
submissions vs an openpyxl reading of the same files; a rollup of province rollups (the
submissions rolled up 100 at a time) vs the rollup of the communes themselves; with ``--national``,
the rollup's peak memory (its own process and its readers); and the growth of import and
rollup at 1x, 4x and 16x their input (the ratio between steps; linear growth is <= 4x a step,
allowed up to 5x for noise).

    python benchmarks/run_all.py [--quick] [--national] [--markdown]

The default run (1,000 forms, 150 submissions) takes about two to three minutes on 2 cores;
``--quick`` is a smaller smoke run; ``--national`` rolls up 3,321 submissions (a national month).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_click  # noqa: E402
import bench_export  # noqa: E402
import bench_import  # noqa: E402

from xltools import import_reports, rollup  # noqa: E402
from xltools.core.definitions import get_definitions  # noqa: E402
from xltools.io.formreader import read_form  # noqa: E402
from xltools.verbs.new import new, sample_commune  # noqa: E402

NATIONAL = 3321


@dataclass
class Row:
    figure: str
    seconds: float
    baseline: str
    baseline_seconds: float
    faster: bool  # True: ratio = baseline / ours (target "at least"); False: ours / baseline ("within")
    target: str
    met: bool | None
    unit: str = "s"  # "MB": a memory figure (seconds and baseline_seconds hold megabytes)

    @property
    def ratio(self) -> float:
        if self.faster:
            return self.baseline_seconds / self.seconds
        return self.seconds / self.baseline_seconds


def timed(fn, repeat: int = 1) -> float:
    """Median seconds of ``repeat`` calls of ``fn``."""
    return bench_export.timed(fn, repeat)


def process_seconds(args: list[str], cwd: Path, repeat: int) -> float:
    """Median wall time of a whole Python process running ``args`` (interpreter start included)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run() -> None:
        done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{args}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")

    run()  # warm the OS cache (bytecode, files)
    return timed(run, repeat)


def unzip_all(files: list[Path]) -> None:
    """The floor of reading an .xlsx: open the zip and inflate every member."""
    for f in files:
        with zipfile.ZipFile(f) as z:
            for name in z.namelist():
                z.read(name)


def import_fresh(pristine: Path, files: list[Path], folder: Path, tag: str) -> float:
    """Seconds of one whole import of ``files`` into a fresh copy of the commune workbook."""
    workbook = folder / f"SoTheoDoi_{tag}.xlsx"
    shutil.copyfile(pristine, workbook)
    t0 = time.perf_counter()
    summary = import_reports(workbook, files)
    seconds = time.perf_counter() - t0
    assert summary.counts()["accepted"] == len(files), summary.counts()
    return seconds


def rollup_files(files: list[Path], out: Path) -> None:
    result = rollup(files, "2023-12", out, unit_name="Đơn vị mẫu", unit_code="999")
    assert not result.rejected and len(result.accepted) == len(files)


ROLLUP_IN_CHILD = """
import json, resource, sys, time
from xltools import rollup
started = time.perf_counter()
result = rollup(sys.argv[2:], "2023-12", sys.argv[1], unit_name="Đơn vị mẫu", unit_code="999")
assert not result.rejected and len(result.accepted) == len(sys.argv) - 2
me, pool = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": time.perf_counter() - started, "main_mb": me.ru_maxrss / 1024,
                  "worker_mb": pool.ru_maxrss / 1024}))
"""


def rollup_memory(files: list[Path], out: Path) -> tuple[float, float]:
    """(peak megabytes, seconds) of a rollup in a process of its own: the main process's peak
    plus the biggest reader process's peak once per core (every reader at its peak at once)."""
    import json

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", ROLLUP_IN_CHILD, str(out), *map(str, files)], env=env,
                          capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    workers = min(os.cpu_count() or 1, 8, len(files)) if got["worker_mb"] else 0  # no reader ran: no pool
    return got["main_mb"] + workers * got["worker_mb"], got["seconds"]


def provinces(files: list[Path], folder: Path, per: int) -> list[Path]:
    """The files rolled up ``per`` at a time into provinces: the province rollups."""
    made = []
    for i in range(0, len(files), per):
        n = i // per + 1
        result = rollup(files[i:i + per], "2023-12", folder / f"p{n}", unit_name=f"Tỉnh mẫu {n}", unit_code=f"9{n:03d}")
        assert not result.rejected
        made.append(result.path)
    return made


def growth_rows(name: str, unit: str, sizes: list[int], seconds: list[float]) -> list[Row]:
    rows = []
    for (n0, t0), (n1, t1) in zip(zip(sizes, seconds), zip(sizes[1:], seconds[1:])):
        rows.append(Row(f"{name}: {n1} vs {n0} {unit} (x{n1 // n0})", t1, f"{name} of {n0}", t0, False,
                        f"<= {1.25 * n1 / n0:.0f}x", t1 / t0 <= 1.25 * n1 / n0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (200 forms, 48 submissions)")
    parser.add_argument("--national", action="store_true", help=f"roll up {NATIONAL:,} submissions")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    args = parser.parse_args()
    n_forms = 200 if args.quick else 1000
    n_subs = NATIONAL if args.national else 48 if args.quick else 150
    repeat = 1 if args.quick else 3
    defs = get_definitions()
    rows: list[Row] = []
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="xltools-runall-"))
    try:
        # ---- forms: read, import, growth
        t0 = time.perf_counter()
        workbook, files = bench_import.build(folder, n_forms)
        pristine = folder / "pristine.xlsx"
        shutil.copyfile(workbook, pristine)
        print(f"(setup: {len(files)} forms in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        keys = [i.key for i in defs.indicators]
        meta_sheet = defs.extra("forms")["meta_sheet"]
        t_unzip = timed(lambda: unzip_all(files), repeat)
        t_read = timed(lambda: [read_form(f, defs) for f in files], repeat)
        assert all(read_form(f, defs).ok for f in files[:5])
        t_ref = timed(lambda: [bench_import.reference_read(f, keys, meta_sheet) for f in files])
        rows.append(Row(f"read {n_forms} forms", t_read, "bare unzip", t_unzip, False, "<= 2x", t_read <= 2 * t_unzip))
        rows.append(Row(f"read {n_forms} forms", t_read, "openpyxl reader", t_ref, True, ">= 10x", t_ref >= 10 * t_read))
        t_import = statistics.median(import_fresh(pristine, files, folder, f"all{i}") for i in range(repeat))
        rows.append(Row(f"import {n_forms} forms", t_import, "reading them", t_read, False, "<= 1.5x",
                        t_import <= 1.5 * t_read))
        if n_forms == 1000:
            rows.append(Row("import 1000 forms (absolute)", t_import, "openpyxl reader", t_ref, True, "<= 2.5 s",
                            t_import <= 2.5))
        step = n_forms // 16
        sizes = [step, 4 * step, 16 * step]
        rows += growth_rows("import", "forms", sizes,
                            [import_fresh(pristine, files[:n], folder, f"g{n}") for n in sizes])

        # ---- processes: the CLI's start-up and a validate of the sample commune
        settings, tables = sample_commune(defs=defs)
        commune = new(folder / "SoTheoDoi_HongThuy.xlsx", settings, tables, defs=defs)
        t_pass = process_seconds(["-c", "pass"], folder, 5)
        t_help = process_seconds(["-m", "xltools", "--help"], folder, 5)
        rows.append(Row("xltools --help (process)", t_help, "python -c pass", t_pass, False, "< 0.3 s", t_help < 0.3))
        t_validate = process_seconds(["-m", "xltools", "validate", str(commune)], folder, repeat)
        rows.append(Row("xltools validate sample (process)", t_validate, "python -c pass", t_pass, False,
                        "< 1.5 s", t_validate < 1.5))
        payload = bench_click.build(folder)  # a click: 12 villages, 5 years, on the remote engine
        for handler in bench_click.HANDLERS:
            bench_click.click(handler, payload)  # warm the OS cache
            t_click = timed(lambda h=handler: bench_click.click(h, payload), repeat)
            rows.append(Row(f"click {handler}, 12 villages x 5 years (process)", t_click, "python -c pass", t_pass,
                            False, "< 1.5 s", t_click < 1.5))

        # ---- submissions: rollup, growth
        t0 = time.perf_counter()
        base = max(1, n_subs // 16)
        n_made = max(n_subs, 16 * base)
        subs = bench_export.make_submissions(commune, folder / "in", n_made)
        print(f"(setup: {len(subs)} submissions in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        subs_n = subs[:n_subs]
        big = n_subs >= NATIONAL
        t_oref = timed(lambda: bench_export.openpyxl_reference(subs_n), 1 if big else repeat)
        t_roll = timed(lambda: rollup_files(subs_n, folder / "dist"), 1 if big else repeat)
        rows.append(Row(f"rollup {n_subs} submissions", t_roll, "openpyxl reading", t_oref, True, ">= 10x",
                        t_oref >= 10 * t_roll))
        if big:
            rows.append(Row(f"rollup {n_subs} submissions (absolute)", t_roll, "openpyxl reading", t_oref, True,
                            "< 15 s", t_roll < 15))
        sizes = [base, 4 * base, 16 * base]
        rows += growth_rows("rollup", "submissions", sizes,
                            [timed(lambda n=n: rollup_files(subs[:n], folder / f"g{n}")) for n in sizes])

        # ---- a rollup of rollups: provinces of 100 communes, then the country of the provinces.
        # A province's file carries its communes' totals (27 rows each; a commune's file 270
        # village rows): per commune carried it must cost no more than rolling up the communes.
        per = min(100, max(2, n_subs // 3))
        province_files = provinces(subs_n, folder / "prov", per)
        t_country = timed(lambda: rollup(province_files, "2023-12", folder / "country", unit_name="Cả nước mẫu",
                                         unit_code="000"), 1 if big else repeat)
        country = rollup(province_files, "2023-12", folder / "country", unit_name="Cả nước mẫu", unit_code="000")
        direct = rollup(subs_n, "2023-12", folder / "direct", unit_name="Cả nước mẫu", unit_code="000")
        assert not country.rejected and country.aggregate.total() == direct.aggregate.total()
        k = len(province_files)
        rows.append(Row(f"rollup of {k} province rollups ({per} communes each)", t_country,
                        f"rollup of the {n_subs} communes", t_roll, False, "<= 1.5x", t_country <= 1.5 * t_roll))
        k_files = sum(f.stat().st_size for f in province_files) / sum(f.stat().st_size for f in subs_n)
        rows.append(Row(f"  per province file ({k_files * n_subs / k:.0f}x a commune's bytes)", t_country / k,
                        "per commune file", t_roll / n_subs, False, "(for scale)", None))

        # ---- memory of the rollup (a process of its own)
        if big:
            mb, _seconds = rollup_memory(subs_n, folder / "mem")
            rows.append(Row(f"rollup {n_subs} submissions: peak memory", mb, "1 GB", 1024, False, "< 1 GB",
                            mb < 1024, unit="MB"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print_table(rows, args.markdown)
    met = sum(bool(r.met) for r in rows)
    print(f"\n{met} of {sum(r.met is not None for r in rows)} targets met; whole run {time.perf_counter() - started:.0f} s "
          f"on {os.cpu_count()} cores, Python {sys.version.split()[0]}")


def print_table(rows: list[Row], markdown: bool) -> None:
    head = ["figure", "time", "baseline", "baseline time", "ratio", "target", "met"]
    body = [[r.figure, f"{r.seconds:.0f} MB" if r.unit == "MB" else f"{r.seconds:.2f} s", r.baseline,
             f"{r.baseline_seconds:.0f} MB" if r.unit == "MB" else f"{r.baseline_seconds:.2f} s",
             f"{r.ratio:.1f}x" + (" faster" if r.faster else ""), r.target,
             "–" if r.met is None else "yes" if r.met else "no"] for r in rows]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for line in body:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    for line in [head, ["-" * w for w in widths], *body]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))


if __name__ == "__main__":
    main()
