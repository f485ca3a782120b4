"""The macro workbook (xltools new --xlsm): VBA project, buttons, xlwings.conf, survival of edits."""
from __future__ import annotations

import importlib
import re
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils import get_column_letter

with warnings.catch_warnings():  # oletools uses pyparsing's deprecated names at import
    warnings.simplefilter("ignore")
    from oletools.olevba import VBA_Parser

from xltools.cli import main
from xltools.core.resources import resource_dir
from xltools.io import xlsm
from xltools.io.reader import read_workbook
from xltools.verbs.new import new_xlsm


def _olevba_modules(path: Path) -> dict[str, str]:
    """Module name -> source, as oletools' olevba extracts them (independent of pyOpenVBA)."""
    parser = VBA_Parser(str(path))
    try:
        return {Path(name).stem: code for _file, _stream, name, code in parser.extract_macros()}
    finally:
        parser.close()


def _bas(path: Path) -> str:
    return path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\n", "\r\n")


@pytest.fixture
def built_xlsm(tmp_path, sample, defs):
    settings, tables = sample
    return new_xlsm(tmp_path / "SoTheoDoi_HongThuy.xlsm", settings, tables)


def test_cli_new_xlsm_builds_the_macro_workbook(tmp_path):
    samples = resource_dir("samples")
    target = tmp_path / "Sổ có nút.xlsm"
    result = CliRunner().invoke(main, [
        "new", str(target), "--xlsm", "--settings", str(samples / "commune.toml"),
        "--villages", str(samples / "thon.csv"),
    ])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert xlsm.content_type(target) == xlsm.MACRO_CONTENT_TYPE
    assert read_workbook(target).settings["commune_name"] == "Hồng Thủy"


def test_cli_new_xlsm_default_name_and_wrong_suffix(tmp_path, monkeypatch):
    samples = resource_dir("samples")
    monkeypatch.chdir(tmp_path)
    ok = CliRunner().invoke(main, ["new", "--xlsm", "--settings", str(samples / "commune.toml")])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "SoTheoDoi_HongThuy.xlsm").exists()
    bad = CliRunner().invoke(main, ["new", str(tmp_path / "x.xlsx"), "--xlsm"])
    assert bad.exit_code == 1
    assert bad.output.startswith("Lỗi: Sổ theo dõi có nút bấm phải có đuôi .xlsm")
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_new_to_an_xlsm_path_builds_the_macro_workbook(tmp_path):
    target = tmp_path / "SoTheoDoi_HongThuy.xlsm"
    result = CliRunner().invoke(main, ["new", str(target)])  # no --xlsm: the suffix says it
    assert result.exit_code == 0, result.output
    assert xlsm.content_type(target) == xlsm.MACRO_CONTENT_TYPE
    assert xlsm.button_macros(target)


def test_every_module_equals_its_bas_file(built_xlsm):
    modules = _olevba_modules(built_xlsm)
    for path in xlsm.macro_files():
        name = xlsm.module_name(_bas(path), path.stem)
        assert modules[name] == _bas(path), name
    # the quickstart's sample module is gone; xlwings' RunPython module is there
    assert "Module1" not in modules
    assert "Public Function RunPython(" in modules["xlwings"]


def test_the_vba_xlwings_version_equals_the_installed_one(built_xlsm):
    modules = _olevba_modules(built_xlsm)
    installed = importlib.metadata.version("xlwings")
    assert xlsm.vba_xlwings_version(modules["xlwings"]) == installed == xlsm.xlwings_version()
    # and the source we took it from is the installed package's own quickstart workbook
    assert xlsm.quickstart_workbook().parent == Path(importlib.util.find_spec("xlwings").origin).parent


def test_the_content_type_is_macro_enabled(built_xlsm):
    assert xlsm.content_type(built_xlsm) == xlsm.MACRO_CONTENT_TYPE
    with zipfile.ZipFile(built_xlsm) as zf:
        assert "xl/vbaProject.bin" in zf.namelist()


