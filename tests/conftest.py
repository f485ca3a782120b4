"""Shared fixtures and helpers: workbooks are built in code, each test changes one thing.

The everyday lane (``python -m pytest -n auto``) leaves out the tests marked ``slow`` or
``libreoffice`` (they start LibreOffice or run a whole chain); ``CI=true`` or ``--runslow``
runs them too. Helpers that several test modules use live here (``from conftest import ...``),
so no test module imports another.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from hypothesis import settings as hypothesis_settings
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from xltools.core.definitions import get_definitions
from xltools.core.sample import make_reports
from xltools.io.sink import styled_cell
from xltools.verbs.new import new, sample_commune

if TYPE_CHECKING:
    import xlwings as xw

SLOW_MARKERS = ("slow", "libreoffice")  # starting LibreOffice is slow too


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# Property tests without their own max_examples: a quick look in the everyday lane, a long one in CI.
hypothesis_settings.register_profile("everyday", max_examples=25)
hypothesis_settings.register_profile("ci", max_examples=100)
hypothesis_settings.load_profile("ci" if in_ci() else "everyday")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow or libreoffice (always on with CI=true)")


def pytest_configure(config: pytest.Config) -> None:
    # messages.text() raises on a key missing from workbook/messages.toml (subprocesses inherit it)
    os.environ["XLTOOLS_STRICT_MESSAGES"] = "1"
    if config.getoption("--runslow"):
        hypothesis_settings.load_profile("ci")


def pytest_report_header(config: pytest.Config) -> str:
    if in_ci() or config.getoption("--runslow"):
        return "lane: everything (slow and libreoffice tests included)"
    return "lane: everyday (slow and libreoffice tests left out; CI=true or --runslow runs them)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if in_ci() or config.getoption("--runslow"):
        return
    slow = [item for item in items if any(item.get_closest_marker(m) for m in SLOW_MARKERS)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        left_out = set(slow)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session")
def defs():
    return get_definitions()


@pytest.fixture(scope="session")
def _sample():
    return sample_commune()


@pytest.fixture
def sample(_sample) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Settings and tables of the built-in sample commune (a fresh copy per test)."""
    settings, tables = _sample
    return copy.deepcopy(settings), {k: v.copy() for k, v in tables.items()}


_BUILT: dict[str, bytes] = {}  # the sample commune's workbook as `new` writes it, built once per worker


def _pristine(sample: tuple[dict[str, Any], dict[str, pd.DataFrame]],
              original: tuple[dict[str, Any], dict[str, pd.DataFrame]]) -> bool:
    """The test did not change its copy of the sample (settings and every table)."""
    if sample[0] != original[0] or set(sample[1]) != set(original[1]):
        return False
    return all(sample[1][k].equals(original[1][k]) for k in original[1])


@pytest.fixture
def make_commune(tmp_path, sample, _sample) -> Callable[..., Path]:
    """Build a commune workbook from the sample, changed by the arguments.

    make_commune()                                  the sample as it is
    make_commune(villages=df)                       another table
    make_commune(settings={"commune_code": "12345"})  changed settings
    make_commune(edit=lambda tables: ...)           change tables in place
    """
    def factory(name: str = "SoTheoDoi_Test.xlsx", *, settings: dict | None = None,
                edit: Callable[[dict[str, pd.DataFrame]], None] | None = None, **tables: Any) -> Path:
        base_settings, base_tables = copy.deepcopy(sample[0]), {k: v.copy() for k, v in sample[1].items()}
        base_settings.update(settings or {})
        base_tables.update(tables)
        if edit:
            edit(base_tables)
        path = tmp_path / name
        # the sample as it is, with the shipped definitions: the bytes built once (0.3 s a workbook)
        if not settings and edit is None and not tables and not path.exists() \
                and not os.environ.get("XLTOOLS_DEFINITIONS") and _pristine(sample, _sample):
            if "sample" not in _BUILT:
                built = new(tmp_path / ".sample-once.xlsx", base_settings, base_tables)
                _BUILT["sample"] = built.read_bytes()
                built.unlink()
            path.write_bytes(_BUILT["sample"])
            return path
        return new(path, base_settings, base_tables, overwrite=True)

    return factory


def soffice_available() -> bool:
    return shutil.which("soffice") is not None


def require_soffice() -> None:
    """Skip without LibreOffice on a developer machine; fail in CI, where it must exist."""
    if not soffice_available():
        if in_ci():
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")


