"""Benchmark: import 1,000 village forms.

Builds a commune with 100 villages, writes 1,000 filled forms (100 villages x 10
months) and measures, in the same run:
- the reference: an openpyxl-based read of every form (values by defined name,
  metadata sheet), the obvious way to write an importer;
- the toolkit's reader alone (``read_form``: safety checks + python-calamine);
- the whole ``import_reports`` (read every file once, merge, write the workbook once).

Prints files per second and the ratio against the reference.
Targets (2-core machine): reading at least 10x the reference; the whole import of
1,000 forms under 3 s.

    python benchmarks/bench_import.py [--forms 1000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import openpyxl
import pandas as pd

from xltools import import_reports
from xltools.core.definitions import get_definitions
from xltools.io.formreader import read_form
from xltools.io.forms import FormSpec, form_file_name, write_form
from xltools.verbs.new import new, sample_commune


def build(folder: Path, n_forms: int) -> tuple[Path, list[Path]]:
    defs = get_definitions()
    settings, tables = sample_commune(defs=defs)
    n_villages = 100
    months = -(-n_forms // n_villages)
    base = tables["villages"].iloc[0]
    villages = pd.DataFrame([
        {**base.to_dict(), "code": f"{i:03d}", "name": f"Thôn {i}", "zalo_group": f"Nhóm Thôn {i}", "active": True}
        for i in range(1, n_villages + 1)
    ])
    tables = {"villages": villages}
    workbook = new(folder / "SoTheoDoi_Bench.xlsx", settings, tables, defs=defs)
    rng = random.Random(138)
    inbox = folder / "inbox"
    inbox.mkdir()
    files = []
    for m in range(months):
        period = f"{2022 + m // 12}-{m % 12 + 1:02d}"
        for v in villages["code"]:
            if len(files) == n_forms:
                break
            spec = FormSpec(settings["commune_code"], settings["commune_name"], v, f"Thôn {v}", period, 18)
            values = {i.key: rng.randint(0, 50) for i in defs.numeric_indicators}
            values.update(note="Ổn định", reporter="Hồ Văn A")
            target = inbox / form_file_name(spec, defs)
            write_form(target, spec, defs, values)
            files.append(target)
    return workbook, files


def reference_read(path: Path, keys: list[str], meta_sheet: str) -> dict:
    """What an openpyxl importer does: open the workbook, follow each defined name, read the metadata."""
    wb = openpyxl.load_workbook(path, data_only=True)
    values = {}
    for key in keys:
        (sheet, ref), = wb.defined_names[key].destinations
        values[key] = wb[sheet][ref.replace("$", "")].value
    meta = {r[0]: r[1] for r in wb[meta_sheet].iter_rows(values_only=True) if r and r[0]}
    wb.close()
    return {"meta": meta, **values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep the generated files in this folder")
    args = parser.parse_args()
    defs = get_definitions()
    folder = Path(tempfile.mkdtemp(prefix="xltools-bench-"))
    try:
        started = time.perf_counter()
        workbook, files = build(folder, args.forms)
        print(f"built {len(files)} forms in {time.perf_counter() - started:.1f} s ({folder})")
        keys = [i.key for i in defs.indicators]
        meta_sheet = defs.extra("forms")["meta_sheet"]

        t = time.perf_counter()
        for f in files:
            reference_read(f, keys, meta_sheet)
        ref_s = time.perf_counter() - t

        t = time.perf_counter()
        results = [read_form(f, defs) for f in files]
        read_s = time.perf_counter() - t
        assert all(r.ok for r in results), results[0].reasons

        t = time.perf_counter()
        summary = import_reports(workbook, [files[0].parent], defs=defs)
        import_s = time.perf_counter() - t
        counts = summary.counts()
        assert counts["accepted"] == len(files), counts

        n = len(files)
        print(f"openpyxl reference read : {ref_s:6.2f} s  {n / ref_s:8.0f} files/s")
        print(f"xltools read_form       : {read_s:6.2f} s  {n / read_s:8.0f} files/s  ratio {ref_s / read_s:5.1f}x")
        print(f"xltools import_reports  : {import_s:6.2f} s  {n / import_s:8.0f} files/s  ratio {ref_s / import_s:5.1f}x"
              "  (read, merge, validate, one workbook write)")
        print(f"target: reading >= 10x the reference: {'met' if ref_s / read_s >= 10 else 'NOT met'}; "
              f"whole import of {n} forms < 3 s: {'met' if import_s < 3 else 'NOT met'}")
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