def test_buttons_bas_and_workbook_agree(built_xlsm, defs):
    buttons = xlsm.buttons(defs)
    sources = xlsm.macro_sources()
    module = xlsm.buttons_config(defs)["module"]
    calls = xlsm.run_python_calls(sources[module])
    # buttons.toml <-> the .bas module: one Sub per button, nothing else
    assert sorted(calls) == sorted(b.sub for b in buttons)
    assert sorted(xlsm.subs(sources[module])) == sorted(calls)
    import_line = f"import {xlsm.buttons_config(defs)['handler_module']} as x; "
    for b in buttons:
        assert calls[b.sub] == f"{import_line}x.{b.verb}()"
    # every handler exists (without importing xlwings here: by name in the module source)
    handler_source = (Path(xlsm.__file__).parent.parent / "excel.py").read_text(encoding="utf-8")
    for b in buttons:
        assert f"\ndef {b.verb}(" in handler_source, b.verb
    # the built workbook: each caption runs its Sub, and each Sub exists in the project
    macros = xlsm.button_macros(built_xlsm)
    assert macros == {b.caption: b.sub for b in buttons}
    all_subs = {s for code in _olevba_modules(built_xlsm).values() for s in xlsm.subs(code)}
    assert set(macros.values()) <= all_subs


def test_the_buttons_sit_on_the_dashboard(built_xlsm, defs):
    wb = openpyxl.load_workbook(built_xlsm, keep_vba=True)
    first = wb.worksheets[0]
    assert first.title == defs.sheet("dashboard").name
    with zipfile.ZipFile(built_xlsm) as zf:
        rels = zf.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        vml = re.search(r'Target="\.\./drawings/(vmlDrawing\d+\.vml)"', rels)
        assert vml, rels
        shapes = re.findall(r"<v:shape\b.*?</v:shape>", zf.read(f"xl/drawings/{vml.group(1)}").decode(), flags=re.S)
    # each button's top-left corner is its cell of buttons.toml (VML anchor: column, dx, row, dy, …)
    corners = {}
    for shape in shapes:
        macro = re.search(r"<x:FmlaMacro>.*?!(\w+)</x:FmlaMacro>", shape, flags=re.S)
        col, _dx, row, _dy = (int(n) for n in re.search(r"<x:Anchor>(.*?)</x:Anchor>", shape, flags=re.S).group(1).split(",")[:4])
        corners[macro.group(1)] = f"{get_column_letter(col + 1)}{row + 1}"
    assert corners == {b.sub: b.cell for b in xlsm.buttons(defs)}


def test_the_xlwings_conf_sheet(built_xlsm, defs):
    conf = xlsm.conf_from_file(built_xlsm, defs)
    assert conf == xlsm.conf_values("linux")
    assert conf["Interpreter_Win"] == "" and conf["PYTHONPATH"] == ""
    wb = openpyxl.load_workbook(built_xlsm, keep_vba=True)
    assert wb[xlsm.conf_sheet_name(defs)].sheet_state == "hidden"


def test_conf_values_built_on_windows_name_the_running_python():
    values = xlsm.conf_values("win32")
    import sys

    assert values["Interpreter_Win"] == sys.executable  # (pythonw.exe would become python.exe)
    assert set(values) == set(xlsm.conf_values("linux"))


VIETNAMESE_TEMP = "C:\\Users\\Nguyễn Văn An\\AppData\\Local\\Temp"


def test_a_plain_temp_folder_keeps_xlwings_default():
    # an empty TEMP DIR would put the log at the drive's root: the key is only written when needed
    values = xlsm.conf_values("win32", {"TEMP": "C:\\Users\\an\\AppData\\Local\\Temp"}, short=lambda p: "")
    assert "TEMP DIR" not in values


def test_a_vietnamese_user_name_gets_an_ascii_temp_folder_for_the_buttons_log():
    short = {VIETNAMESE_TEMP: "C:\\Users\\NGUYNV~1\\AppData\\Local\\Temp"}
    values = xlsm.conf_values("win32", {"TEMP": VIETNAMESE_TEMP}, short=lambda p: short.get(p, ""))
    assert values["TEMP DIR"] == "C:\\Users\\NGUYNV~1\\AppData\\Local\\Temp"
    # 8.3 names turned off on the volume: a folder under ProgramData, plain ASCII
    values = xlsm.conf_values("win32", {"TEMP": VIETNAMESE_TEMP, "PROGRAMDATA": "C:\\ProgramData"},
                              short=lambda p: "")
    assert values["TEMP DIR"] == "C:\\ProgramData\\xltools\\tmp" and values["TEMP DIR"].isascii()
    # the keys stay contiguous from A1: xlwings stops reading at the first empty key
    assert all(values) and list(values)[:5] == list(xlsm.conf_values("linux"))


