"""The Excel add-in xltools.xlam: built headless, its package, ribbon and VBA project checked
without Excel, installed into a folder, and its handler refusing a book that is not ours."""
from __future__ import annotations

import os

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import re  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from conftest import actions, assert_module_sets_agree, book_from_file, project_section, vba_streams  # noqa: E402
from defusedxml import ElementTree  # noqa: E402

with warnings.catch_warnings():  # oletools uses pyparsing's deprecated names at import
    warnings.simplefilter("ignore")
    from oletools.mraptor import MacroRaptor  # noqa: E402
    from oletools.olevba import detect_autoexec  # noqa: E402

import xltools.excel as x  # noqa: E402
from xltools.cli import main  # noqa: E402
from xltools.core import messages  # noqa: E402
from xltools.core.errors import InputError  # noqa: E402
from xltools.io import addin, xlsm  # noqa: E402

ORIGINAL_MODULES = ("ThisWorkbook", "Sheet1", "Sheet2", "xlwings", "Dictionary")  # kept from the quickstart
NS = {"ui": addin.CUSTOM_UI_NS}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return addin.build_addin(tmp_path_factory.mktemp("addin") / addin.ADDIN_NAME)


@pytest.fixture(scope="module")
def project(built):
    with zipfile.ZipFile(built) as zf:
        return vba_streams(zf.read(xlsm.VBA_PART))


@pytest.fixture(scope="module")
def quickstart():
    with zipfile.ZipFile(xlsm.quickstart_workbook()) as zf:
        return vba_streams(zf.read(xlsm.VBA_PART))


def _ribbon(path: Path):
    with zipfile.ZipFile(path) as zf:
        return ElementTree.fromstring(zf.read(addin.CUSTOM_UI_PART))


# ---------------------------------------------------------------------------- the package
def test_the_addin_builds_on_linux_with_the_addin_content_type(built):
    assert xlsm.content_type(built) == addin.ADDIN_CONTENT_TYPE == "application/vnd.ms-excel.addin.macroEnabled.main+xml"
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
        types = zf.read("[Content_Types].xml").decode()
        workbook = zf.read("xl/workbook.xml").decode()
        book_rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    assert xlsm.VBA_PART in names and addin.CUSTOM_UI_PART in names
    assert xlsm.MACRO_CONTENT_TYPE not in types  # the add-in type replaced the macro workbook's
    assert 'Extension="bin" ContentType="application/vnd.ms-office.vbaProject"' in types
    assert 'Extension="xml" ContentType="application/xml"' in types  # what the customUI part is served as
    assert "vbaProject.bin" in book_rels
    # a minimal book: one visible sheet that says what the add-in is, the xlwings.conf sheet hidden
    sheets = re.findall(r"<sheet\b[^>]*>", workbook)
    assert len(sheets) == 2
    assert f'name="{messages.text("addin_sheet")}"' in sheets[0] and "hidden" not in sheets[0]
    assert f'name="{xlsm.conf_sheet_name()}"' in sheets[1] and 'state="hidden"' in sheets[1]


def test_the_ribbon_is_related_from_the_package_root(built):
    with zipfile.ZipFile(built) as zf:
        rels = ElementTree.fromstring(zf.read("_rels/.rels"))
    found = [r for r in rels if r.get("Type") == "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"]
    assert len(found) == 1 and found[0].get("Target") == "customUI/customUI14.xml"
    assert len({r.get("Id") for r in rels}) == len(rels)  # the relationship ids stay unique


def test_the_xlwings_conf_of_the_addin(built):
    conf = xlsm.conf_from_file(built)
    assert conf == addin.addin_conf("linux")
    assert conf["ADD_WORKBOOK_TO_PYTHONPATH"] == "False"  # XLSTART holds no code
    assert conf["Use UDF Server"] == "False"
    assert conf["Interpreter_Win"] == ""  # built off Windows: python from PATH
    # installed on Windows the conf names the Python that installed it
    import sys

    assert addin.addin_conf("win32")["Interpreter_Win"] == sys.executable
    assert addin.addin_conf("win32")["Use UDF Server"] == "False"