def libreoffice_convert(files: list[Path], to: str, outdir: Path, timeout: int = 180) -> list[Path]:
    """Convert files with LibreOffice headless in one call (own profile, so calls can run in parallel)."""
    require_soffice()
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / ".lo-profile"
    cmd = [
        "soffice", f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
        "--convert-to", to, "--outdir", str(outdir), *map(str, files),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    ext = to.split(":")[0]
    out = [outdir / (Path(f).stem + "." + ext) for f in files]
    missing = [p for p in out if not p.exists()]
    assert not missing, f"LibreOffice did not produce {missing}"
    return out


SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-uno lives

_UNO_HEAD = r'''
import json, os, subprocess, sys, tempfile, time, uno
from com.sun.star.beans import PropertyValue

def prop(name, value):
    p = PropertyValue(); p.Name = name; p.Value = value; return p

profile, args = sys.argv[1], sys.argv[2:]
pipe = "xltools_uno_%d" % os.getpid()
proc = subprocess.Popen(["soffice", "-env:UserInstallation=" + uno.systemPathToFileUrl(profile), "--headless",
                         "--invisible", "--norestore", "--nologo", "--accept=pipe,name=%s;urp;" % pipe],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
desktop = None
try:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    ctx = None
    for _ in range(300):
        try:
            ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
            break
        except Exception:
            time.sleep(0.1)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
'''
_UNO_TAIL = r'''
finally:
    try:
        if desktop is not None:
            desktop.terminate()
    except Exception:
        pass
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()
'''


def run_uno(body: str, args: list[str], tmp_path: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in Debian's Python with python3-uno against a headless LibreOffice of its own
    profile: ``desktop``, ``prop(name, value)`` and ``args`` are there (skipped on a developer
    machine without LibreOffice or python3-uno, a failure in CI)."""
    require_soffice()
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run([SYSTEM_PYTHON, "-c", "import uno"],
                                                          capture_output=True).returncode != 0:
        if in_ci():
            pytest.fail("python3-uno is required in CI")
        pytest.skip("python3-uno is not installed")
    import textwrap

    script = tmp_path / "uno_script.py"
    script.write_text(_UNO_HEAD + textwrap.indent(textwrap.dedent(body), "    ") + _UNO_TAIL, encoding="utf-8")
    return subprocess.run([SYSTEM_PYTHON, str(script), str(tmp_path / "lo-uno-profile"), *args],
                          capture_output=True, text=True, timeout=timeout)


class DefinitionsCopy:
    """A copy of workbook/ in the test's folder, in use through XLTOOLS_DEFINITIONS: a province's
    own definitions. ``replace`` fails when the text to change is not there, so the test cannot
    silently run on unchanged definitions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __fspath__(self) -> str:
        return str(self.folder)

    def __truediv__(self, name: str) -> Path:
        return self.folder / name

    def replace(self, file: str, old: str, new: str) -> Path:
        path = self.folder / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    def append(self, file: str, text: str) -> Path:
        path = self.folder / file
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
        return path

    def add_indicator(self, key: str = "school_talks", short: str = "Nói chuyện ở trường",
                      label: str = "Số buổi nói chuyện ở trường học") -> None:
        self.append("indicators.toml", f'\n[[indicator]]\nkey = "{key}"\nlabel = "{label}"\nshort = "{short}"\n'
                                       'unit = "buổi"\ntype = "int"\nagg = "sum"\nhelp = "Trong tháng."\n')


@pytest.fixture
def own_definitions(tmp_path, monkeypatch) -> DefinitionsCopy:
    """A copy of workbook/ to edit, used by every get_definitions() of the test."""
    folder = tmp_path / "defs"
    shutil.copytree(get_definitions().folder, folder)
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(folder))
    return DefinitionsCopy(folder)


# ---------------------------------------------------------------- built once per test run
def shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this test run that every xdist worker sees (each worker has its own session)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's own basetemp, shared by its workers only
    return base / name


def build_once(folder: Path, build: Callable[[Path], None], timeout: float = 900) -> Path:
    """Run ``build(folder)`` in the first worker that asks; the others wait for it to finish."""
    done = folder / ".done"
    try:
        folder.mkdir(parents=True)  # atomic: the worker that creates the folder builds it
    except FileExistsError:
        deadline = time.monotonic() + timeout
        while not done.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"{folder} was not built within {timeout:.0f} s")
            time.sleep(0.1)
        return folder
    try:
        build(folder)
    finally:
        done.touch()
    return folder


