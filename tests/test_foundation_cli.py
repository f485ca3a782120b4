"""The command line of the foundation: new, schema, demo, help texts, errors."""
from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from xltools.cli import main
from xltools.core.resources import resource_dir
from xltools.io.reader import read_workbook


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_speaks_vietnamese_first():
    for args in ([], ["export"], ["validate"]):
        output = run(*args, "--help").output
        assert "Xem hướng dẫn này." in output and "Show this message" in output.split("Xem hướng dẫn này.")[1]


def test_every_command_has_help_text():
    for name, command in main.commands.items():
        assert command.help and command.help.strip(), name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.name}"


def test_new_from_settings_and_csv_files(tmp_path):
    samples = resource_dir("samples")
    target = tmp_path / "Sổ xã.xlsx"  # Vietnamese file names work
    result = run("new", target, "--settings", samples / "commune.toml", "--villages", samples / "thon.csv",
                 "--board", samples / "ban_dieu_hanh.csv", "--teams", samples / "to_dieu_hanh.csv",
                 "--set", "bcd_head=Hồ Văn Thử")
    assert result.exit_code == 0, result.output
    book = read_workbook(target)
    assert len(book.tables["villages"]) == 10 and len(book.tables["teams"]) > 9
    assert book.settings["bcd_head"] == "Hồ Văn Thử" and book.settings["commune_code"] == "20041"


def test_new_refuses_an_existing_file_with_one_line(tmp_path):
    target = tmp_path / "x.xlsx"
    assert run("new", target, "--set", "commune_code=12345").exit_code == 0
    result = run("new", target)
    assert result.exit_code == 1
    assert result.output.startswith("Lỗi: Tệp ") and "--overwrite" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert run("new", target, "--overwrite").exit_code == 0


def test_new_rejects_a_bad_setting(tmp_path):
    result = run("new", tmp_path / "x.xlsx", "--set", "commune_code=12")
    assert result.exit_code == 1 and "commune_code" in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_schema_markdown_and_json(defs):
    md = run("schema").output
    for sheet in defs.sheets:
        assert sheet.name in md
    for ind in defs.indicators:
        assert f"`{ind.key}`" in md
    data = json.loads(run("schema", "--format", "json").output)
    assert data["version"] == defs.version
    assert [i["key"] for i in data["indicators"]] == [i.key for i in defs.indicators]
    assert data["lists"]["board_roles"] == list(defs.lists["board_roles"].values)


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_demo_builds_the_sample_workbook(demo):
    assert demo.exit_code == 0, demo.output
    workbooks = list(demo.folder.glob("SoTheoDoi_HongThuy.xlsx"))
    assert workbooks and str(workbooks[0]) in demo.output
    book = read_workbook(workbooks[0], strict=False)
    reports = book.tables["reports"]
    assert set(reports["period"].str[:4]) == {"2023"} and reports["period"].nunique() == 12
    import openpyxl

    summary = openpyxl.load_workbook(workbooks[0])[book.defs.sheet("summary").name]
    assert "QUÝ IV NĂM 2023" in str(summary["A1"].value)  # the demo fills Tổng hợp


def test_usage_errors_are_vietnamese_first_with_exit_2(tmp_path):
    cases = [
        (["export"], "Lỗi: thiếu WORKBOOK; xem “main export --help”. (Missing argument 'WORKBOOK'.)"),
        (["schema", "--bogus"], "Lỗi: không có tùy chọn --bogus;"),
        (["schema", "--format", "xml"], "Lỗi: giá trị của --format không hợp lệ;"),
        (["rollup", str(tmp_path), "-o", str(tmp_path), "--period", "2023-12"], "Lỗi: thiếu tùy chọn --unit-name;"),
        (["khong-co"], "Lỗi: lệnh gõ chưa đúng;"),
    ]
    for args, start in cases:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, args
        assert result.output.startswith(start), result.output
        assert len(result.output.strip().splitlines()) == 1