# ---------------------------------------------------------------------------- the ribbon
def test_the_ribbon_has_one_tab_and_one_button_per_buttons_toml_entry(built, defs):
    root = _ribbon(built)
    tabs = root.findall("ui:ribbon/ui:tabs/ui:tab", NS)
    assert len(tabs) == 1
    assert tabs[0].get("id") == "xltools" and tabs[0].get("label") == messages.text("addin_tab") == "BCĐ 138"
    groups = tabs[0].findall("ui:group", NS)
    # the commune's buttons, then the level above's for its rollup workbook (buttons.toml [[rollup_button]])
    assert [g.get("label") for g in groups] == [messages.text("addin_group_commune"), messages.text("addin_group_rollup")]
    assert [b.get("label") for b in groups[1].findall("ui:button", NS)] == [b.caption for b in defs.rollup_buttons]
    buttons = tabs[0].findall(".//ui:button", NS)
    expected = [*xlsm.buttons(defs), *defs.rollup_buttons]
    assert [(b.get("label"), b.get("onAction")) for b in buttons] == [(e.caption, f"{e.sub}_Ribbon") for e in expected]
    ids = [b.get("id") for b in root.iter(f"{{{addin.CUSTOM_UI_NS}}}button")]
    assert len(set(ids)) == len(ids) == len(expected)
    assert addin.ribbon_actions(built) == {e.caption: f"{e.sub}_Ribbon" for e in expected}


def test_every_on_action_names_a_ribbon_callback_of_the_vba_project(built, project, defs):
    sources = project.sources()
    standard = {m.name for m in project.modules if m.standard}
    callbacks = {name: module for module in standard for name in addin.ribbon_callbacks(sources[module])}
    actions_ = addin.ribbon_actions(built)
    assert actions_ and set(actions_.values()) <= set(callbacks)
    # each callback runs the button's handler on the active workbook through xlwings' RunPython
    handler_module = xlsm.buttons_config(defs)["handler_module"]
    for b in xlsm.buttons(defs):
        calls = xlsm.run_python_calls(sources[callbacks[f"{b.sub}_Ribbon"]])
        assert calls[f"{b.sub}_Ribbon"] == f"import {handler_module} as x; x.addin_run('{b.verb}')"
        assert callable(getattr(x, b.verb))
    for b in defs.rollup_buttons:
        calls = xlsm.run_python_calls(sources[callbacks[f"{b.sub}_Ribbon"]])
        assert calls[f"{b.sub}_Ribbon"] == f"import {handler_module} as x; x.addin_rollup_run('{b.verb}')"
        assert callable(getattr(x, b.verb))
    assert "Public Function RunPython(" in sources["xlwings"]
    # the callback signature Excel requires: (control As IRibbonControl); the project references Office
    assert re.findall(r"Sub (\w+_Ribbon)\(control As IRibbonControl\)", sources[addin.RIBBON_MODULE]) == \
        [f"{b.sub}_Ribbon" for b in (*xlsm.buttons(defs), *defs.rollup_buttons)]
    from oletools.olevba import decompress_stream

    office = b"{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}"  # Microsoft Office Object Library (MSO.DLL): IRibbonControl
    assert office in decompress_stream(bytearray(project.streams["VBA/dir"]))


def test_the_ribbon_module_is_ascii_and_generated_from_buttons_toml(defs):
    source = addin.ribbon_source(defs)
    assert source.isascii()
    xlsm.check_ascii(addin.RIBBON_MODULE, source)
    assert "\r\n" in source and "\n" not in source.replace("\r\n", "")
    assert xlsm.module_name(source, "?") == addin.RIBBON_MODULE
    assert sorted(xlsm.subs(source)) == sorted(f"{b.sub}_Ribbon" for b in (*xlsm.buttons(defs), *defs.rollup_buttons))


def test_a_new_button_in_buttons_toml_appears_on_the_ribbon_with_its_callback(own_definitions):
    from xltools.core.definitions import get_definitions

    own_definitions.append("buttons.toml", '\n[[button]]\ncaption = "Gửi & \\"xem\\" <lại>"\nsub = "GuiLai"\n'
                                           'verb = "validate"\ncommand = "validate"\ncell = "I4"\n')
    defs = get_definitions()
    root = ElementTree.fromstring(addin.custom_ui(defs).encode("utf-8"))
    labels = {b.get("label"): b.get("onAction") for b in root.iter(f"{{{addin.CUSTOM_UI_NS}}}button")}
    assert labels['Gửi & "xem" <lại>'] == "GuiLai_Ribbon"  # escaped in the XML, read back as written
    assert "GuiLai_Ribbon" in addin.ribbon_callbacks(addin.ribbon_source(defs))