@dataclass(frozen=True)
class DemoRun:
    """One ``xltools demo`` of the test run. Tests share its folder: read it, never change it."""

    folder: Path
    workbook: Path
    exit_code: int
    output: str

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> DemoRun:
    """``xltools demo`` through the CLI, run once per test run (whichever worker needs it first)."""
    from click.testing import CliRunner

    from xltools.cli import main
    from xltools.core.resources import resource_dir
    from xltools.verbs.new import default_file_name, load_settings_file

    def build(folder: Path) -> None:
        result = CliRunner().invoke(main, ["demo", str(folder / "demo")])
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            output += "".join(traceback.format_exception(result.exception))
        (folder / "output.txt").write_text(output, encoding="utf-8")
        (folder / "exit_code").write_text(str(result.exit_code), encoding="utf-8")

    folder = build_once(shared_dir(tmp_path_factory, "xltools-demo"), build)
    assert (folder / "exit_code").exists(), "the demo fixture failed to run"
    settings = load_settings_file(resource_dir("samples") / "commune.toml")
    return DemoRun(folder=folder / "demo", workbook=folder / "demo" / default_file_name(settings, get_definitions()),
                   exit_code=int((folder / "exit_code").read_text(encoding="utf-8")),
                   output=(folder / "output.txt").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- helpers of several test modules
def clean(tables: dict[str, pd.DataFrame]) -> None:
    """Make the sample's reports flawless: none missing or late, everyone reached, a launch a month."""
    reports = make_reports(tables["villages"], ["2023"], missing=0.0, late=0.0)
    reports["drug_people_reached"] = reports["drug_people_known"]
    reports["movement_launches"] = reports["movement_launches"].clip(lower=1)
    tables["reports"] = reports
    milestones = tables["milestones"]
    milestones["done_on"] = milestones["done_on"].astype(object)
    milestones.loc[milestones["step_no"] == 11, "done_on"] = dt.date(2023, 12, 15)  # nothing overdue, ever


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets>&lol9;</sheets></workbook>
"""


def rezip(source: Path, target: Path, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
          drop: set[str] = frozenset(), compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Copy a workbook's zip, replacing, adding or dropping members."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", compression) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in add.items():
            zout.writestr(name, data)
    return target


# ---------------------------------------------------------------- xlwings' remote engine (button handlers)
def _xlwings():
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported
    import xlwings

    return xlwings


def _json_value(value: Any) -> Any:
    if value == "" or value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.000Z")
    if isinstance(value, dt.time):
        return value.strftime("1899-12-30T%H:%M:%S.000Z")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def payload_from_file(path: str | Path, *, name: str | None = None, active: int = 0, selection: str = "A1",
                      floats: bool = False) -> dict[str, Any]:
    """The JSON payload xlwings' VBA client sends for a workbook file.

    Mirrors ``xlwings/addin/Remote.bas`` (``RunRemotePython``): client, version, the book (name,
    active sheet, selection), workbook-level names, and per sheet its name, pictures, tables
    (addresses as ``$A$1:$C$3``) and the values from A1 to the end of the used range, as VBA's JSON
    converter writes them: dates as ISO text ending in ``Z``, whole numbers as integers, empty
    cells as null, errors as their ``#…`` text. ``name`` is the book name sent (default: the full
    path, so that handlers resolve folders next to the file as they do with Excel's FullName).
    ``floats``: every number as a float, as Excel's COM returns them (VBA's JSON sends 3, COM 3.0)."""
    import openpyxl
    import python_calamine as pc
    from openpyxl.utils import get_column_letter as L
    from openpyxl.utils import range_boundaries

    path = Path(path)
    wb = pc.CalamineWorkbook.from_path(str(path))
    grids = {}
    try:
        for sheet_name in wb.sheet_names:
            grids[sheet_name] = wb.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    finally:
        wb.close()
    book = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
    sheets = []
    for ws in book.worksheets:
        grid = grids.get(ws.title) or [[]]
        values = [[_json_value(v) for v in row] for row in grid] if grid and grid[0] else [[]]
        if floats:
            values = [[float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in row]
                      for row in values]
        tables = []
        for table in ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            tables.append({
                "name": table.name,
                "range_address": f"${L(min_col)}${min_row}:${L(max_col)}${max_row}",
                "header_row_range_address": f"${L(min_col)}${min_row}:${L(max_col)}${min_row}",
                "data_body_range_address": (f"${L(min_col)}${min_row + 1}:${L(max_col)}${max_row}"
                                            if max_row > min_row else None),
                "total_row_range_address": None,
                "show_headers": True,
                "show_totals": False,
                "table_style": table.tableStyleInfo.name if table.tableStyleInfo else "",
                "show_autofilter": True,
            })
        sheets.append({"name": ws.title, "pictures": [], "tables": tables, "values": values})
    names = []
    for dn_name, dn in book.defined_names.items():
        for sheet_title, ref in dn.destinations:
            if sheet_title in book.sheetnames:
                names.append({
                    "name": dn_name, "sheet_index": book.sheetnames.index(sheet_title),
                    "address": ref.replace("$", ""), "book_scope": True,
                    "scope_sheet_name": None, "scope_sheet_index": None,
                })
                break
    return {
        "client": "VBA",
        "version": _xlwings().__version__,
        "book": {"name": name or str(path), "active_sheet_index": active, "selection": selection},
        "names": names,
        "sheets": sheets,
    }


def book_from_file(path: str | Path, **kwargs: Any) -> xw.Book:
    """``xw.Book(json=...)`` of a workbook file (the remote engine)."""
    return _xlwings().Book(json=payload_from_file(path, **kwargs))


def actions(book: xw.Book, func: str | None = None) -> list[dict[str, Any]]:
    out = book.json()["actions"]
    return [a for a in out if func is None or a["func"] == func]


def sheet_index(book: xw.Book, name: str) -> int:
    return [s.name for s in book.sheets].index(name)


def written_cells(book: xw.Book, sheet: str) -> dict[str, Any]:
    """A1 address -> value of every setValues action on ``sheet`` (last write wins)."""
    from openpyxl.utils import get_column_letter as L

    pos = sheet_index(book, sheet)
    out: dict[str, Any] = {}
    for a in actions(book, "setValues"):
        if a["sheet_position"] != pos:
            continue
        for r, row in enumerate(a["values"]):
            for c, v in enumerate(row):
                out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = v
    return out


def colors(book: xw.Book, sheet: str) -> dict[str, str | None]:
    """A1 address -> fill set on ``sheet`` (None: fill removed): setRangeColors of xlwings
    0.37.5+, or one setRangeColor per cell on the older xlwings of Python 3.10."""
    from openpyxl.utils import get_column_letter as L

    pos = sheet_index(book, sheet)
    out: dict[str, str | None] = {}
    for a in actions(book):
        if a["sheet_position"] != pos:
            continue
        if a["func"] == "setRangeColors":
            for r, row in enumerate(a["args"][0]):
                for c, v in enumerate(row):
                    if v != "keep":
                        out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = v.lower() if v else v
        elif a["func"] == "setRangeColor":
            colour = a["args"][0] if isinstance(a["args"], list) else a["args"]
            colour = colour.lower() if colour else None
            for r in range(a["row_count"]):
                for c in range(a["column_count"]):
                    out[f"{L(a['start_column'] + c + 1)}{a['start_row'] + r + 1}"] = colour
    return out


def append_rows(path: Path, key: str, rows: list[dict[str, Any]], defs: Any = None) -> Path:
    """Append ``rows`` to the table ``key`` of the workbook file through the file sink (``apply_change``)."""
    from xltools.core.change import WorkbookChange, table_change
    from xltools.io.reader import read_workbook
    from xltools.io.sink import apply_change

    book = read_workbook(path, defs, strict=False)
    return apply_change(path, WorkbookChange(tables=[table_change(book, key, appends=rows)]), defs)


# ---------------------------------------------------------------- hostile files (import, rollup, reader)
CHILD_MEMORY = 4 << 30  # address space of the child process
REPO = Path(__file__).resolve().parents[1]  # the checkout


def guarded(code: str, *args: object, timeout: int = 180) -> dict:
    """Run ``code`` in a child Python (argv = args) with a memory cap; its last stdout line is
    JSON; a crash, an abort or a timeout fails the test, never the test run."""
    import json
    import os
    import resource
    import subprocess
    import sys

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap, env=env, cwd=REPO)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def sheet_part(workbook: Path, sheet: str) -> str:
    """The zip member of a sheet, by its name (workbook.xml and its relationships)."""
    from xml.etree import ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    with zipfile.ZipFile(workbook) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    rid = next(el.get(f"{rel_ns}id") for el in book.iter(f"{main}sheet") if el.get("name") == sheet)
    target = next(el.get("Target") for el in rels if el.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def with_cells(source: Path, target: Path, sheet: str, cells: str) -> Path:
    """A copy of the workbook with ``cells`` (sheet XML: rows and cells) added at the end of a sheet's
    data, as an application writing past the form's block would leave them."""
    part = sheet_part(source, sheet)
    with zipfile.ZipFile(source) as z:
        xml = z.read(part)
    if b"<sheetData/>" in xml:
        xml = xml.replace(b"<sheetData/>", b"<sheetData>" + cells.encode() + b"</sheetData>")
    else:
        assert xml.count(b"</sheetData>") == 1
        xml = xml.replace(b"</sheetData>", cells.encode() + b"</sheetData>")
    return rezip(source, target, replace={part: xml})


