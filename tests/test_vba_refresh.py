"""An .xlsm whose VBA names another xlwings (issue 11, item 3): read it, report it, refresh it.

The old workbook is a built one whose xlwings module was rewritten to name xlwings 0.30.0 (its
``XLWINGS_VERSION`` and its DLL names), as a workbook built before a ``pip install -U`` has.
"""
from __future__ import annotations

import copy
import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from pyopenvba import ExcelFile

from xltools import doctor
from xltools.cli import main
from xltools.core.errors import InputError, WorkbookError, XltoolsWarning
from xltools.io import vba_refresh, xlsm
from xltools.io.reader import read_workbook
from xltools.verbs.new import new, new_xlsm

OLD = "0.30.0"
OLD_DLLS = ("xlwings64-0.30.0.dll", "xlwings32-0.30.0.dll")


@pytest.fixture(scope="module")
def built(tmp_path_factory, _sample) -> Path:
    settings, tables = copy.deepcopy(_sample)
    return new_xlsm(tmp_path_factory.mktemp("built") / "SoTheoDoi_HongThuy.xlsm", settings, tables)


def _edit_vba(path: Path, edit) -> Path:
    with ExcelFile(str(path)) as wb:
        edit(wb)
        wb.save()
    return path


def _name_old_xlwings(wb) -> None:
    source = wb.get_module(xlsm.XLWINGS_MODULE)
    assert source.count(xlsm.xlwings_version()) >= 3  # the constant and the Declare lines
    wb.set_module(xlsm.XLWINGS_MODULE, source.replace(xlsm.xlwings_version(), OLD))


@pytest.fixture
def old(built, tmp_path) -> Path:
    """The built workbook with the xlwings module of 0.30.0 and an older XlTools module."""
    path = tmp_path / "Sổ cũ.xlsm"
    shutil.copyfile(built, path)

    def edit(wb) -> None:
        _name_old_xlwings(wb)
        module = xlsm.buttons_config()["module"]
        wb.set_module(module, wb.get_module(module).replace("Sub TongHop()", "Sub TongHopCu()"))

    return _edit_vba(path, edit)


def _cells(path: Path) -> dict[str, dict[str, object]]:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    return {ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
            for ws in wb.worksheets}


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_version_and_dlls_named_by_a_workbooks_vba(built, old, tmp_path):
    installed = xlsm.xlwings_version()
    assert vba_refresh.workbook_vba(old) == vba_refresh.VbaXlwings(OLD, OLD_DLLS)
    assert vba_refresh.workbook_vba(built) == vba_refresh.VbaXlwings(
        installed, (f"xlwings64-{installed}.dll", f"xlwings32-{installed}.dll"))
    assert vba_refresh.installed_vba() == vba_refresh.workbook_vba(built)
    assert vba_refresh.vba_mismatch(built) is None
    assert vba_refresh.vba_mismatch(old) == (vba_refresh.VbaXlwings(OLD, OLD_DLLS), vba_refresh.installed_vba())
    # no VBA project, or not a zip at all: nothing to say, never an exception
    plain = tmp_path / "Không có VBA.xlsm"
    openpyxl.Workbook().save(plain)
    broken = tmp_path / "Hỏng.xlsm"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert vba_refresh.workbook_vba(plain) is None and vba_refresh.workbook_vba(broken) is None


def test_doctor_reports_the_mismatch_with_the_upgrade_fix(old):
    checks = [c for c in doctor.run_doctor(old) if c.key == "vba"]
    assert [c.status for c in checks] == ["error"]
    message = checks[0].message
    assert OLD in message and OLD_DLLS[0] in message and xlsm.xlwings_version() in message
    assert message.endswith(f'xltools upgrade "{old}"')
    result = CliRunner().invoke(main, ["doctor", str(old)])
    assert result.exit_code == 1
    assert "Cảnh báo" not in result.stderr  # doctor says it once, as its own check
    assert sum("xltools upgrade" in line for line in result.output.splitlines()) == 1


