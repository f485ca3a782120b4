"""`xltools upgrade` (issue 11): a workbook built with the previous definitions (the fixture copy of
workbook/ at 1.0, tests/fixtures/definitions_1.0) or before an indicator was added is brought to
the current definitions with every data cell kept, and then runs the whole monthly loop."""
from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import libreoffice_convert

from xltools import import_reports, make_forms, upgrade, validate
from xltools.cli import main
from xltools.core.definitions import get_definitions
from xltools.core.errors import DefinitionsError
from xltools.core.text import header_key
from xltools.core.upgrade import change_log, version_tuple
from xltools.io.forms import fill_form
from xltools.io.reader import read_workbook
from xltools.io.sink import package_inventory
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, new_xlsm, sample_commune

PREVIOUS = Path(__file__).parent / "fixtures" / "definitions_1.0"
NEW = "school_talks"
NEW_HEADER = "Nói chuyện ở trường"
PERIOD = "2023-12"


def _run(*args: Any):
    return CliRunner().invoke(main, [str(a) for a in args])


def _build(path: Path, folder: Path | None = None) -> Path:
    """The sample commune built with the definitions of ``folder`` (default: the packaged ones)."""
    defs = get_definitions(folder) if folder else get_definitions()
    settings, tables = sample_commune(defs=defs)
    known = {s.key for s in defs.settings}
    make = new_xlsm if path.suffix == ".xlsm" else new
    return make(path, {k: v for k, v in settings.items() if k in known}, tables, defs=defs)


@pytest.fixture
def previous(tmp_path, monkeypatch) -> Path:
    """A workbook made with the previous definitions version (1.0)."""
    monkeypatch.delenv("XLTOOLS_DEFINITIONS", raising=False)
    (tmp_path / "work").mkdir()
    return _build(tmp_path / "work" / "SoTheoDoi_Cu.xlsx", PREVIOUS)


def cells(path: Path) -> dict[tuple[str, int, str], Any]:
    """Every non-empty cell of the workbook by (sheet, row, column): a column of a table sheet is
    named by its header, so a cell is found again after columns were inserted to its left."""
    wb = openpyxl.load_workbook(path)
    out: dict[tuple[str, int, str], Any] = {}
    for ws in wb.worksheets:
        heads: dict[int, str] = {}
        if ws.tables:
            first = openpyxl.utils.range_boundaries(next(iter(ws.tables.values())).ref)[1] or 1
            heads = {c.column: str(c.value) for c in ws[first] if c.value is not None}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    out[(ws.title, cell.row, heads.get(cell.column, cell.column_letter))] = cell.value
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _changed(before: dict, after: dict) -> dict:
    return {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}



def _allowed(path: Path, defs) -> set[tuple[str, int, str]]:
    """The cells an upgrade changes by design: template_version (Cấu hình and the dashboard) and
    the dashboard's last action."""
    book = read_workbook(path, defs, strict=False)
    settings = defs.sheet("settings")
    value = settings.column("value").header
    dash = defs.sheet("dashboard")
    fields = {f.key: f.cell for f in dash.fields}
    return {(settings.name, book.settings_rows["template_version"], value),
            (dash.name, int(fields["template_version"][1:]), fields["template_version"][0]),
            (dash.name, int(fields["last_action"][1:]), fields["last_action"][0])}


# ---------------------------------------------------------------------------- the change log
def test_the_change_log_is_typed_and_its_newest_version_is_the_definitions():
    defs = get_definitions()
    releases = change_log(defs)
    assert releases[0].version == defs.version
    assert [r.version for r in releases] == sorted((r.version for r in releases), key=version_tuple, reverse=True)
    old = get_definitions(PREVIOUS)
    assert old.version in [r.version for r in releases[1:]]  # the fixture is an earlier release (1.0)
    since = [r for r in releases if version_tuple(r.version) > version_tuple(old.version)]
    added = {(c.kind, c.key) for r in since for c in r.added}
    keys = {s.key for s in defs.settings}
    old_keys = {s.key for s in old.settings}
    # what the log says the releases since the fixture added is exactly what the fixture lacks
    assert {k for kind, k in added if kind == "setting"} == keys - old_keys
    assert {k for kind, k in added if kind == "sheet"} == \
        {s.key for s in defs.sheets} - {s.key for s in old.sheets}
    assert {k for kind, k in added if kind == "indicator"} == \
        {i.key for i in defs.indicators} - {i.key for i in old.indicators}
    # 1.1: the plan's number and date, the directions, the register of documents sent
    first = next(r for r in releases if r.version == "1.1")
    assert {(c.kind, c.key) for c in first.added} == {("setting", "plan_number"), ("setting", "plan_date"),
                                                      ("setting", "report_directions"), ("sheet", "register")}
    # 1.2: what the plan's section II asks that 1.1 did not capture
    second = next(r for r in releases if r.version == "1.2")
    assert {k for kind, k in {(c.kind, c.key) for c in second.added} if kind == "indicator"} == \
        {"mass_media", "launch_attendance", "board_inspections", "alarm_needed", "alarm_installed"}
    # 1.3: the level above's answers (issue 13)
    assert {(c.kind, c.key) for c in releases[0].added} == {("sheet", "feedback"), ("setting", "feedback_dir")}