# ---------------------------------------------------------------- a VBA project, stream by stream ([MS-OVBA])
# Read with olefile and oletools' MS-OVBA decompressor, independent of pyOpenVBA (the builder).
# Shared by the structure checks of the .xlsm (tests/test_vba_structure.py) and of the .xlam
# (tests/test_addin.py).
@dataclass
class VbaDirModule:
    name: str
    name_unicode: str
    stream: str
    offset: int
    cookie: int
    standard: bool  # MODULETYPE 0x0021 (procedural), else 0x0022 (document or class)


@dataclass
class VbaStreams:
    streams: dict[str, bytes]  # "PROJECT", "PROJECTwm", "VBA/dir", "VBA/<module>", ...
    modules: list[VbaDirModule]
    count: int  # PROJECTMODULES Count

    def source(self, name: str) -> str:
        """A module's text, decompressed from its stream at the dir stream's offset."""
        from oletools.olevba import decompress_stream

        m = next(m for m in self.modules if m.name == name)
        return decompress_stream(bytearray(self.streams[f"VBA/{m.stream}"][m.offset:])).decode("cp1252")

    def sources(self) -> dict[str, str]:
        return {m.name: self.source(m.name) for m in self.modules}


def vba_streams(vba_bin: bytes) -> VbaStreams:
    """Every stream of a vbaProject.bin and the module records of its dir stream ([MS-OVBA] 2.3.4.2)."""
    import io
    import struct
    import warnings

    import olefile

    with warnings.catch_warnings():  # oletools uses pyparsing's deprecated names at import
        warnings.simplefilter("ignore")
        from oletools.olevba import decompress_stream

    ole = olefile.OleFileIO(io.BytesIO(vba_bin))
    try:
        streams = {"/".join(path): ole.openstream(path).read() for path in ole.listdir()}
    finally:
        ole.close()
    raw = decompress_stream(bytearray(streams["VBA/dir"]))
    modules: list[VbaDirModule] = []
    count, current, i = -1, {}, 0
    while i + 6 <= len(raw):
        rid, size = struct.unpack_from("<HI", raw, i)
        if rid == 0x0009:  # PROJECTVERSION: Reserved u32 (=4) then 6 bytes of version
            size = 6
        body = raw[i + 6:i + 6 + size]
        i += 6 + size
        if rid == 0x000F:
            count = struct.unpack("<H", body)[0]
        elif rid == 0x0019:
            current = {"name": body.decode("cp1252")}
        elif rid == 0x0047:
            current["name_unicode"] = body.decode("utf-16-le")
        elif rid == 0x0032:
            current["stream"] = body.decode("utf-16-le")
        elif rid == 0x0031:
            current["offset"] = struct.unpack("<I", body)[0]
        elif rid == 0x002C:
            current["cookie"] = struct.unpack("<H", body)[0]
        elif rid in (0x0021, 0x0022):
            current["standard"] = rid == 0x0021
        elif rid == 0x002B:
            modules.append(VbaDirModule(**current))
        elif rid == 0x0010:
            break
    return VbaStreams(streams, modules, count)


