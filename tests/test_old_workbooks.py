"""Workbooks outlive versions (issue 11): an old workbook keeps working after an indicator is added
to the definitions, old and new submissions roll up together, and a workbook made by a newer
toolkit is refused in one line with nothing written."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from xltools import export, import_reports, make_forms, rollup, validate
from xltools.cli import main
from xltools.core.definitions import get_definitions
from xltools.core.errors import WorkbookError
from xltools.core.sample import generated_communes
from xltools.io.forms import fill_form
from xltools.io.reader import read_workbook
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, sample_commune

NEW = "school_talks"
NEW_HEADER = "Nói chuyện ở trường"
PERIOD = "2023-12"


@pytest.fixture
def old_book(tmp_path, own_definitions, monkeypatch) -> Path:
    """A workbook built with the packaged definitions; then one int indicator is appended to the
    definitions in use (a copy of workbook/ through XLTOOLS_DEFINITIONS)."""
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    packaged = get_definitions()
    settings, tables = sample_commune(defs=packaged)
    tables["reports"] = tables["reports"][tables["reports"]["period"] != "2024-01"]
    path = new(tmp_path / "SoTheoDoi_Cu.xlsx", settings, tables, defs=packaged)
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(own_definitions.folder))
    own_definitions.add_indicator(NEW, NEW_HEADER)
    assert NEW in [i.key for i in get_definitions().indicators]
    return path


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_new_indicator_reads_as_not_reported_in_every_row(old_book):
    book = read_workbook(old_book)  # strict: no missing-column error
    assert book.structure == []
    for key in ("reports", "history"):
        frame = book.tables[key]
        assert NEW in frame and frame[NEW].isna().all() and str(frame[NEW].dtype) == "Int64"
    assert len(book.tables["reports"]) > 0
    assert {(p.sheet, p.column) for p in book.outdated} == {("Báo cáo thôn", NEW_HEADER), ("Lịch sử", NEW_HEADER)}
    # the old indicators keep their values
    assert book.tables["reports"]["team_meetings"].notna().all()


@pytest.mark.slow
def test_validate_gives_one_warning_that_says_to_upgrade(old_book):
    report = validate(old_book)
    upgrade = [i for i in report.issues if i.rule == "structure-upgrade-needed"]
    assert len(upgrade) == 1
    assert upgrade[0].severity == "warning"
    assert "xltools upgrade" in upgrade[0].message and NEW_HEADER in upgrade[0].message
    assert not [i for i in report.issues if i.rule.startswith("structure-missing")]
    assert not [i for i in report.issues if i.header == NEW_HEADER and i.rule != "structure-upgrade-needed"]
    result = _run("validate", old_book, "--write")
    assert "[structure-upgrade-needed]" in result.output
    assert "structure-missing-column" not in result.output


def test_a_missing_column_present_since_1_0_stays_an_error(old_book, tmp_path):
    damaged = tmp_path / "SoTheoDoi_Hong.xlsx"
    wb = openpyxl.load_workbook(old_book)
    ws = wb["Báo cáo thôn"]
    headers = {c.value: c for c in ws[1]}
    note = get_definitions().sheet("reports").column("period").header
    headers[note].value = "Cột lạ"
    wb.save(damaged)
    with pytest.raises(WorkbookError) as exc:
        read_workbook(damaged)
    assert exc.value.key == "missing_column"
    report = validate(damaged)
    missing = [i for i in report.issues if i.rule == "structure-missing-column"]
    assert [i.header for i in missing] == [note] and missing[0].severity == "error"
    # the indicator column missing because it is new is still only the warning
    assert len([i for i in report.issues if i.rule == "structure-upgrade-needed"]) == 1


@pytest.mark.slow
def test_import_aggregate_and_export_work_on_the_old_workbook(old_book, tmp_path):
    defs = get_definitions()
    forms = make_forms(old_book, "2024-01", tmp_path / "inbox")
    assert forms
    for n, form in enumerate(forms):
        values = {i.key: n + 1 for i in defs.numeric_indicators}
        values.update(reporter="Hồ Văn A", report_date=dt.datetime(2024, 1, 10))
        fill_form(form, values)
    summary = import_reports(old_book, [tmp_path / "inbox"])
    assert [f.status for f in summary.files] == ["accepted"] * len(forms), [f.reasons for f in summary.files]
    reports = read_workbook(old_book).tables["reports"]
    january = reports[reports["period"] == "2024-01"]
    assert len(january) == len(forms)
    assert sorted(january["team_meetings"]) == list(range(1, len(forms) + 1))
    assert january[NEW].isna().all()  # the workbook has no column for it yet: not reported, not 0
    label = defs.indicator(NEW).label  # and the officer is told that those values wait for the upgrade
    assert all(any(label in w and "xltools upgrade" in w for w in f.warnings) for f in summary.files), \
        [f.warnings for f in summary.files]

    result = _run("aggregate", old_book, "--period", PERIOD, "--write", "--format", "json")
    assert result.exit_code == 0, result.output
    result = _run("export", old_book, "--period", PERIOD, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    [sub_path] = (tmp_path / "out").glob("*.xlsx")
    sub = read_submission(sub_path)
    assert NEW not in {r.key for r in sub.rows}  # not reported: no row, never a 0
    assert sub.totals()["team_meetings"] > 0


@pytest.mark.slow
def test_old_and_new_submissions_roll_up_and_the_old_unit_is_not_reported(old_book, tmp_path):
    old_sub = export(old_book, PERIOD, tmp_path / "out")
    settings, tables = generated_communes()[0]  # made with the new definitions
    assert NEW in tables["reports"]
    new_book = new(tmp_path / "SoTheoDoi_Moi.xlsx", settings, tables)
    new_sub = export(new_book, PERIOD, tmp_path / "out")
    new_total = read_submission(new_sub).totals()[NEW]

    result = rollup([old_sub, new_sub], PERIOD, tmp_path / "dist", unit_name="huyện A", unit_code="474")
    parts = result.aggregate.parts.set_index("code")
    old_code = read_submission(old_sub).unit_code
    new_code = read_submission(new_sub).unit_code
    assert pd.isna(parts.loc[old_code, NEW])  # never 0
    assert parts.loc[new_code, NEW] == new_total
    assert result.aggregate.total()[NEW] == new_total
    rolled = read_submission(result.path)
    rows = {(r.part_code, r.key): r.value for r in rolled.rows}
    assert (new_code, NEW) in rows and (old_code, NEW) not in rows
    assert rows[(old_code, "team_meetings")] == read_submission(old_sub).totals()["team_meetings"]
    # and one level further up
    again = rollup([result.path], PERIOD, tmp_path / "dist2", unit_name="tỉnh", unit_code="46")
    assert read_submission(again.path).totals()[NEW] == new_total


# ------------------------------------------------------------------ a newer toolkit's workbook
def _with_template_version(source: Path, target: Path, version: str) -> Path:
    wb = openpyxl.load_workbook(source)
    ws = wb[get_definitions().sheet("settings").name]
    for row in ws.iter_rows():
        if row[0].value == "template_version":
            row[2].value = version  # Mã, Nội dung, Giá trị
            break
    else:
        raise AssertionError("no template_version row")
    wb.save(target)
    return target


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _installed() -> tuple[int, int]:
    major, minor = get_definitions().version.split(".")[:2]
    return int(major), int(minor)


@pytest.mark.parametrize("step", ["minor", "major"])
@pytest.mark.slow
def test_a_workbook_of_a_newer_toolkit_is_refused_and_nothing_is_written(make_commune, tmp_path, step):
    expected = get_definitions().version
    major, minor = _installed()
    version = f"{major}.{minor + 1}" if step == "minor" else f"{major + 1}.0"
    (tmp_path / "work").mkdir()
    book = _with_template_version(make_commune(), tmp_path / "work" / "SoTheoDoi_Moi.xlsx", version)
    before = _digest(tmp_path / "work")
    for args in (["validate", book, "--write"], ["aggregate", book, "--period", PERIOD, "--write"],
                 ["export", book, "--period", PERIOD, "-o", tmp_path / "work" / "out"],
                 ["forms", book, "--period", "2024-01", "-o", tmp_path / "work" / "inbox"],
                 ["import", book, tmp_path / "work"]):
        result = _run(*args)
        assert result.exit_code != 0, (args[0], result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, (args[0], result.output)
        assert version in lines[0] and expected in lines[0] and "pip install -U xltools" in lines[0], lines[0]
        assert "Traceback" not in result.output
        assert _digest(tmp_path / "work") == before, args[0]  # no write, no backup, no output


@pytest.mark.parametrize("step", ["same", "patch", "older"])
def test_the_same_or_an_older_version_is_read(make_commune, tmp_path, step):
    major, minor = _installed()
    version = {"same": f"{major}.{minor}", "patch": f"{major}.{minor}.7", "older": f"{major - 1}.9"}[step]
    book = _with_template_version(make_commune(), tmp_path / "SoTheoDoi_X.xlsx", version)
    assert len(read_workbook(book).tables["reports"]) > 0