def test_a_mistyped_change_log_entry_is_one_definitions_error(own_definitions):
    own_definitions.replace("changes.toml", '{ kind = "setting", key = "plan_number" }',
                            '{ kind = "setting", kee = "plan_number" }')
    with pytest.raises(DefinitionsError, match="kee"):
        change_log(get_definitions())


# ---------------------------------------------------------------------------- from the previous version
@pytest.mark.slow
def test_upgrade_from_the_previous_version_keeps_every_cell(previous):
    defs = get_definitions()
    original = previous.read_bytes()
    before = cells(previous)
    result = upgrade(previous)
    assert result.written and result.plan.found_version == "1.0" and result.plan.version == defs.version
    after = cells(previous)
    assert _changed(before, after).keys() <= _allowed(previous, defs), _changed(before, after)
    assert len(before) > 1500  # the sample's villages, board, teams, a year of reports, milestones, budget

    book = read_workbook(previous, defs)  # strict: no structure problem left
    assert book.structure == [] and book.outdated == []
    assert book.raw_settings["template_version"] == defs.version
    for key in ("plan_number", "plan_date", "report_directions"):
        assert key in book.settings_rows and book.settings[key] in (None, "")
    wb = openpyxl.load_workbook(previous)
    register = defs.sheet("register")
    ws = wb[register.name]
    assert register.table in ws.tables and [c.value for c in ws[1]] == [c.header for c in register.columns]
    assert wb.sheetnames.index(register.name) == wb.sheetnames.index(defs.sheet("history").name) + 1
    dash = defs.sheet("dashboard")
    cell = next(f.cell for f in dash.fields if f.key == "template_version")
    assert wb[dash.name][cell].value == defs.version

    log = book.tables["log"]
    row = log.iloc[-1]
    assert row["action"] == "Cập nhật sổ" and row["file"] == previous.name
    for line in result.plan.lines():
        assert line in row["detail"]
    assert "1.0" in row["detail"] and defs.version in row["detail"]

    assert result.backup is not None and result.backup.parent.name == "Sao_luu"
    assert result.backup.read_bytes() == original

    report = validate(previous)
    assert not [i for i in report.issues if i.rule.startswith("structure")], \
        [(i.rule, i.message) for i in report.issues if i.rule.startswith("structure")]
    again = upgrade(previous)  # up to date: nothing planned, nothing written
    assert again.plan.empty and not again.written


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_writes_nothing(previous):
    folder = previous.parent
    before = _digest(folder)
    result = _run("upgrade", previous, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Sổ văn bản đi" in result.output and "plan_number" in result.output and "--dry-run" in result.output
    assert _digest(folder) == before
    as_json = _run("upgrade", previous, "--dry-run", "--format", "json")
    assert as_json.exit_code == 0 and '"add_setting"' in as_json.output
    assert _digest(folder) == before
    done = _run("upgrade", previous)
    assert done.exit_code == 0 and "Sao_luu" in done.output, done.output
    assert _digest(folder) != before


@pytest.mark.slow
def test_the_whole_loop_runs_on_the_upgraded_workbook(previous, tmp_path):
    upgrade(previous)
    defs = get_definitions()
    forms = make_forms(previous, "2024-01", tmp_path / "inbox")
    for n, form in enumerate(forms):
        values = {i.key: n + 1 for i in defs.numeric_indicators}
        values.update(reporter="Hồ Văn A", report_date=dt.datetime(2024, 1, 10))
        fill_form(form, values)
    summary = import_reports(previous, [tmp_path / "inbox"])
    assert [f.status for f in summary.files] == ["accepted"] * len(forms), [f.reasons for f in summary.files]
    result = _run("validate", previous, "--write")
    assert "[structure-" not in result.output, result.output
    result = _run("aggregate", previous, "--period", PERIOD, "--write")
    assert result.exit_code == 0, result.output
    result = _run("export", previous, "--period", PERIOD, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    [sub] = (tmp_path / "out").glob("*.xlsx")
    assert read_submission(sub).info["definitions_version"] == defs.version
    register = read_workbook(previous, defs).tables["register"]  # the export was registered in the new sheet
    assert len(register) == 1


# ---------------------------------------------------------------------------- a province adds an indicator
@pytest.mark.slow
def test_an_indicator_added_in_a_copy_of_the_definitions_is_added_to_an_existing_workbook(
        tmp_path, own_definitions, monkeypatch):
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    book = _build(tmp_path / "SoTheoDoi_X.xlsx")
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(own_definitions.folder))
    own_definitions.add_indicator(NEW, NEW_HEADER)
    defs = get_definitions()
    before = cells(book)
    result = upgrade(book)
    assert [(s.action, s.name) for s in result.plan.steps] == [("add_column", NEW_HEADER)] * 2
    after = cells(book)
    assert _changed(before, after).keys() <= _allowed(book, defs), _changed(before, after)

    wb = openpyxl.load_workbook(book)
    for key in ("reports", "history"):
        sheet = defs.sheet(key)
        ws = wb[sheet.name]
        table = ws.tables[sheet.table]
        heads = [c.value for c in ws[1]]
        assert heads == [c.header for c in sheet.columns]  # at its defined place: after the last indicator
        assert [c.name for c in table.tableColumns] == heads
        assert openpyxl.utils.range_boundaries(table.ref)[2] == len(heads)
        letter = openpyxl.utils.get_column_letter(heads.index(NEW_HEADER) + 1)
        checks = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref).startswith(f"{letter}2:")]
        assert [(dv.type, dv.operator, dv.formula1) for dv in checks] == [("whole", "greaterThanOrEqual", "0")]
        assert ws[f"{letter}2"].number_format == "#,##0" and ws[f"{letter}2"].value is None
        # the village-code dropdown moved with its column
        code = openpyxl.utils.get_column_letter(heads.index(sheet.column("village_code").header) + 1)
        assert any(str(dv.sqref).startswith(f"{code}2:") and dv.formula1 == "ds_village_codes"
                   for dv in ws.data_validations.dataValidation)

    read = read_workbook(book, defs)
    assert read.outdated == [] and read.tables["reports"][NEW].isna().all()  # not reported, never 0
    assert not [i for i in validate(book).issues if i.rule == "structure-upgrade-needed"]
    forms = make_forms(book, "2024-01", tmp_path / "inbox")
    fill_form(forms[0], {**{i.key: 2 for i in defs.numeric_indicators}, "reporter": "A",
                         "report_date": dt.datetime(2024, 1, 10)})
    summary = import_reports(book, [forms[0]])
    assert summary.files[0].status == "accepted"
    assert not [w for w in summary.files[0].warnings if "xltools upgrade" in w]  # the value has its column now
    reports = read_workbook(book, defs).tables["reports"]
    assert reports[reports["period"] == "2024-01"][NEW].tolist() == [2]