def project_section(text: str, header: str) -> list[str]:
    """The lines of one ``[section]`` of a PROJECT stream."""
    lines = text.split("\r\n")
    start = lines.index(header)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return lines[start + 1:end]


def assert_module_sets_agree(project: VbaStreams, expected: list[str], classes: tuple[str, ...] = ("Dictionary",)) -> None:
    """dir, PROJECT (declarations and [Workspace]), PROJECTwm and the VBA storage name the same
    modules, ``expected``, each with the kind dir says."""
    names = [m.name for m in project.modules]
    assert sorted(names) == sorted(expected)
    assert project.count == len(names)
    assert all(m.name == m.name_unicode == m.stream for m in project.modules)
    text = project.streams["PROJECT"].decode("cp1252")
    declared = {}
    for line in text.split("\r\n\r\n")[0].split("\r\n"):
        key, _, value = line.partition("=")
        if key in ("Module", "Class", "Document", "BaseClass"):
            declared[value.split("/")[0]] = key
    assert declared == {m.name: "Module" if m.standard else ("Class" if m.name in classes else "Document")
                        for m in project.modules}
    workspace = [line.partition("=")[0] for line in project_section(text, "[Workspace]") if line]
    assert sorted(workspace) == sorted(names)
    # PROJECTwm: MBCS name NUL, UTF-16 name NUL NUL, ..., then a NUL NUL terminator ([MS-OVBA] 2.3.3)
    wm, pairs = project.streams["PROJECTwm"], []
    while wm[:2] != b"\x00\x00":
        mbcs, _, wm = wm.partition(b"\x00")
        end = next(i for i in range(0, len(wm), 2) if wm[i:i + 2] == b"\x00\x00")
        pairs.append((mbcs.decode("cp1252"), wm[:end].decode("utf-16-le")))
        wm = wm[end + 2:]
    assert wm == b"\x00\x00"
    assert pairs == [(n, n) for n in names]
    storage = {k.split("/", 1)[1] for k in project.streams if k.startswith("VBA/")}
    assert storage == set(names) | {"dir", "_VBA_PROJECT"}
    assert set(project.streams) == {f"VBA/{s}" for s in storage} | {"PROJECT", "PROJECTwm"}


