"""xltools doctor: checks of this PC and of the macro workbook; the exit code reflects errors."""
from __future__ import annotations

import json
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from xltools import doctor
from xltools.cli import main
from xltools.io import xlsm
from xltools.verbs.new import new_xlsm


@pytest.fixture
def built(tmp_path, sample):
    settings, tables = sample
    return new_xlsm(tmp_path / "SoTheoDoi_HongThuy.xlsm", settings, tables)


def _by_key(checks):
    out = {}
    for c in checks:
        out.setdefault(c.key, []).append(c)
    return out


def test_a_fresh_workbook_passes(built, defs):
    for key in ("inbox_dir", "outbox_dir"):
        (built.parent / defs.setting(key).default).mkdir()
    result = CliRunner().invoke(main, ["doctor", str(built)])
    assert result.exit_code == 0, result.output
    assert "[OK]  Mã VBA của xlwings trong sổ là phiên bản " + xlsm.xlwings_version() in result.output
    assert "[LỖI]" not in result.output
    assert result.output.rstrip().endswith("Kết quả: 0 lỗi, 1 cảnh báo.")  # not Windows


def test_json_output_lists_every_check(built):
    result = CliRunner().invoke(main, ["doctor", str(built), "--format", "json"])
    records = json.loads(result.output)
    keys = {r["key"] for r in records}
    assert {"python", "package", "pin", "excel", "workbook", "vba", "conf", "folder"} <= keys
    assert all(r["status"] in ("ok", "info", "warning", "error") for r in records)


def test_a_missing_workbook_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["doctor", str(tmp_path / "Không có.xlsm")])
    assert result.exit_code == 1
    assert "[LỖI] Không tìm thấy tệp" in result.output


def test_a_vba_module_of_another_xlwings_version_is_an_error(built, tmp_path):
    from pyopenvba import ExcelFile

    other = tmp_path / "Cu.xlsm"
    shutil.copyfile(built, other)
    with ExcelFile(str(other)) as wb:
        source = wb.get_module(xlsm.XLWINGS_MODULE)
        wb.set_module(xlsm.XLWINGS_MODULE, source.replace(
            f'XLWINGS_VERSION As String = "{xlsm.xlwings_version()}"', 'XLWINGS_VERSION As String = "0.30.0"'))
        wb.save()
    checks = doctor.run_doctor(other)
    vba = _by_key(checks)["vba"][0]
    assert vba.status == "error" and "0.30.0" in vba.message
    assert doctor.exit_code(checks) == 1


def test_a_missing_interpreter_on_windows_is_an_error(built, defs):
    wb = openpyxl.load_workbook(built, keep_vba=True)
    wb[xlsm.conf_sheet_name(defs)]["B1"] = r"C:\Python311\python.exe"
    wb.save(built)
    checks = _by_key(doctor.run_doctor(built, platform="win32"))
    assert checks["interpreter"][0].status == "error"
    assert r"C:\Python311\python.exe" in checks["interpreter"][0].message
    # the buttons and the VBA survived the edit of the conf sheet
    assert xlsm.button_macros(built) == {b.caption: b.sub for b in xlsm.buttons(defs)}


def test_a_non_ascii_interpreter_path_is_a_warning(built, defs):
    wb = openpyxl.load_workbook(built, keep_vba=True)
    wb[xlsm.conf_sheet_name(defs)]["B1"] = r"C:\Users\Nguyễn\python.exe"
    wb.save(built)
    checks = _by_key(doctor.run_doctor(built, platform="linux"))
    assert checks["ascii"][0].status == "warning"


def test_a_workbook_in_onedrive_is_a_warning(tmp_path, sample):
    folder = tmp_path / "OneDrive - Công an xã"
    folder.mkdir()
    path = new_xlsm(folder / "SoTheoDoi_HongThuy.xlsm", *sample)
    checks = _by_key(doctor.run_doctor(path))
    assert checks["cloud"][0].status == "warning"
    assert checks["workbook_ascii"][0].status == "info"


