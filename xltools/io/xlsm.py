"""Build the macro workbook (``SoTheoDoi_<xã>.xlsm``) headless, on any OS.

The workbook is the ordinary commune workbook of ``io.writer.build_workbook``
plus three things:

- the VBA project: taken at build time from the installed xlwings' standalone
  quickstart workbook (BSD-3; its ``xlwings`` module is the source-only RunPython
  client that Excel compiles on first open, with ``XLWINGS_VERSION`` equal to the
  installed package), its sample ``Module1`` removed and our modules of
  ``macros/*.bas`` added with pyOpenVBA;
- one form-control button per verb on the dashboard (``workbook/buttons.toml``),
  each running a Sub of ``macros/XlTools.bas``;
- an ``xlwings.conf`` sheet (hidden) with the interpreter and PYTHONPATH that
  ``RunPython`` reads: filled from the running Python when built on Windows, left
  empty otherwise (then xlwings runs ``python`` from PATH).

xlwings is never imported here: the quickstart file is found through
``importlib.util.find_spec`` and the version through ``importlib.metadata``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import html
import importlib.metadata
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core import definitions, messages
from ..core.definitions import Definitions, get_definitions
from ..core.errors import DefinitionsError, WorkbookError
from ..core.resources import resource_dir

QUICKSTART = "quickstart_standalone.xlsm"
SAMPLE_MODULE = "Module1"  # the quickstart's SampleCall: not ours, removed
XLWINGS_MODULE = "xlwings"
VBA_PART = "xl/vbaProject.bin"
MACRO_CONTENT_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_VERSION_RE = re.compile(r'XLWINGS_VERSION\s+As\s+String\s*=\s*"([^"]+)"', re.IGNORECASE)
_SUB_RE = re.compile(r"^\s*(?:Public\s+|Private\s+)?Sub\s+(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)
_RUNPYTHON_RE = re.compile(r'RunPython\s+"([^"]*)"', re.IGNORECASE)


Button = definitions.Button  # one dashboard button: caption, VBA Sub, handler verb, cell, size in pixels


def buttons_config(defs: Definitions | None = None) -> dict[str, Any]:
    """The parsed ``workbook/buttons.toml``."""
    return (defs or get_definitions()).extra("buttons")


def buttons(defs: Definitions | None = None) -> list[Button]:
    """The dashboard buttons of ``workbook/buttons.toml``, in order."""
    defs = defs or get_definitions()
    size = buttons_config(defs).get("size", {})
    return [dataclasses.replace(b, width=int(b.width or size.get("width", 200)),
                                height=int(b.height or size.get("height", 34))) for b in defs.buttons]


def conf_sheet_name(defs: Definitions | None = None) -> str:
    return str(buttons_config(defs).get("conf_sheet", "xlwings.conf"))


# -- the VBA sources ---------------------------------------------------------------
def macro_files() -> list[Path]:
    """``macros/*.bas`` (the modules added to the VBA project)."""
    return sorted(resource_dir("macros").glob("*.bas"))


def module_name(source: str, fallback: str) -> str:
    found = re.search(r'Attribute\s+VB_Name\s*=\s*"([^"]+)"', source)
    return found.group(1) if found else fallback


def macro_sources() -> dict[str, str]:
    """Module name -> source (CRLF line ends, as VBA stores them) of ``macros/*.bas``."""
    out = {}
    for path in macro_files():
        text = path.read_bytes().decode("utf-8")
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        out[module_name(text, path.stem)] = text
    return out


def check_ascii(name: str, source: str) -> None:
    """Refuse a module whose source is not plain ASCII.

    The VBA editor stores source in the project's ANSI code page (1252 for the
    quickstart) and shows a Vietnamese letter outside it as "?": the text a user
    would read must live in ``workbook/*.toml``, never in ``macros/*.bas``.
    """
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.isascii():
            raise DefinitionsError("xlsm_bas_not_ascii", module=name, line=number, text=line.strip())


def tidy_project_stream(raw: bytes) -> bytes:
    """The PROJECT stream with its ``[Workspace]`` records contiguous ([MS-OVBA] 2.3.1.18).

    pyOpenVBA appends a new module's window record after the blank line that
    closes the section; the blank lines go back to the section's end, where the
    quickstart (as Excel wrote it) has its one.
    """
    lines = raw.split(b"\r\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == b"[workspace]")
    except StopIteration:
        return raw
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith(b"[")), len(lines))
    section = lines[start + 1:end]
    records = [line for line in section if line.strip()]
    blanks = [line for line in section if not line.strip()]
    return b"\r\n".join(lines[:start + 1] + records + blanks + lines[end:])


def subs(source: str) -> list[str]:
    """Names of the Subs declared in a VBA module's source."""
    return _SUB_RE.findall(source)


def run_python_calls(source: str) -> dict[str, str]:
    """Sub name -> the Python command its ``RunPython`` runs (one per Sub)."""
    out: dict[str, str] = {}
    for block in re.split(r"(?im)^\s*End\s+Sub\s*$", source):
        names = subs(block)
        found = _RUNPYTHON_RE.search(block)
        if names and found:
            out[names[-1]] = found.group(1)
    return out


def vba_xlwings_version(source: str) -> str | None:
    """The ``XLWINGS_VERSION`` constant of xlwings' VBA module source."""
    found = _VERSION_RE.search(source)
    return found.group(1) if found else None


# -- xlwings, found without importing it -------------------------------------------
def xlwings_version() -> str | None:
    """The installed xlwings' version (importlib.metadata), None if not installed."""
    try:
        return importlib.metadata.version("xlwings")
    except importlib.metadata.PackageNotFoundError:
        return None


def xlwings_folder() -> Path | None:
    spec = importlib.util.find_spec("xlwings")  # a top-level package: not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def quickstart_workbook() -> Path:
    """The installed xlwings' standalone quickstart workbook (source of the VBA project)."""
    folder = xlwings_folder()
    path = folder / QUICKSTART if folder else None
    if path is None or not path.is_file():
        raise WorkbookError("xlsm_no_quickstart", file=QUICKSTART)
    return path


def _pyopenvba():
    try:
        import pyopenvba
    except ImportError:
        raise WorkbookError("xlsm_no_pyopenvba") from None
    return pyopenvba


def read_modules(path: str | Path) -> dict[str, str]:
    """Module name -> source of the VBA project of an .xlsm (pyOpenVBA)."""
    pyopenvba = _pyopenvba()
    with pyopenvba.ExcelFile(str(path)) as wb:
        return dict(wb.vba_modules())


def build_vba_project(target: str | Path, sources: Mapping[str, str] | None = None) -> Path:
    """Write ``vbaProject.bin``: the quickstart's project with our modules instead of its sample.

    ``sources`` (module name -> source) default to ``macros/*.bas``.
    """
    pyopenvba = _pyopenvba()
    from pyopenvba.cfb import CFB

    sources = dict(macro_sources() if sources is None else sources)
    for name, source in sources.items():
        check_ascii(name, source)
    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="xltools-vba-") as tmp:
        work = Path(tmp) / "project.xlsm"
        shutil.copyfile(quickstart_workbook(), work)
        saved = Path(tmp) / "saved.xlsm"
        edited = Path(tmp) / "edited.xlsm"
        with pyopenvba.ExcelFile(str(work)) as wb:
            project = wb.vba_project()
            names = {n.casefold() for n in project.module_names()}
            if SAMPLE_MODULE.casefold() in names:
                project.delete_module(SAMPLE_MODULE)
            for name, source in sources.items():
                if name.casefold() in names - {SAMPLE_MODULE.casefold()}:
                    wb.set_module(name, source)
                else:
                    # MODULECOOKIE: "MUST be 0xFFFF on write" ([MS-OVBA] 2.3.4.2.3.2.8)
                    project.add_module(name, source).cookie = 0xFFFF
            wb.save(str(saved))
        with zipfile.ZipFile(saved) as zf:
            cfb = CFB.from_bytes(zf.read(VBA_PART))
        cfb.write_stream("PROJECT", tidy_project_stream(cfb.get_stream("PROJECT")))
        _replace_part(saved, edited, VBA_PART, cfb.to_bytes())
        with pyopenvba.ExcelFile(str(edited)) as wb:
            problems = wb.validate()
            missing = [n for n in sources if n not in wb.module_names()]
        if problems or missing:
            raise WorkbookError("xlsm_bad_project", reason="; ".join(problems + [f"thiếu mô-đun {n}" for n in missing]))
        with zipfile.ZipFile(edited) as zf:
            target.write_bytes(zf.read(VBA_PART))
    return target


def _replace_part(source: Path, target: Path, part: str, data: bytes) -> None:
    """Copy an OOXML package with one part's bytes replaced."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, data if item.filename == part else src.read(item))


# -- the xlwings.conf sheet and the buttons ----------------------------------------
def short_path(path: str) -> str:
    """Windows' 8.3 form of an existing ``path`` (``C:\\Users\\NGUYN~1\\…``); '' where there is
    none (another system, 8.3 names turned off on the volume, a missing path)."""
    if sys.platform != "win32":
        return ""
    import ctypes

    buffer = ctypes.create_unicode_buffer(32768)
    n = ctypes.windll.kernel32.GetShortPathNameW(str(path), buffer, len(buffer))
    return buffer.value if 0 < n < len(buffer) else ""


def ascii_path(path: str, short: Callable[[str], str] = short_path) -> str | None:
    """``path`` itself when it is plain ASCII, else its 8.3 form when that is; None otherwise.

    xlwings' VBA opens its log file with ``Open … For Input`` and deletes it with ``Kill``, both
    ANSI: a Vietnamese letter in the path (a user name such as "Nguyễn") becomes "?" there."""
    if path.isascii():
        return path
    alias = short(path)
    return alias if alias and alias.isascii() else None


def button_temp_dir(environ: Mapping[str, str] | None = None, short: Callable[[str], str] = short_path) -> str:
    """The value of xlwings' ``TEMP DIR`` setting: '' (xlwings' default, ``Environ("Temp")``) when
    the user's TEMP folder is plain ASCII; else its 8.3 form; else an ASCII folder under
    ProgramData, created here.

    xlwings' RunPython writes the button's error log to ``TEMP DIR\\xlwings-<guid>.log`` through
    ``cmd.exe … 2> "log"``, reads it back with ``Open … For Input`` and deletes it with ``Kill``;
    ``Environ("Temp")`` and both file statements are ANSI, so under a Vietnamese user name the
    log path turns into "?" and a failing button shows no message at all."""
    environ = os.environ if environ is None else environ
    temp = environ.get("TEMP") or environ.get("TMP") or tempfile.gettempdir()
    safe = ascii_path(temp, short)
    if safe == temp:
        return ""
    if safe:
        return safe
    base = environ.get("PROGRAMDATA") or "C:\\ProgramData"
    folder = base if base.isascii() else "C:\\ProgramData"
    target = folder + "\\xltools\\tmp"
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            Path(target).mkdir(parents=True, exist_ok=True)
    return target


def conf_values(platform: str | None = None, environ: Mapping[str, str] | None = None,
                short: Callable[[str], str] = short_path) -> dict[str, str]:
    """The xlwings settings written to the ``xlwings.conf`` sheet.

    Built on Windows, the interpreter is the running Python (its 8.3 form when its path is not
    plain ASCII), PYTHONPATH the folder of a source checkout (empty for an installed package),
    and ``TEMP DIR`` is written only when the user's TEMP folder is not plain ASCII
    (``button_temp_dir``; an empty value would put the log at the root of the drive). Built
    elsewhere the interpreter and PYTHONPATH stay empty: RunPython then runs ``python`` from PATH.
    """
    platform = platform or sys.platform
    interpreter = ""
    pythonpath = ""
    temp_dir = ""
    if platform.startswith("win"):
        exe = Path(sys.executable)
        interpreter = str(exe.with_name("python.exe")) if exe.name.lower() == "pythonw.exe" else str(exe)
        interpreter = ascii_path(interpreter, short) or interpreter  # doctor warns about what stays
        package_root = Path(__file__).resolve().parents[2]  # the folder that holds xltools/
        if "site-packages" not in package_root.parts:
            pythonpath = ascii_path(str(package_root), short) or str(package_root)
        temp_dir = button_temp_dir(environ, short)
    values = {
        "Interpreter_Win": interpreter,
        "Interpreter_Mac": "",
        "PYTHONPATH": pythonpath,
        "Show Console": "False",
        "Use UDF Server": "False",
    }
    if temp_dir:
        values["TEMP DIR"] = temp_dir
    return values


def dashboard_hook(defs: Definitions, conf: Mapping[str, str]) -> Callable[[Any, Any], None]:
    """The ``on_dashboard`` hook of ``build_workbook``: buttons, then the xlwings.conf sheet."""
    items = buttons(defs)

    def hook(wb, ws) -> None:
        for b in items:
            ws.insert_button(b.cell, {"macro": b.sub, "caption": b.caption, "width": b.width, "height": b.height})
        write_conf_sheet(wb, defs, conf, "excel_conf_note", key_width=18)

    return hook


def write_conf_sheet(wb, defs: Definitions, conf: Mapping[str, str], note_key: str, *, key_width: float) -> None:
    """The hidden ``xlwings.conf`` sheet the VBA reads its settings from, each key explained in
    Vietnamese beside it, and ``note_key``'s note below (the .xlsm and the add-in)."""
    sheet = wb.add_worksheet(conf_sheet_name(defs))
    note = wb.add_format({"italic": True, "font_color": "#595959"})
    # xlwings reads keys from A1 down (no gap) and values from column B.
    for r, (key, value) in enumerate(conf.items()):
        sheet.write_string(r, 0, key)
        sheet.write_string(r, 1, value)
        sheet.write_string(r, 2, messages.text(f"excel_conf_{key.lower().replace(' ', '_')}"), note)
    sheet.write_string(len(conf) + 1, 2, messages.text(note_key), note)
    sheet.set_column(0, 0, key_width)
    sheet.set_column(1, 1, 50)
    sheet.set_column(2, 2, 80)
    sheet.hide()


# -- inspecting a built workbook (tests, doctor) ------------------------------------
def content_type(path: str | Path) -> str | None:
    """The content type of the workbook part of an OOXML package."""
    with zipfile.ZipFile(path) as zf:
        types = zf.read("[Content_Types].xml").decode("utf-8")
    found = re.search(r'PartName="/xl/workbook\.xml"\s+ContentType="([^"]+)"', types)
    return found.group(1) if found else None


def button_macros(path: str | Path) -> dict[str, str]:
    """Caption -> macro name of every legacy form button in the workbook's VML drawings."""
    out: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not (name.startswith("xl/drawings/") and name.endswith(".vml")):
                continue
            vml = zf.read(name).decode("utf-8", errors="replace")
            for shape in re.findall(r"<v:shape\b.*?</v:shape>", vml, flags=re.S):
                macro = re.search(r"<x:FmlaMacro>(.*?)</x:FmlaMacro>", shape, flags=re.S)
                if not macro:
                    continue
                text = re.sub(r"<[^>]+>", "", " ".join(re.findall(r"<v:textbox\b.*?</v:textbox>", shape, flags=re.S)))
                caption = html.unescape(" ".join(text.split()))
                out[caption] = macro.group(1).split("!")[-1]
    return out


def conf_from_file(path: str | Path, defs: Definitions | None = None) -> dict[str, str] | None:
    """The key/value rows of a workbook's xlwings.conf sheet (None if it has none)."""
    import python_calamine as pc

    name = conf_sheet_name(defs)
    wb = pc.CalamineWorkbook.from_path(str(path))
    try:
        if name not in wb.sheet_names:
            return None
        grid = wb.get_sheet_by_name(name).to_python()
    finally:
        wb.close()
    out = {}
    for row in grid:
        if not row or row[0] in ("", None):
            break  # xlwings stops at the first empty key as well
        out[str(row[0])] = "" if len(row) < 2 or row[1] is None else str(row[1])
    return out