# ---------------------------------------------------------------- a fake of Excel's COM, over the remote engine
class FakeComError(Exception):
    """What Excel's COM would raise (a protected sheet written, a wrong password) or do silently
    (a string retyped as a date, a number or a formula): the fake makes it loud."""


# Strings Excel retypes when they are written into a cell that is not formatted as text ("@"):
# numbers, percentages, fractions and dates as a Vietnamese or English Excel reads them, and
# anything that starts like a formula ("- Thành viên", "=…", "+…", "@…").
_RETYPED = re.compile(r"^\s*([=+@-]|[+-]?\d[\d.,]*%?\s*$|\d{1,4}\s*[/-]\s*\d{1,2}(\s*[/-]\s*\d{1,4})?\s*$)")

# The remote engine turns every date and datetime into ISO text before the action is made, so a
# full ISO date is taken for a date written as a date (what COM would get), not for a string.
_ENGINE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")

_ALLOWANCES = {  # Worksheet.Protection's Allow* -> openpyxl's SheetProtection flag (True = locked)
    "AllowFormattingCells": "formatCells", "AllowFormattingColumns": "formatColumns",
    "AllowFormattingRows": "formatRows", "AllowInsertingColumns": "insertColumns",
    "AllowInsertingRows": "insertRows", "AllowInsertingHyperlinks": "insertHyperlinks",
    "AllowDeletingColumns": "deleteColumns", "AllowDeletingRows": "deleteRows", "AllowSorting": "sort",
    "AllowFiltering": "autoFilter", "AllowUsingPivotTables": "pivotTables",
}


class _Obj:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class FakeSheetApi:
    """Worksheet: its protection (as the file holds it), hyperlinks, activation."""

    def __init__(self, name: str, book: FakeBookApi) -> None:
        self.name = name
        self.Parent = book
        self.password: str | None = None
        self.ProtectContents = self.ProtectDrawingObjects = self.ProtectScenarios = self.ProtectionMode = False
        self.Protection = _Obj(**{a: False for a in _ALLOWANCES})
        self.links: list[dict[str, Any]] = []
        self.calls: list[tuple[Any, ...]] = []
        sheet = self

        class Hyperlinks:
            @staticmethod
            def Add(Anchor, Address, SubAddress, TextToDisplay):  # noqa: N802, N803
                sheet.links.append({"cell": Anchor.address, "location": SubAddress, "text": TextToDisplay})

            @staticmethod
            def Delete():  # noqa: N802
                sheet.links.clear()

        self.Hyperlinks = Hyperlinks

    def protect_as(self, *, password: str | None = None, **allow: bool) -> None:
        self.ProtectContents = self.ProtectDrawingObjects = self.ProtectScenarios = True
        self.password = password
        for name in _ALLOWANCES:
            setattr(self.Protection, name, bool(allow.get(name, False)))

    def allowances(self) -> dict[str, bool]:
        return {a: getattr(self.Protection, a) for a in _ALLOWANCES}

    def Unprotect(self, Password: str = "") -> None:  # noqa: N802, N803
        self.calls.append(("Unprotect", Password))
        if self.password and Password != self.password:
            raise FakeComError("The password you supplied is not correct.")
        self.ProtectContents = self.ProtectDrawingObjects = self.ProtectScenarios = self.ProtectionMode = False

    def Protect(self, Password="", DrawingObjects=True, Contents=True, Scenarios=True,  # noqa: N802, N803
                UserInterfaceOnly=False, *allowances: bool) -> None:
        self.calls.append(("Protect", Password, DrawingObjects, Contents, Scenarios, UserInterfaceOnly, *allowances))
        self.password = Password or None
        self.ProtectDrawingObjects, self.ProtectContents, self.ProtectScenarios = DrawingObjects, Contents, Scenarios
        self.ProtectionMode = UserInterfaceOnly
        for name, value in zip(_ALLOWANCES, allowances):
            setattr(self.Protection, name, bool(value))

    def Activate(self) -> None:  # noqa: N802
        self.Parent.ActiveSheet = self


class FakeRangeApi:
    def __init__(self, sheet: FakeSheetApi, address: str) -> None:
        self.Parent, self.address = sheet, address
        self.Borders = _Obj(LineStyle=None)
        self.Font = _Obj(Underline=None)

    def UnMerge(self) -> None:  # noqa: N802
        self.Parent.calls.append(("UnMerge", self.address))

    def AutoFilter(self) -> None:  # noqa: N802
        self.Parent.calls.append(("AutoFilter", self.address))