def test_an_interpreter_under_a_vietnamese_user_name_is_written_in_its_ascii_form(monkeypatch):
    exe = "C:\\Users\\Nguyễn\\AppData\\Local\\Programs\\Python\\Python311\\python.exe"
    monkeypatch.setattr(xlsm.sys, "executable", exe)
    alias = "C:\\Users\\NGUYN~1\\AppData\\Local\\Programs\\Python\\Python311\\python.exe"
    values = xlsm.conf_values("win32", {"TEMP": "C:\\T"}, short=lambda p: alias if p == exe else "")
    assert values["Interpreter_Win"] == alias
    # no ASCII form: the path stays as it is (doctor warns about it)
    assert xlsm.conf_values("win32", {"TEMP": "C:\\T"}, short=lambda p: "")["Interpreter_Win"] == exe


def test_an_edited_bas_file_goes_into_the_project(tmp_path):
    sources = xlsm.macro_sources()
    module = next(iter(sources))
    sources[module] = sources[module] + "\r\n' sửa thử\r\n".encode("ascii", "replace").decode()
    project = xlsm.build_vba_project(tmp_path / "vbaProject.bin", sources)
    target = tmp_path / "project.xlsm"
    with zipfile.ZipFile(xlsm.quickstart_workbook()) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = project.read_bytes() if item.filename == xlsm.VBA_PART else src.read(item)
            dst.writestr(item, data)
    assert _olevba_modules(target)[module] == sources[module]


# ---------------------------------------------------------------------------- writing verbs keep it all
def _fingerprint(path: Path, defs) -> dict:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    dash = wb[defs.sheet("dashboard").name]
    return {
        "modules": _olevba_modules(path),
        "buttons": xlsm.button_macros(path),
        "conf": xlsm.conf_from_file(path, defs),
        "conf_hidden": wb[xlsm.conf_sheet_name(defs)].sheet_state,
        "content_type": xlsm.content_type(path),
        "dashboard_protected": dash.protection.sheet,
        "dashboard_widths": {c: dash.column_dimensions[c].width for c in "BCEFG"},
        "sheets": wb.sheetnames,
        "tables": {ws.title: sorted(ws.tables) for ws in wb.worksheets},
    }


@pytest.mark.slow  # every writing verb in turn on one .xlsm: the longest chain of this file
def test_every_writing_cli_verb_keeps_modules_buttons_and_conf(tmp_path, sample, defs):
    commands = set(main.commands)
    settings, tables = sample
    month = settings["current_period"]
    tables["reports"] = tables["reports"][tables["reports"]["period"] != month].reset_index(drop=True)
    path = new_xlsm(tmp_path / "SoTheoDoi_HongThuy.xlsm", settings, tables)
    before = _fingerprint(path, defs)
    runner = CliRunner()
    ran = []

    if "import" in commands:
        from xltools.io.forms import FormSpec, write_form

        inbox = tmp_path / "Phiếu nhận"
        inbox.mkdir()
        villages = tables["villages"]
        for code, name in list(zip(villages["code"], villages["name"]))[:3]:
            spec = FormSpec(settings["commune_code"], settings["commune_name"], code, name, month)
            write_form(inbox / f"PhieuBaoCao_{code}_{month}.xlsx", spec, defs, {i.key: 2 for i in defs.numeric_indicators})
        result = runner.invoke(main, ["import", str(path), str(inbox)])
        assert result.exit_code in (0, 1), result.output
        ran.append("import")
        assert (read_workbook(path, defs).tables["reports"]["period"] == month).sum() == 3
    if "validate" in commands:
        result = runner.invoke(main, ["validate", str(path), "--write"])
        assert result.exit_code in (0, 1), result.output
        ran.append("validate")
    if "aggregate" in commands:
        result = runner.invoke(main, ["aggregate", str(path), "--write"])
        assert result.exit_code == 0, result.output
        ran.append("aggregate")
    assert ran == ["import", "validate", "aggregate"]

    after = _fingerprint(path, defs)
    assert after == before
    assert xlsm.vba_xlwings_version(after["modules"]["xlwings"]) == xlsm.xlwings_version()