# ---------------------------------------------------------------------------- the VBA project
def test_the_vba_project_module_sets_agree_across_dir_project_projectwm_and_storage(project):
    assert_module_sets_agree(project, [*ORIGINAL_MODULES, *xlsm.macro_sources(), addin.RIBBON_MODULE])


def test_each_module_stream_decompresses_to_its_source(project, quickstart, defs):
    sources = project.sources()
    for name, source in addin.addin_sources(defs).items():
        assert sources[name] == source, name
    originals = quickstart.sources()
    for name in ORIGINAL_MODULES:
        assert sources[name] == originals[name], name
        assert project.streams[f"VBA/{name}"] == quickstart.streams[f"VBA/{name}"], name
    assert xlsm.vba_xlwings_version(sources["xlwings"]) == xlsm.xlwings_version()


def test_the_vba_project_is_source_only_and_added_modules_have_the_prescribed_cookie(project):
    stream = project.streams["VBA/_VBA_PROJECT"]
    assert len(stream) == 7 and stream[:5] == b"\xcc\x61\xff\xff\x00"
    added = [m for m in project.modules if m.name not in ORIGINAL_MODULES]
    assert len(added) == len(xlsm.macro_sources()) + 1
    assert all(m.cookie == 0xFFFF and m.standard and m.offset == 0 for m in added)
    section = project_section(project.streams["PROJECT"].decode("cp1252"), "[Workspace]")
    records = [line for line in section if line]
    assert section == records + [""] * (len(section) - len(records))  # no blank line inside