@pytest.mark.slow
def test_renamed_and_removed_entries_of_the_change_log(tmp_path, own_definitions, monkeypatch):
    """A header and a sheet renamed ("formerly …"), a column removed: renamed in place (the
    dropdowns' names follow the sheet), the removed column kept with a note."""
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    book = _build(tmp_path / "SoTheoDoi_R.xlsx")
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(own_definitions.folder))
    own_definitions.replace("workbook.toml", 'version = "1.3"', 'version = "1.4"')
    own_definitions.replace("workbook.toml", 'name = "Thôn"\n', 'name = "Danh sách thôn"\n')
    own_definitions.replace("workbook.toml", 'header = "Tên nhóm Zalo của thôn"', 'header = "Nhóm Zalo"')
    own_definitions.replace("workbook.toml", '  { key = "note", header = "Ghi chú", type = "text", max_length = 500, '
                            'width = 30 },\n]\n\n# ---------------------------------------------------------------- '
                            'milestones', ']\n\n# ---------------------------------------------------------------- '
                            'milestones')
    own_definitions.replace("changes.toml", "[[version]]\nversion = \"1.3\"", '''[[version]]
version = "1.4"
date = "2027-01-01"
summary = "Đổi tên"
added = []
renamed = [
  { kind = "sheet", key = "villages", formerly = "Thôn" },
  { kind = "column", sheet = "villages", key = "zalo_group", formerly = "Tên nhóm Zalo của thôn" },
]
removed = [{ kind = "column", sheet = "situation", name = "Ghi chú" }]

[[version]]
version = "1.3"''')
    defs = get_definitions()
    before = read_workbook(book, get_definitions(Path(__file__).parents[1] / "workbook"))
    result = upgrade(book)
    assert [s.action for s in result.plan.steps] == ["rename_sheet", "rename_column", "retire_column", "version"]
    wb = openpyxl.load_workbook(book)
    assert "Danh sách thôn" in wb.sheetnames and "Thôn" not in wb.sheetnames
    assert wb.defined_names["ds_village_codes"].attr_text.startswith("'Danh sách thôn'!$A$2")
    heads = [c.value for c in wb["Danh sách thôn"][1]]
    assert "Nhóm Zalo" in heads and "Tên nhóm Zalo của thôn" not in heads
    situation = wb[defs.sheet("situation").name]
    note = next(c for c in situation[1] if c.value == "Ghi chú")
    assert note.comment is not None and "1.4" in note.comment.text
    after = read_workbook(book, defs)
    assert after.tables["villages"]["zalo_group"].tolist() == before.tables["villages"]["zalo_group"].tolist()
    assert after.tables["villages"]["code"].tolist() == before.tables["villages"]["code"].tolist()
    assert not [i for i in validate(book).issues if i.rule.startswith("structure")]


