"""Benchmark: a button's click as one whole Python process on xlwings' remote engine.

The Python side of a click: the interpreter starts, imports xlwings and the handler's module,
reads the open book through xlwings (here the JSON payload xlwings' VBA client sends, built
once beforehand from the workbook file, numbers as floats as Excel's COM gives them), does the
work and writes back (the actions the remote engine returns to Excel). The commune has 12
villages and 5 years of monthly reports (720 rows of Báo cáo thôn).

    python benchmarks/bench_click.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from conftest import payload_from_file  # noqa: E402  (the VBA client's payload, as the tests build it)

from xltools.core.definitions import get_definitions  # noqa: E402
from xltools.core.sample import generated_commune, make_reports, make_situation, sample_commune_specs  # noqa: E402
from xltools.verbs.new import new  # noqa: E402

VILLAGES = 12
YEARS = ["2019", "2020", "2021", "2022", "2023"]
HANDLERS = ("validate", "aggregate")  # the buttons that read the whole book

# What xlwings runs for a click, with the payload in place of Book.caller(): one process per click.
CLICK = """\
import json, sys
import xlwings as xw
book = xw.Book(json=json.load(open(sys.argv[2], encoding="utf-8")))
import xltools.excel as excel
getattr(excel, sys.argv[1])(book)  # the answer goes to the book: an alert action
json.dump(book.json(), open(sys.argv[3], "w", encoding="utf-8"))
"""


def build(folder: Path) -> Path:
    """The commune workbook (12 villages, 5 years of reports) and its payload file beside it."""
    defs = get_definitions()
    specs = sample_commune_specs()
    spec = dict(specs["commune"][0], villages=VILLAGES)
    settings, tables = generated_commune(spec, specs, defs=defs)
    settings["current_period"] = f"{YEARS[-1]}-12"
    leaders = dict(zip(tables["teams"]["village_code"], tables["teams"]["name"]))
    tables["reports"] = make_reports(tables["villages"], YEARS, seed=int(spec["seed"]), reporters=leaders,
                                     deadline_day=int(settings.get("form_deadline_day", 18)), defs=defs)
    tables["situation"] = make_situation(YEARS, seed=int(spec["seed"]))
    workbook = new(folder / "SoTheoDoi_Click.xlsx", settings, tables, defs=defs)
    payload = folder / "payload.json"
    payload.write_text(json.dumps(payload_from_file(workbook, floats=True)), encoding="utf-8")
    return payload


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), XLWINGS_LICENSE_KEY=os.environ.get("XLWINGS_LICENSE_KEY", "noncommercial"))


def click(handler: str, payload: Path) -> None:
    """One click: a whole process; fails unless the handler answered and wrote back."""
    out = payload.with_name(f"actions_{handler}.json")
    done = subprocess.run([sys.executable, "-c", CLICK, handler, str(payload), str(out)], env=env(),
                          capture_output=True, cwd=payload.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{handler}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-800:]}")
    actions = json.loads(out.read_text(encoding="utf-8"))["actions"]
    alerts = [a for a in actions if a["func"] == "alert"]
    if not alerts or alerts[-1]["args"][3] != "info" or len(actions) < 3:
        raise RuntimeError(f"{handler}: no answer, or a failure: {alerts[-1:] if alerts else actions[:3]}")


def main() -> None:
    import bench_export

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xltools-click-") as tmp:
        payload = build(Path(tmp))
        base = bench_export.timed(lambda: subprocess.run([sys.executable, "-c", "pass"], env=env()), args.repeat)
        print(f"python -c pass: {base:.2f} s")
        for handler in HANDLERS:
            click(handler, payload)  # warm the OS cache
            t = bench_export.timed(lambda h=handler: click(h, payload), args.repeat)
            print(f"click {handler}: {t:.2f} s ({t / base:.1f}x python -c pass; target < 1.5 s)")


if __name__ == "__main__":
    main()