def test_code_names_match_the_document_modules(built, project):
    with zipfile.ZipFile(built) as zf:
        book_code = re.search(r'<workbookPr\b[^>]*\bcodeName="([^"]+)"', zf.read("xl/workbook.xml").decode())
        sheet_codes = [re.search(r'<sheetPr\b[^>]*\bcodeName="([^"]+)"', zf.read(n).decode()).group(1)
                       for n in sorted(zf.namelist()) if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
    assert book_code and book_code.group(1) == "ThisWorkbook"
    assert sheet_codes == ["Sheet1", "Sheet2"]  # exactly the quickstart's two sheet modules


def test_mraptor_finds_no_auto_exec(project):
    code = "\r\n".join(project.sources().values())
    raptor = MacroRaptor(code)
    raptor.scan()
    assert not raptor.autoexec, raptor.matches
    assert detect_autoexec(code) == []
    flagged = MacroRaptor(code + "\r\nPrivate Sub Workbook_Open()\r\nEnd Sub\r\n")  # the scanner would see one
    flagged.scan()
    assert flagged.autoexec


# ---------------------------------------------------------------------------- the commands
def test_cli_build_install_and_uninstall_with_a_folder(tmp_path):
    runner = CliRunner()
    out = tmp_path / "Phần bổ trợ" / "xltools.xlam"  # Vietnamese folders work
    built = runner.invoke(main, ["addin", "build", "-o", str(out)])
    assert built.exit_code == 0, built.output
    assert out.is_file() and xlsm.content_type(out) == addin.ADDIN_CONTENT_TYPE
    assert built.output.strip() == messages.text("addin_built", file=out)

    folder = tmp_path / "XLSTART"
    installed = runner.invoke(main, ["addin", "install", "--folder", str(folder)])
    assert installed.exit_code == 0, installed.output
    target = folder / "xltools.xlam"
    assert target.is_file() and addin.ribbon_actions(target) == addin.ribbon_actions(out)
    assert "BCĐ 138" in installed.output
    assert sorted(p.name for p in folder.iterdir()) == ["xltools.xlam"]  # Excel opens every file in XLSTART
    again = runner.invoke(main, ["addin", "install", "--folder", str(folder)])  # a reinstall replaces it
    assert again.exit_code == 0 and sorted(p.name for p in folder.iterdir()) == ["xltools.xlam"]

    removed = runner.invoke(main, ["addin", "uninstall", "--folder", str(folder)])
    assert removed.exit_code == 0, removed.output
    assert not target.exists()
    nothing = runner.invoke(main, ["addin", "uninstall", "--folder", str(folder)])
    assert nothing.exit_code == 0 and nothing.output.strip() == messages.text("addin_not_installed", folder=folder)


@pytest.mark.skipif(os.name == "nt", reason="the refusal is for systems other than Windows")
def test_install_without_a_folder_is_refused_off_windows_with_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in ("install", "uninstall"):
        result = CliRunner().invoke(main, ["addin", command])
        assert result.exit_code == 1
        assert result.output.count("\n") == 1
        assert result.output.startswith("Lỗi: Lệnh cài phần bổ trợ chỉ dùng trên Windows")
    assert list(tmp_path.iterdir()) == []


def test_the_xlstart_folder_is_the_users_excel_startup_folder():
    folder = addin.xlstart_folder("win32", {"APPDATA": r"C:\Users\Nguyễn\AppData\Roaming"})
    assert folder == Path(r"C:\Users\Nguyễn\AppData\Roaming") / "Microsoft" / "Excel" / "XLSTART"
    with pytest.raises(InputError) as caught:
        addin.xlstart_folder("win32", {})
    assert caught.value.key == "addin_no_appdata"
    with pytest.raises(InputError) as caught:
        addin.xlstart_folder("linux", {"APPDATA": "x"})
    assert caught.value.key == "addin_windows_only"


def test_build_refuses_a_name_that_is_not_xlam(tmp_path):
    result = CliRunner().invoke(main, ["addin", "build", "-o", str(tmp_path / "xltools.xlsm")])
    assert result.exit_code == 1
    assert result.output.startswith("Lỗi: Phần bổ trợ phải có đuôi .xlam") and result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- the active-workbook handler
def _alerts(book):
    return [(a["args"][0], a["args"][3]) for a in actions(book, "alert")]  # (text, mode)


def test_the_addin_handler_refuses_a_workbook_that_is_not_a_commune_workbook(tmp_path):
    import xlsxwriter

    other = tmp_path / "Bảng lương.xlsx"
    wb = xlsxwriter.Workbook(other)
    wb.add_worksheet("Trang tính 1").write("A1", "xin chào")
    wb.close()
    book = book_from_file(other)

    text = x.addin_run("validate", book)

    assert "\n" not in text
    assert text == messages.text("addin_not_commune", file=str(other), action="Kiểm tra dữ liệu", tab="BCĐ 138")
    assert "không phải Sổ theo dõi của xã" in text
    assert _alerts(book) == [(text, "critical")]
    assert [a["func"] for a in actions(book)] == ["alert"]  # nothing written


def test_the_addin_handler_runs_the_buttons_handler_on_the_active_workbook(make_commune, defs, monkeypatch):
    path = make_commune()
    by_button = book_from_file(path)
    expected = x.validate(by_button)

    book = book_from_file(path)
    monkeypatch.setattr(x.xw, "books", SimpleNamespace(active=book))  # what Excel's active workbook is
    text = x.addin_run("validate")

    assert text == expected
    assert _alerts(book) == [(text, "info")]
    assert [a["func"] for a in actions(book)] == [a["func"] for a in actions(by_button)]  # the button's writes


def test_the_addin_handler_without_an_open_workbook_says_so(monkeypatch):
    class NoBooks:
        @property
        def active(self):
            raise RuntimeError("no workbook")

    monkeypatch.setattr(x.xw, "books", NoBooks())
    monkeypatch.setattr(x.xw, "apps", SimpleNamespace(active=None))
    text = x.addin_run("aggregate")
    assert text == messages.text("addin_no_workbook", tab="BCĐ 138")


def test_every_button_verb_is_a_handler_the_addin_can_run(defs):
    for b in xlsm.buttons(defs):
        assert callable(getattr(x, b.verb)), b.verb
    with pytest.raises(Exception) as caught:
        x.addin_run("rm_rf")
    assert getattr(caught.value, "key", None) == "addin_unknown_button"


# ---------------------------------------------------------------------------- the guide
def test_the_windows_guide_installs_the_addin_through_python_m():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "windows-setup.md").read_text(encoding="utf-8")
    uses = re.findall(r"(\S*)\s*\bxltools addin (\w+)", guide)
    assert {u[1] for u in uses} >= {"install", "uninstall"}
    assert all(before.endswith("-m") for before, _ in uses), uses