class FakeBookApi:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.ActiveSheet: FakeSheetApi | None = None
        self.window = _Obj(FreezePanes=False, SplitColumn=0, SplitRow=0)
        self.copies: list[Path] = []

    def Windows(self, index: int):  # noqa: N802
        return self.window

    def SaveCopyAs(self, target: str) -> None:  # noqa: N802
        shutil.copy2(self.path, target)
        self.copies.append(Path(target))


class FakeAppApi:
    """Application: every status bar text and screen updating flag, in order."""

    def __init__(self) -> None:
        self.status: list[Any] = []
        self.screen: list[bool] = []
        self.folder: Path | None = None  # what the folder picker answers (None: Cancel)
        self.answers: list[Any] = []  # what InputBox answers, in turn (empty: its default; False: Cancel)
        self.prompts: list[str] = []
        self.opened: list[str] = []
        app = self

        class Workbooks:
            @staticmethod
            def Open(path):  # noqa: N802
                app.opened.append(str(path))

        self.Workbooks = Workbooks

    def FileDialog(self, kind):  # noqa: N802
        assert kind == 4, kind  # msoFileDialogFolderPicker
        app = self

        class Dialog:
            Title = InitialFileName = ""

            @staticmethod
            def Show():  # noqa: N802
                return -1 if app.folder is not None else 0

            @staticmethod
            def SelectedItems(index):  # noqa: N802
                return str(app.folder)

        return Dialog()

    def InputBox(self, prompt, title, default, Type=0):  # noqa: N802, N803
        self.prompts.append(prompt)
        return self.answers.pop(0) if self.answers else default

    @property
    def StatusBar(self):  # noqa: N802
        return self.status[-1] if self.status else False

    @StatusBar.setter
    def StatusBar(self, value) -> None:  # noqa: N802
        self.status.append(value)

    @property
    def ScreenUpdating(self) -> bool:  # noqa: N802
        return self.screen[-1] if self.screen else True

    @ScreenUpdating.setter
    def ScreenUpdating(self, value: bool) -> None:  # noqa: N802
        self.screen.append(value)


class FakeCom:
    """Excel's COM where the front end reaches it (``xltools.excel._com``), over a remote-engine
    book: sheets protected as the file has them, a password when asked, hyperlinks, the status
    bar and screen updating, SaveCopyAs; and, on every action the handler sends, what Excel
    would do: a write into a protected sheet raises, and a string written into a cell not
    formatted as text that Excel would retype raises too."""

    def __init__(self, path: Path, book: xw.Book) -> None:
        import openpyxl

        self.book_api = FakeBookApi(path)
        self.app = FakeAppApi()
        self.names = [s.name for s in book.sheets]
        self.sheets = {name: FakeSheetApi(name, self.book_api) for name in self.names}
        self.book_api.ActiveSheet = self.sheets[self.names[0]]
        self.formats: dict[tuple[int, int, int], str] = {}
        wb = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
        for ws in wb.worksheets:
            if ws.protection.sheet and ws.title in self.sheets:
                self.sheets[ws.title].protect_as(**{a: not getattr(ws.protection, f) for a, f in _ALLOWANCES.items()})
            for row in ws.iter_rows():  # the text format the file already gives a cell
                for cell in row:
                    if cell.number_format == "@":
                        self.formats[(wb.worksheets.index(ws), cell.row, cell.column)] = "@"

    def api(self, obj: Any) -> Any:
        import xlwings as xw

        if isinstance(obj, xw.Range):
            return FakeRangeApi(self.sheets[obj.sheet.name], obj.address)
        if isinstance(obj, xw.Sheet):
            return self.sheets.setdefault(obj.name, FakeSheetApi(obj.name, self.book_api))
        if isinstance(obj, xw.Book):
            return self.book_api
        if isinstance(obj, xw.App):
            return self.app
        return None

    def check(self, action: dict[str, Any]) -> None:
        position = action.get("sheet_position")
        if position is None or action.get("func") in {"alert", "addSheet"} or position >= len(self.names):
            return
        name = self.names[position]
        if self.sheets[name].ProtectContents:
            raise FakeComError(f"{action['func']} on protected sheet {name!r}")
        top, left = (action.get("start_row") or 0) + 1, (action.get("start_column") or 0) + 1
        if action["func"] == "setNumberFormat":
            for r in range(top, top + (action.get("row_count") or 1)):
                for c in range(left, left + (action.get("column_count") or 1)):
                    self.formats[(position, r, c)] = action["args"][0]
        elif action["func"] == "setValues":
            for i, row in enumerate(action.get("values") or []):
                for j, value in enumerate(row):
                    if isinstance(value, str) and _RETYPED.match(value) and not _ENGINE_DATE.match(value) \
                            and self.formats.get((position, top + i, left + j)) != "@":
                        raise FakeComError(f"Excel would retype {value!r} written into {name}!R{top + i}C{left + j}")


