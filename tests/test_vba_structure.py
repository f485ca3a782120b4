"""The VBA project of the built .xlsm, stream by stream ([MS-OVBA]), read without pyOpenVBA.

The streams are read with olefile, the dir stream is parsed (conftest.vba_streams), module text is
decompressed with oletools' own MS-OVBA decompressor, and everything is compared
with the installed xlwings' quickstart workbook, the project the builder starts from.
"""
from __future__ import annotations

import copy
import warnings
import zipfile
from pathlib import Path

import pytest
from conftest import VbaDirModule as DirModule
from conftest import VbaStreams as Project
from conftest import assert_module_sets_agree
from conftest import project_section as _section
from conftest import vba_streams as _project

with warnings.catch_warnings():  # oletools uses pyparsing's deprecated names at import
    warnings.simplefilter("ignore")
    from oletools.mraptor import MacroRaptor
    from oletools.olevba import decompress_stream, detect_autoexec

from xltools.core.errors import DefinitionsError
from xltools.io import xlsm
from xltools.verbs.new import new_xlsm

SOURCE_ONLY_VBA_PROJECT = b"\xcc\x61\xff\xff\x00"  # Reserved1, Version 0xFFFF, Reserved2 ([MS-OVBA] 2.3.4.1)
ORIGINAL_MODULES = ("ThisWorkbook", "Sheet1", "Sheet2", "xlwings", "Dictionary")  # kept from the quickstart


def _source(project: Project, module: DirModule) -> str:
    return decompress_stream(bytearray(project.streams[f"VBA/{module.stream}"][module.offset:])).decode("cp1252")


@pytest.fixture(scope="module")
def built(tmp_path_factory, _sample) -> Path:
    settings, tables = copy.deepcopy(_sample)
    return new_xlsm(tmp_path_factory.mktemp("vba") / "SoTheoDoi_HongThuy.xlsm", settings, tables)


@pytest.fixture(scope="module")
def project(built) -> Project:
    with zipfile.ZipFile(built) as zf:
        return _project(zf.read(xlsm.VBA_PART))


@pytest.fixture(scope="module")
def quickstart() -> Project:
    with zipfile.ZipFile(xlsm.quickstart_workbook()) as zf:
        return _project(zf.read(xlsm.VBA_PART))


def test_the_module_sets_agree_across_dir_project_projectwm_and_storage(project):
    assert_module_sets_agree(project, [*ORIGINAL_MODULES, *xlsm.macro_sources()])


def test_each_module_stream_decompresses_to_its_source(project, quickstart):
    sources = {m.name: _source(project, m) for m in project.modules}
    for name, source in xlsm.macro_sources().items():
        assert sources[name] == source, name
    originals = {m.name: _source(quickstart, m) for m in quickstart.modules}
    for name in ORIGINAL_MODULES:
        assert sources[name] == originals[name], name
    assert xlsm.vba_xlwings_version(sources["xlwings"]) == xlsm.xlwings_version()


def test_vba_project_is_the_seven_byte_source_only_form(project):
    stream = project.streams["VBA/_VBA_PROJECT"]
    assert len(stream) == 7
    assert stream[:5] == SOURCE_ONLY_VBA_PROJECT  # Excel compiles the source on first open


def test_streams_taken_from_the_quickstart_are_byte_for_byte_its_own(project, quickstart):
    for name in ORIGINAL_MODULES:
        assert project.streams[f"VBA/{name}"] == quickstart.streams[f"VBA/{name}"], name
    ours = {m.name: m for m in project.modules}
    for m in quickstart.modules:
        if m.name in ours:
            assert (ours[m.name].offset, ours[m.name].cookie, ours[m.name].standard) == (m.offset, m.cookie, m.standard)
    # PROJECT: every line but the module declarations and their window records is the quickstart's
    def kept(text: bytes) -> list[str]:
        names = {m.name for m in project.modules} | {m.name for m in quickstart.modules}
        return [line for line in text.decode("cp1252").split("\r\n")
                if line.partition("=")[0] not in {"Module", "Class", "Document", *names}]

    assert kept(project.streams["PROJECT"]) == kept(quickstart.streams["PROJECT"])


def test_added_modules_have_the_cookie_ms_ovba_prescribes(project):
    added = [m for m in project.modules if m.name in xlsm.macro_sources()]
    assert added and all(m.cookie == 0xFFFF and m.standard and m.offset == 0 for m in added)