@pytest.mark.slow
def test_an_xlsm_keeps_its_vba_project(tmp_path, monkeypatch):
    monkeypatch.delenv("XLTOOLS_DEFINITIONS", raising=False)
    book = _build(tmp_path / "SoTheoDoi_Nut.xlsm", PREVIOUS)
    with zipfile.ZipFile(book) as z:
        vba = z.read("xl/vbaProject.bin")
    parts = package_inventory(book)
    sheets = openpyxl.load_workbook(book, keep_vba=True).sheetnames
    assert upgrade(book).written
    with zipfile.ZipFile(book) as z:
        assert z.read("xl/vbaProject.bin") == vba
    after = package_inventory(book)
    assert all(after[k] >= n for k, n in parts.items()), (parts, after)  # buttons, drawings, names kept
    assert set(sheets) < set(openpyxl.load_workbook(book, keep_vba=True).sheetnames)  # xlwings.conf too
    assert read_workbook(book).raw_settings["template_version"] == get_definitions().version


def test_a_newer_workbook_is_refused_and_nothing_is_written(make_commune, tmp_path):
    path = make_commune()
    wb = openpyxl.load_workbook(path)
    ws = wb[get_definitions().sheet("settings").name]
    for row in ws.iter_rows():
        if row[0].value == "template_version":
            row[2].value = "9.0"
    wb.save(path)
    before = _digest(path.parent)
    result = _run("upgrade", path)
    assert result.exit_code != 0 and "9.0" in result.output and "Traceback" not in result.output
    assert _digest(path.parent) == before


# ---------------------------------------------------------------------------- after LibreOffice
@pytest.mark.libreoffice
def test_a_workbook_saved_by_libreoffice_keeps_its_data_through_the_upgrade(tmp_path, own_definitions, monkeypatch):
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    made = _build(tmp_path / "made" / "SoTheoDoi_LO.xlsx", PREVIOUS)
    [saved] = libreoffice_convert([made], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(own_definitions.folder))
    own_definitions.add_indicator(NEW, NEW_HEADER)
    defs = get_definitions()
    old = read_workbook(saved, get_definitions(PREVIOUS))
    before = cells(saved)
    result = upgrade(saved)
    assert {s.action for s in result.plan.steps} >= {"add_column", "add_sheet", "add_setting", "version"}
    assert _changed(before, cells(saved)).keys() <= _allowed(saved, defs)
    new_book = read_workbook(saved, defs)
    assert new_book.structure == [] and new_book.outdated == []
    for key, frame in old.tables.items():
        if key in ("log", "settings"):  # a row added to each (compared cell by cell above)
            continue
        kept = new_book.tables[key][[c for c in frame.columns if not c.startswith("_")]]
        assert kept.astype(str).values.tolist() == frame[kept.columns].astype(str).values.tolist(), key
    assert {header_key(h) for h in [c.value for c in openpyxl.load_workbook(saved)["Báo cáo thôn"][1]]} >= \
        {header_key(NEW_HEADER)}


@pytest.mark.slow
def test_a_new_list_and_a_new_list_value_reach_the_dropdowns(tmp_path, own_definitions, monkeypatch):
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    book = _build(tmp_path / "SoTheoDoi_L.xlsx")
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(own_definitions.folder))
    own_definitions.replace("lists.toml", '"Doanh nghiệp", "Khác"]', '"Doanh nghiệp", "Khác", "Quỹ phòng, chống tội phạm"]')
    own_definitions.append("lists.toml", '\n[meeting_kinds]\nlabel = "Hình thức họp"\nvalues = ["Trực tiếp", "Trực tuyến"]\n')
    result = upgrade(book)
    assert [(s.action, s.key) for s in result.plan.steps] == [("add_list_values", "budget_sources"),
                                                              ("add_list", "meeting_kinds")]
    wb = openpyxl.load_workbook(book)

    def values(name: str) -> list[str]:
        [(title, ref)] = list(wb.defined_names[name].destinations)
        return [c.value for row in wb[title][ref.replace("$", "")] for c in row]

    assert values("ds_budget_sources") == [*get_definitions().lists["budget_sources"].values]
    assert values("ds_meeting_kinds") == ["Trực tiếp", "Trực tuyến"]
    assert upgrade(book).plan.empty