def test_a_verb_on_an_old_xlsm_warns_in_one_line(old, built):
    result = CliRunner().invoke(main, ["validate", str(old), "--write"])  # reads, then writes
    assert result.exit_code in (0, 1), result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Cảnh báo:")]
    assert len(lines) == 1, result.stderr
    assert OLD in lines[0] and OLD_DLLS[0] in lines[0] and f'xltools upgrade "{old}"' in lines[0]
    assert "Cảnh báo:" not in result.stdout
    # the library says it as a warning; a workbook built with the installed xlwings says nothing
    with pytest.warns(XltoolsWarning, match=OLD):
        read_workbook(old, sheets=["settings"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", XltoolsWarning)
        read_workbook(built, sheets=["settings"])
    quiet = CliRunner().invoke(main, ["aggregate", str(built)])
    assert quiet.exit_code == 0, quiet.output
    assert "Cảnh báo:" not in quiet.stderr


def test_reading_an_xlsx_never_opens_a_vba_project(tmp_path, sample, monkeypatch):
    path = new(tmp_path / "SoTheoDoi_HongThuy.xlsx", *sample)

    def fail(*_args):
        raise AssertionError("the VBA check ran on an .xlsx")

    monkeypatch.setattr(vba_refresh, "_vba_part", fail)
    monkeypatch.setattr(vba_refresh, "vba_mismatch", fail)
    assert read_workbook(path).settings["commune_name"] == "Hồng Thủy"


def test_refresh_restores_the_installed_xlwings_and_keeps_every_cell_and_button(old, built, tmp_path, defs):
    out = tmp_path / "Sổ mới.xlsm"
    before_cells, before_parts = _cells(old), _parts(old)
    changes = vba_refresh.refresh_vba(old, out)
    installed = xlsm.xlwings_version()
    module = xlsm.buttons_config()["module"]
    assert changes == [
        f"Thay mô-đun VBA xlwings {OLD} bằng bản {installed} của xlwings đã cài "
        f"(nút bấm sẽ tìm tệp xlwings64-{installed}.dll, xlwings32-{installed}.dll).",
        f"Cập nhật mô-đun VBA {module} theo macros/{module}.bas.",
    ]
    assert vba_refresh.workbook_vba(out) == vba_refresh.installed_vba()
    assert vba_refresh.vba_mismatch(out) is None
    # the VBA project is byte for byte the one of a workbook built today (so every stream check of
    # tests/test_vba_structure.py holds for it: cookies, PROJECT, PROJECTwm, the 7-byte _VBA_PROJECT)
    assert xlsm.read_modules(out) == xlsm.read_modules(built)
    assert _parts(out)[xlsm.VBA_PART] == _parts(built)[xlsm.VBA_PART]
    # every part but the VBA project is byte for byte the old one: sheets, buttons, xlwings.conf
    after_parts = _parts(out)
    assert list(after_parts) == list(before_parts)
    assert {k: v for k, v in after_parts.items() if k != xlsm.VBA_PART} == \
           {k: v for k, v in before_parts.items() if k != xlsm.VBA_PART}
    assert _cells(out) == before_cells
    assert xlsm.button_macros(out) == {b.caption: b.sub for b in xlsm.buttons(defs)}
    assert xlsm.conf_from_file(out, defs) == xlsm.conf_from_file(old, defs) == xlsm.conf_values("linux")
    assert xlsm.content_type(out) == xlsm.MACRO_CONTENT_TYPE
    # once more: nothing left to do, the file is copied as it is
    again = tmp_path / "Lần hai.xlsm"
    assert vba_refresh.refresh_vba(out, again) == []
    assert again.read_bytes() == out.read_bytes()


def test_refresh_in_place_and_the_workbook_still_reads(old):
    changes = vba_refresh.refresh_vba(old, old)
    assert changes and vba_refresh.vba_mismatch(old) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", XltoolsWarning)
        assert read_workbook(old).settings["commune_name"] == "Hồng Thủy"
    assert not list(old.parent.glob(".~xltools-*"))


def test_refresh_keeps_the_workbooks_own_module_and_drops_the_sample(old, tmp_path):
    own = "Attribute VB_Name = \"CuaXa\"\r\nSub InBaoCao()\r\n    MsgBox \"In\"\r\nEnd Sub\r\n"
    sample = "Attribute VB_Name = \"Module1\"\r\nSub SampleCall()\r\nEnd Sub\r\n"

    def edit(wb) -> None:
        wb.vba_project().add_module("CuaXa", own)
        wb.vba_project().add_module(xlsm.SAMPLE_MODULE, sample)

    _edit_vba(old, edit)
    out = tmp_path / "Mới.xlsm"
    changes = vba_refresh.refresh_vba(old, out)
    assert "Giữ nguyên mô-đun VBA CuaXa (mã riêng của sổ, không thuộc xltools)." in changes
    assert "Bỏ mô-đun VBA mẫu Module1 của xlwings." in changes
    modules = xlsm.read_modules(out)
    assert modules["CuaXa"] == own and xlsm.SAMPLE_MODULE not in modules


def test_refresh_refuses_to_lose_code_in_a_document_module(old, tmp_path):
    def edit(wb) -> None:
        source = wb.get_module("ThisWorkbook")
        wb.set_module("ThisWorkbook", source + "Private Sub Workbook_Open()\r\n    MsgBox \"Xin chao\"\r\nEnd Sub\r\n")

    _edit_vba(old, edit)
    before = old.read_bytes()
    out = tmp_path / "Mới.xlsm"
    with pytest.raises(InputError) as caught:
        vba_refresh.refresh_vba(old, out)
    assert caught.value.key == "xlsm_refresh_foreign_code"
    assert caught.value.params["module"] == "ThisWorkbook"
    assert not out.exists() and old.read_bytes() == before


def test_refresh_of_a_workbook_without_vba_is_one_line(tmp_path, sample):
    path = new(tmp_path / "SoTheoDoi_HongThuy.xlsx", *sample)
    with pytest.raises(WorkbookError) as caught:
        vba_refresh.refresh_vba(path, tmp_path / "x.xlsm")
    assert caught.value.key == "xlsm_refresh_no_vba"
    assert caught.value.vi.startswith("Tệp SoTheoDoi_HongThuy.xlsx không có dự án VBA")


@pytest.mark.slow
def test_upgrade_brings_an_old_xlsm_to_the_installed_xlwings(old):
    """`xltools upgrade` on a workbook whose VBA names xlwings 0.30.0: the dry run lists the VBA
    changes and writes nothing; the upgrade refreshes the VBA (backup kept), the data stays, and
    the mismatch warning is gone."""
    before = old.read_bytes()
    cells = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
             for ws in openpyxl.load_workbook(old).worksheets}
    dry = CliRunner().invoke(main, ["upgrade", str(old), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert vba_refresh.workbook_vba(old).version == OLD and old.read_bytes() == before
    assert any(line.startswith("  - ") and "xlwings" in line for line in dry.output.splitlines()), dry.output

    done = CliRunner().invoke(main, ["upgrade", str(old)])
    assert done.exit_code == 0, done.output
    assert vba_refresh.workbook_vba(old).version == xlsm.xlwings_version()
    assert vba_refresh.vba_mismatch(old) is None
    [saved] = (old.parent / "Sao_luu").glob("*.xlsm")
    assert saved.read_bytes() == before
    after = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
             for ws in openpyxl.load_workbook(old).worksheets}
    assert after == cells  # the VBA alone changed (the workbook was already of these definitions)
    again = CliRunner().invoke(main, ["upgrade", str(old)])
    assert again.exit_code == 0 and old.parent.joinpath("Sao_luu").exists()
    assert len(list((old.parent / "Sao_luu").glob("*.xlsm"))) == 1  # nothing left to do: not written