def test_the_workspace_section_has_no_blank_line_inside(project, quickstart):
    section = _section(project.streams["PROJECT"].decode("cp1252"), "[Workspace]")
    records = [line for line in section if line]
    assert section == records + [""] * (len(section) - len(records))
    assert len(section) - len(records) == len(_section(quickstart.streams["PROJECT"].decode("cp1252"), "[Workspace]")) - 6
    assert section[len(records) - 1].startswith("XlTools=")


def test_tidy_project_stream_moves_the_blank_line_to_the_section_end():
    raw = b'Name="P"\r\n\r\n[Workspace]\r\nA=0, 0, 0, 0, C\r\n\r\nB=0, 0, 0, 0, C\r\n'
    assert xlsm.tidy_project_stream(raw) == b'Name="P"\r\n\r\n[Workspace]\r\nA=0, 0, 0, 0, C\r\nB=0, 0, 0, 0, C\r\n\r\n'
    assert xlsm.tidy_project_stream(b'Name="P"\r\n') == b'Name="P"\r\n'


def test_every_button_runs_a_sub_of_a_standard_module(built, project):
    standard_subs = {s for m in project.modules if m.standard for s in xlsm.subs(_source(project, m))}
    macros = xlsm.button_macros(built)
    assert macros and set(macros.values()) <= standard_subs
    # each button's Sub calls RunPython, which the xlwings module defines
    calls = xlsm.run_python_calls(_source(project, next(m for m in project.modules if m.name == "XlTools")))
    assert set(macros.values()) <= set(calls)
    assert "Public Function RunPython(" in _source(project, next(m for m in project.modules if m.name == "xlwings"))


def test_mraptor_finds_no_auto_exec(project):
    code = "\r\n".join(_source(project, m) for m in project.modules)
    raptor = MacroRaptor(code)
    raptor.scan()
    assert not raptor.autoexec, raptor.matches
    assert detect_autoexec(code) == []
    # and it is the scanner that would see one: Workbook_Open in ThisWorkbook is flagged
    flagged = MacroRaptor(code + "\r\nPrivate Sub Workbook_Open()\r\nEnd Sub\r\n")
    flagged.scan()
    assert flagged.autoexec


def test_every_bas_file_is_ascii():
    for name, source in xlsm.macro_sources().items():
        assert source.isascii(), name
        xlsm.check_ascii(name, source)


def test_vietnamese_in_a_bas_source_is_refused_before_anything_is_written(tmp_path):
    sources = xlsm.macro_sources()
    module = next(iter(sources))
    sources[module] = sources[module] + "' Kiểm tra dữ liệu\r\n"
    target = tmp_path / "vbaProject.bin"
    with pytest.raises(DefinitionsError) as caught:
        xlsm.build_vba_project(target, sources)
    assert caught.value.key == "xlsm_bas_not_ascii"
    assert caught.value.params["module"] == module
    assert caught.value.params["line"] == len(sources[module].splitlines())
    assert "Kiểm tra dữ liệu" in caught.value.vi
    assert not target.exists()


def test_code_names_match_the_document_modules(built, project):
    """workbook.xml's codeName is the ThisWorkbook module, every sheet document module is a sheet's
    codeName, and no other module takes a sheet's code name (Excel would refuse the project)."""
    import re

    with zipfile.ZipFile(built) as zf:
        book_code = re.search(r'<workbookPr\b[^>]*\bcodeName="([^"]+)"', zf.read("xl/workbook.xml").decode())
        sheet_codes = [re.search(r'<sheetPr\b[^>]*\bcodeName="([^"]+)"', zf.read(n).decode()).group(1)
                       for n in zf.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
    assert book_code and book_code.group(1) == "ThisWorkbook"
    assert len(set(map(str.casefold, sheet_codes))) == len(sheet_codes)
    assert all(re.fullmatch(r"[A-Za-z]\w{0,30}", c) and c.isascii() for c in sheet_codes)
    bases = {m.name: re.search(r'Attribute VB_Base = "0\{([0-9A-F-]+)\}"', _source(project, m)) for m in project.modules}
    documents = {name: found.group(1) for name, found in bases.items() if found and found.group(1).startswith("000208")}
    assert documents.pop("ThisWorkbook") == "00020819-0000-0000-C000-000000000046"  # the Workbook object
    assert documents and set(documents.values()) == {"00020820-0000-0000-C000-000000000046"}  # Worksheet
    assert set(documents) <= set(sheet_codes)
    others = {m.name.casefold() for m in project.modules if m.name not in documents and m.name != "ThisWorkbook"}
    assert not others & {c.casefold() for c in sheet_codes}