@pytest.fixture
def fake_com(monkeypatch):
    """``fake_com(path, book)`` puts a ``FakeCom`` behind ``book`` (a remote-engine book of ``path``)."""
    _xlwings()  # the licence key of the remote engine, before it is imported
    import xlwings.pro._xlremote as remote

    import xltools.excel as excel

    original = remote.Book.append_json_action  # the engine's own, whatever book is attached later

    def attach(path: Path, book: xw.Book) -> FakeCom:
        com = FakeCom(Path(path), book)

        def guarded(self, **kwargs):
            com.check(kwargs)
            return original(self, **kwargs)

        monkeypatch.setattr(remote.Book, "append_json_action", guarded)
        monkeypatch.setattr(excel, "_com", com.api)
        return com

    return attach


def break_saves(monkeypatch, half: bytes = b"PK\x03\x04 half a workbook") -> None:
    """Every workbook save (openpyxl's and the package sink's) writes half a file, then the disk is full."""
    import openpyxl

    from xltools.io import xmlsink

    def broken(self, filename):
        Path(filename).write_bytes(half)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken)
    monkeypatch.setattr(xmlsink.Package, "save", broken)


# ---------------------------------------------------------------- replaying the remote engine's actions onto a file

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2})?")


def _cells(ws, a):
    """The cells of an action's range; a cell the sheet has not got yet takes its row's or its
    column's style, as in Excel (``styled_cell``)."""
    for r in range(a["row_count"]):
        for c in range(a["column_count"]):
            yield styled_cell(ws, a["start_row"] + r + 1, a["start_column"] + c + 1)


def _value(v):
    """What the remote engine sends back as Excel would hold it ('' is empty, datetimes as text)."""
    if v == "":
        return None
    if isinstance(v, str) and STAMP.fullmatch(v.rstrip("Z").split(".")[0]):
        return dt.datetime.fromisoformat(v.replace("T", " ").rstrip("Z").split(".")[0])
    return v


def replay(book, path) -> None:
    """Apply the remote engine's recorded actions to the file at ``path`` with openpyxl."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for a in actions(book):
        func, args = a["func"], a["args"]
        if a["sheet_position"] is None:
            continue
        ws = wb.worksheets[a["sheet_position"]]
        if func == "setValues":
            for r, row in enumerate(a["values"]):
                for c, v in enumerate(row):
                    styled_cell(ws, a["start_row"] + r + 1, a["start_column"] + c + 1).value = _value(v)
        elif func == "rangeClearContents":
            for cell in _cells(ws, a):
                cell.value = None
        elif func == "setNumberFormat":
            for cell in _cells(ws, a):
                cell.number_format = args[0]
        elif func == "setRangeColor":
            for cell in _cells(ws, a):
                cell.fill = PatternFill("solid", fgColor=args[0].lstrip("#").upper()) if args[0] else PatternFill()
        elif func == "setRangeColors":
            for r, row in enumerate(args[0]):
                for c, v in enumerate(row):
                    if v == "keep":
                        continue
                    cell = ws.cell(a["start_row"] + r + 1, a["start_column"] + c + 1)
                    cell.fill = PatternFill("solid", fgColor=v.lstrip("#").upper()) if v else PatternFill()
        elif func == "setFontProperty":
            prop, value = args
            for cell in _cells(ws, a):
                f = cell.font
                kwargs = {"name": f.name, "size": f.size, "bold": f.bold, "italic": f.italic,
                          "color": f.color, "underline": f.underline}
                kwargs[prop] = value.lstrip("#").upper() if prop == "color" else value
                cell.font = Font(**kwargs)
        elif func == "setColumnWidth":
            for c in range(a["column_count"]):
                ws.column_dimensions[get_column_letter(a["start_column"] + c + 1)].width = args[0]
        elif func == "setRowHeight":
            for r in range(a["row_count"]):
                ws.row_dimensions[a["start_row"] + r + 1].height = args[0]
        elif func == "addHyperlink":
            cell = ws.cell(a["start_row"] + 1, a["start_column"] + 1)
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=args[0].lstrip("#"), display=args[1])
        elif func == "resizeTable":
            index, address = args
            table = list(ws.tables.values())[index]
            table.ref = address.replace("$", "")
            if table.autoFilter is not None:
                table.autoFilter.ref = table.ref
        elif func == "setWrapText":
            for cell in _cells(ws, a):
                cell.alignment = Alignment(wrap_text=bool(args[0]))
        elif func == "alert":
            continue  # the message box is not in the book
        else:
            raise AssertionError(f"the replay does not know {func}: the xlwings sink grew a call, teach it here")
    wb.save(path)


