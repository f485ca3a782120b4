"""`xltools shortcuts`: command files that do what the buttons do, on the closed workbook (issue 15).

The files are read as cmd.exe reads them (UTF-8 after `chcp 65001`, `%%` for a literal %, double
quotes around each path) and the command line is run with the test Python, on a workbook whose
path has Vietnamese letters, spaces, `&`, an apostrophe and a percent sign."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xltools.cli import main
from xltools.core.definitions import get_definitions
from xltools.io.forms import fill_form, form_inputs
from xltools.io.reader import read_workbook
from xltools.io.shortcuts import write_shortcuts

HARD_NAME = "Sổ Hồng Thủy & A 'Lưới' 100%.xlsx"


def cmd_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # a BOM would be read as a command on the first line
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    lines = raw.decode("utf-8").split("\r\n")
    assert lines[0] == "@echo off" and lines[1] == "chcp 65001 >nul"  # ASCII up to the code page switch
    assert lines[-2] == "pause"  # the window stays open on the result
    return lines


def cmd_argv(line: str) -> list[str]:
    """Split a batch-file line as cmd.exe and the C runtime do for these lines: %% is %, double
    quotes group (no quote inside a path: Windows forbids it)."""
    line = line.replace("%%", "%")
    assert "%" not in re.sub(r'"[^"]*"', "", line)  # no variable expansion outside the quoted paths
    return [m[1] if m[1] is not None else m[2] for m in re.finditer(r'"([^"]*)"|(\S+)', line)]


def run_shortcut(path: Path) -> subprocess.CompletedProcess:
    lines = cmd_lines(path)
    [cd] = [x for x in lines if x.startswith("cd /d ")]
    [command] = [x for x in lines if " -m xltools " in x]
    folder = cmd_argv(cd)[2]
    return subprocess.run(cmd_argv(command), cwd=folder, capture_output=True, text=True, encoding="utf-8",
                          timeout=180)


def test_one_file_per_button_named_by_its_caption(make_commune, tmp_path):
    book = make_commune(HARD_NAME)
    files = write_shortcuts(tmp_path / "Lệnh", book, python=r"C:\Users\Nguyễn Văn A\Python311\python.exe")
    defs = get_definitions()
    shortcuts = defs.extra("buttons")["shortcut"]
    assert [f.name for f in files] == [f"{b.caption}.cmd" for b in defs.buttons] + [
        f"{s['caption']}.cmd" for s in shortcuts]
    assert "Cập nhật sổ.cmd" in [f.name for f in files]  # upgrade: only on the closed workbook
    lines = cmd_lines(files[0])
    argv = cmd_argv(lines[4])
    assert argv == [r"C:\Users\Nguyễn Văn A\Python311\python.exe", "-m", "xltools", "validate",
                    str(book.resolve()), "--write"]
    assert "100%%.xlsx" in lines[4]


def test_the_cli_writes_them_and_refuses_a_missing_workbook(make_commune, tmp_path):
    book = make_commune()
    res = CliRunner().invoke(main, ["shortcuts", str(tmp_path / "out"), "--workbook", str(book)])
    count = len(get_definitions().buttons) + len(get_definitions().extra("buttons").get("shortcut", []))
    assert res.exit_code == 0 and f"Đã tạo {count} tệp lệnh" in res.output
    res = CliRunner().invoke(main, ["shortcuts", str(tmp_path / "out2"), "--workbook", str(tmp_path / "khong.xlsx")])
    assert res.exit_code == 1 and res.output.startswith("Lỗi: Không tìm thấy sổ theo dõi")
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


@pytest.mark.slow
def test_the_monthly_loop_runs_from_the_shortcuts(make_commune, tmp_path):
    """Forms, import, aggregate, validate, export: each shortcut does on the closed workbook what its
    button does on the open one (the current period of Cấu hình, the inbox and outbox folders)."""
    book = make_commune(HARD_NAME, edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != "2023-12"]))
    files = {f.stem: f for f in write_shortcuts(tmp_path / "Lệnh", book, python=sys.executable)}
    defs = get_definitions()
    caption = {b.verb: b.caption for b in defs.buttons}

    made = run_shortcut(files[caption["make_forms"]])
    assert made.returncode == 0, made.stderr
    forms = sorted((book.parent / "Phieu_bao_cao_2023-12").glob("*.xlsx"))
    assert len(forms) == 9
    inbox = book.parent / "Phieu_nhan"
    inbox.mkdir()
    for form in forms:
        values = {i.key: 1 for i in form_inputs(defs) if i.type == "int"}
        fill_form(form, {**values, "reporter": "Lê Văn B"}, inbox / form.name)

    imported = run_shortcut(files[caption["import_reports"]])
    assert imported.returncode == 0, imported.stdout + imported.stderr
    reports = read_workbook(book).tables["reports"]
    assert (reports["period"] == "2023-12").sum() == 9

    assert run_shortcut(files[caption["aggregate"]]).returncode == 0
    validated = run_shortcut(files[caption["validate"]])
    assert validated.returncode in (0, 1), validated.stderr  # 1: the sample's planted errors
    wb = openpyxl.load_workbook(book, read_only=True)
    assert wb["Kiểm tra"].max_row > 1
    wb.close()
    exported = run_shortcut(files[caption["export"]])
    outbox = book.parent / "Bao_cao_gui"
    assert sorted(p.suffix for p in outbox.glob("BC138_*_2023-12.*")) == [".docx", ".xlsx"], \
        exported.stdout + exported.stderr
    shutil.rmtree(outbox)
    upgraded = run_shortcut(files["Cập nhật sổ"])  # already of these definitions: says so, writes nothing
    assert upgraded.returncode == 0 and book.name in upgraded.stdout, upgraded.stdout + upgraded.stderr


def test_the_dashboard_says_where_the_buttons_are(make_commune):
    """An .xlsx carries no buttons: its dashboard names the add-in's tab and the shortcuts."""
    ws = openpyxl.load_workbook(make_commune())["Bảng điều khiển"]
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "“BCĐ 138”" in text and "python -m xltools addin install" in text and "xltools shortcuts" in text