def test_folders_from_the_settings_next_to_the_workbook(tmp_path, sample, defs):
    settings, tables = sample
    settings["inbox_dir"] = "Phiếu đã nhận"
    path = new_xlsm(tmp_path / "SoTheoDoi_HongThuy.xlsm", settings, tables)
    (tmp_path / "Phiếu đã nhận").mkdir()
    folders = {c.message.split(":")[0]: c.status for c in _by_key(doctor.run_doctor(path))["folder"]}
    assert folders[defs.setting("inbox_dir").label] == "ok"
    assert folders[defs.setting("outbox_dir").label] == "warning"


def test_the_only_xlsm_of_the_folder_is_found(built, monkeypatch):
    monkeypatch.chdir(built.parent)
    assert doctor.find_workbook() == built
    result = CliRunner().invoke(main, ["doctor"])
    assert f"[OK]  Sổ theo dõi: {built.resolve()}" in result.output.splitlines()
    (built.parent / "Khac.xlsm").write_bytes(b"")  # two workbooks: doctor does not guess
    assert doctor.find_workbook() is None


def test_a_damaged_sheet_part_behind_a_good_vba_project_is_one_line(built, tmp_path):
    import zipfile

    broken = tmp_path / "Hỏng một phần.xlsm"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "xl/workbook.xml" else data)
    checks = _by_key(doctor.run_doctor(broken))
    assert checks["vba"][0].status == "ok"
    assert checks["conf"][0].status == "error"
    assert checks["conf"][0].message.startswith("Không đọc được tệp Hỏng một phần.xlsm: ")


@pytest.mark.parametrize("content", ["damaged", "no_vba"])
def test_an_unreadable_vba_project_names_the_file(tmp_path, content):
    path = tmp_path / "Hỏng.xlsm"
    if content == "damaged":
        path.write_bytes(b"not a workbook")
    else:
        openpyxl.Workbook().save(path)  # a plain workbook renamed .xlsm: no VBA project
    vba = _by_key(doctor.run_doctor(path))["vba"]
    assert [c.status for c in vba] == ["error"]
    assert vba[0].message.startswith("Không đọc được tệp Hỏng.xlsm: ")
    assert "{" not in vba[0].message


def test_the_xlwings_pin_for_this_python_without_packaging(monkeypatch):
    import sys

    # packaging is no dependency of xltools: without it the python_version markers still decide
    monkeypatch.setitem(sys.modules, "packaging", None)
    monkeypatch.setitem(sys.modules, "packaging.markers", None)
    assert doctor.pinned_xlwings() == xlsm.xlwings_version()  # the pin pip installed for this Python
    # both markers, in either order, decide by this Python's version
    pins = ['xlwings==9.1; python_version >= "3.11"', 'xlwings==9.0; python_version < "3.11"']
    wanted = "9.1" if sys.version_info[:2] >= (3, 11) else "9.0"
    for lines in (pins, pins[::-1]):
        monkeypatch.setattr(doctor, "requirements", lambda lines=lines: list(lines))
        assert doctor.pinned_xlwings() == wanted


@pytest.mark.parametrize("installed", [True, False])
def test_every_required_package_is_checked(monkeypatch, installed):
    if not installed:  # a source checkout: install_requires of setup.cfg
        def not_installed(name):
            raise doctor.importlib.metadata.PackageNotFoundError(name)

        monkeypatch.setattr(doctor.importlib.metadata, "requires", not_installed)
    checks = [c for c in doctor.package_checks() if c.key == "package"]
    names = [c.message.split()[0] for c in checks]
    assert {"xlwings", "pyOpenVBA", "pandas", "python-calamine", "defusedxml", "msoffcrypto-tool"} <= set(names)
    assert "pytest" not in names and len(names) == len(set(names))  # no test extras, xlwings once
    assert all(c.status == "ok" for c in checks)


ASR_POLICY = doctor.ASR_KEYS[0]
ASR_LOCAL = doctor.ASR_KEYS[1]


def _registry(values):
    return lambda hive, key, name: values.get((hive, key, name))


@pytest.mark.parametrize(("state", "status"), [("1", "error"), ("6", "warning"), ("2", "info"), ("0", "ok"),
                                               (None, "ok")])
def test_the_defender_rule_that_stops_excel_starting_python(state, status):
    values = {} if state is None else {("HKLM", ASR_LOCAL, doctor.ASR_CHILD_PROCESSES): state}
    asr = _by_key(doctor.policy_checks("win32", _registry(values)))["asr"][0]
    assert asr.status == status
    if status == "error":
        assert "python.exe" in asr.message and "shortcuts" in asr.message and doctor.ASR_CHILD_PROCESSES in asr.message


def test_the_group_policy_setting_of_the_rule_comes_before_the_local_one():
    values = {("HKLM", ASR_POLICY, doctor.ASR_CHILD_PROCESSES): "1", ("HKLM", ASR_LOCAL, doctor.ASR_CHILD_PROCESSES): "0"}
    assert _by_key(doctor.policy_checks("win32", _registry(values)))["asr"][0].status == "error"
    assert doctor.policy_checks("linux", _registry(values)) == []  # no registry to read elsewhere


def test_excel_macro_policy_is_read_where_it_can_be():
    policy, user = doctor.EXCEL_SECURITY_KEYS
    checks = _by_key(doctor.policy_checks("win32", _registry({
        ("HKCU", policy, "VBAWarnings"): "4", ("HKCU", user, "VBAWarnings"): "1",
        ("HKCU", user, "blockcontentexecutionfrominternet"): "1",
        ("HKCU", policy + "\\Trusted Locations", "AllLocationsDisabled"): "1"})))
    assert checks["macros"][0].status == "warning" and "= 4" in checks["macros"][0].message
    assert "addin install" in checks["macros"][0].message  # the add-in in XLSTART still runs
    assert checks["trusted_locations"][0].status == "error"
    assert checks["internet_macros"][0].status == "info"
    plain = _by_key(doctor.policy_checks("win32", _registry({})))
    assert plain["macros"][0].status == "ok" and "trusted_locations" not in plain


def test_the_installed_add_in_and_its_temp_folder_are_checked(tmp_path):
    from xltools.io.addin import ADDIN_NAME, install_addin

    appdata = tmp_path / "AppData" / "Roaming"
    environ = {"APPDATA": str(appdata), "TEMP": r"C:\Users\Nguyễn\AppData\Local\Temp"}
    missing = _by_key(doctor.addin_checks("win32", environ))["addin"][0]
    assert missing.status == "info" and "addin install" in missing.message
    install_addin(appdata / "Microsoft" / "Excel" / "XLSTART", platform="win32")
    checks = _by_key(doctor.addin_checks("win32", environ))
    assert checks["addin"][0].status == "ok" and ADDIN_NAME in checks["addin"][0].message
    assert checks["interpreter"][0].status == "ok"  # the Python that installed it
    assert checks["import"][0].status == "ok"
    # its conf has no TEMP DIR (built where TEMP is plain) but this user's TEMP is Vietnamese
    assert checks["temp"][0].status == "warning" and "TEMP DIR" in checks["temp"][0].message
    assert "temp" not in _by_key(doctor.addin_checks("win32", {**environ, "TEMP": r"C:\T"}))


def test_a_workbook_opened_from_an_attachment_or_a_zip_is_a_warning(tmp_path, sample):
    for folder in (tmp_path / "AppData" / "Local" / "Microsoft" / "Windows" / "INetCache" / "Content.Outlook" / "X1",
                   tmp_path / "Temp1_BC138.zip" / "BC138"):
        folder.mkdir(parents=True)
        path = new_xlsm(folder / "SoTheoDoi_HongThuy.xlsm", *sample)
        assert _by_key(doctor.run_doctor(path))["transient"][0].status == "warning"
    assert "transient" not in _by_key(doctor.location_checks(tmp_path / "D" / "So.xlsm", "win32"))


def test_doctor_says_which_mode_the_buttons_run_in(built, defs):
    # as built: a new Python per click
    assert _by_key(doctor.run_doctor(built, platform="linux"))["udf_server"][0].status == "ok"
    wb = openpyxl.load_workbook(built, keep_vba=True)
    ws = wb[xlsm.conf_sheet_name(defs)]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Use UDF Server")
    ws.cell(row, 2).value = "True"
    wb.save(built)
    check = _by_key(doctor.run_doctor(built, platform="linux"))["udf_server"][0]
    assert check.status == "warning" and "False" in check.message
