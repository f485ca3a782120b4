"""Issue 13: the level above answers. Upstairs checks, decisions, feedback files, receive, the
resubmission diff and the lock of accepted periods, each with real files."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import libreoffice_convert, run_uno

from xltools import validate
from xltools.cli import main
from xltools.core.aggregation import DataRow
from xltools.core.sample import generated_communes
from xltools.core.upstairs import UnitFigures, check_unit
from xltools.io.reader import read_workbook
from xltools.io.review import read_feedback, review_words
from xltools.io.submission_reader import read_submission, submission_limits
from xltools.verbs.export import export
from xltools.verbs.feedback import feedback
from xltools.verbs.importing import import_reports
from xltools.verbs.new import new, sample_commune
from xltools.verbs.receive import receive
from xltools.verbs.rollup import rollup

PERIOD = "2023-12"


def _book(folder: Path, settings, tables) -> Path:
    return new(folder / f"SoTheoDoi_{settings['commune_code']}.xlsx", settings, tables)


@pytest.fixture(scope="module")
def _loop_files(tmp_path_factory):
    """Two communes exported for 2023-12, built once; the second has a village reporting more
    people reached than known and more Zalo households than the village has (errors the commune
    forced through)."""
    folder = tmp_path_factory.mktemp("loop")
    (s1, t1), (s2, t2) = sample_commune(), generated_communes()[0]
    reports = t2["reports"]
    row = (reports["village_code"] == "02") & (reports["period"] == PERIOD)
    reports.loc[row, "drug_people_known"] = 1
    reports.loc[row, "drug_people_reached"] = 4
    reports.loc[row, "zalo_households"] = 9999
    books = [_book(folder, s1, t1), _book(folder, s2, t2)]
    inbox = folder / "district_inbox"
    export(books[0], PERIOD, inbox)
    export(books[1], PERIOD, inbox, force=True)
    return folder, [s1["commune_code"], s2["commune_code"]]


@pytest.fixture
def loop(_loop_files, tmp_path):
    """A copy of the two communes' workbooks and the district's inbox for one test."""
    source, codes = _loop_files
    folder = tmp_path / "loop"
    shutil.copytree(source, folder)
    inbox = folder / "district_inbox"
    return {"books": [folder / f"SoTheoDoi_{c}.xlsx" for c in codes],
            "files": [inbox / f"BC138_{c}_{PERIOD}.xlsx" for c in codes], "inbox": inbox, "codes": codes,
            "tmp": tmp_path}


def _rollup(loop, **kwargs):
    return rollup([loop["inbox"]], PERIOD, loop["tmp"] / "dist", unit_name="huyện A Lưới", unit_code="474", **kwargs)


def _sheet(path: Path, name: str) -> list[tuple]:
    return list(openpyxl.load_workbook(path, read_only=True)[name].iter_rows(values_only=True))


# ------------------------------------------------------------------------------ 1. the same rules upstairs
@pytest.mark.slow
def test_rollup_checks_each_unit_with_the_communes_rule_ids_severities_and_messages(loop, defs):
    result = _rollup(loop)
    bad = loop["codes"][1]
    found = {(f.unit_code, f.rule, f.part_code): f for f in result.review.findings}
    reached = found[(bad, "plan-reached-le-known", "02")]
    zalo = found[(bad, "plan-zalo-households", "02")]
    assert reached.severity == zalo.severity == "error"
    # the message is the one commune validation gives for the same village and month
    own = {i.rule: i.message for i in validate(loop["books"][1], PERIOD).issues
           if i.rule in ("plan-reached-le-known", "plan-zalo-households") and "Thôn 02" in i.message}
    assert reached.message == own["plan-reached-le-known"]
    assert zalo.message == own["plan-zalo-households"]
    assert not [f for f in result.review.findings if f.unit_code == loop["codes"][0] and f.severity == "error"]
    checks = _sheet(result.path, review_words(defs)["checks_sheet"])
    assert any(row[4] == "plan-reached-le-known" and row[0] == bad and row[9] == reached.message for row in checks)
    data = result.as_dict()
    assert {"unit": bad, "rule": "plan-zalo-households", "severity": "error", "part": "02"}.items() <= \
        next(f for f in data["findings"] if f["rule"] == "plan-zalo-households").items()


def test_a_unit_with_errors_is_proposed_returned_and_the_clerk_has_the_last_word(loop, defs):
    good, bad = loop["codes"]
    proposed = {d.unit_code: d for d in _rollup(loop).review.decisions}
    assert proposed[bad].decision == "returned" and proposed[bad].errors == 2 and proposed[bad].proposed
    assert proposed[good].decision == "accepted"
    decided = {d.unit_code: d for d in _rollup(loop, returns={good: "Thiếu chữ ký"}, accepts=[bad]).review.decisions}
    assert (decided[good].decision, decided[good].reason) == ("returned", "Thiếu chữ ký")
    assert decided[bad].decision == "accepted" and not decided[bad].proposed
    w = review_words(defs)
    rows = _sheet(loop["tmp"] / "dist" / "BC138_474_2023-12.xlsx", w["decisions_sheet"])
    header = next(i for i, r in enumerate(rows) if r[0] == w["decisions_columns"][0])
    by_code = {r[0]: r for r in rows[header + 1:] if r[0]}
    assert by_code[good][8] == w["decision_words"]["returned"] and by_code[good][9] == "Thiếu chữ ký"
    assert by_code[bad][10] == hashlib.sha256(loop["files"][1].read_bytes()).hexdigest()


def test_rollup_return_option_on_the_command_line_and_an_unknown_code(loop):
    args = ["rollup", str(loop["inbox"]), "--period", PERIOD, "-o", str(loop["tmp"] / "dist"),
            "--unit-name", "huyện A Lưới", "--unit-code", "474"]
    ok = CliRunner().invoke(main, [*args, "--return", f"{loop['codes'][0]}=Số liệu chưa khớp", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    decisions = {d["unit"]: d for d in json.loads(ok.stdout)["decisions"]}
    assert decisions[loop["codes"][0]]["decision"] == "returned"
    bad = CliRunner().invoke(main, [*args, "--return", "99999=Không có"])
    assert bad.exit_code == 1 and "\nLỗi: Không có báo cáo nào của đơn vị mã “99999”" in bad.output
    no_reason = CliRunner().invoke(main, [*args, "--return", loop["codes"][0]])
    assert no_reason.exit_code == 2 and "--return" in no_reason.output


def test_an_outlier_is_judged_against_the_units_own_earlier_periods(defs):
    def unit(period: str, value: int) -> UnitFigures:
        rows = [DataRow("20041", period, "", "", "tips", "sum", value)]
        return UnitFigures("20041", "Hồng Thủy", period, rows)

    history = [unit(f"2023-{m:02d}", v) for m, v in zip(range(4, 12), (2, 3, 2, 4, 3, 2, 3, 2))]
    spike = check_unit(unit(PERIOD, 40), history, defs)
    assert [(f.rule, f.key, f.value) for f in spike] == [("report-outlier", "tips", 40)]
    assert "Hồng Thủy" in spike[0].message and "8 kỳ trước" in spike[0].message
    assert check_unit(unit(PERIOD, 3), history, defs) == []
    assert check_unit(unit(PERIOD, 40), history[:3], defs) == []  # too short a history is not judged
    assert check_unit(unit("2023-Q4", 40), history, defs) == []  # quarters are judged against quarters


@pytest.mark.slow
def test_earlier_rollups_in_the_folder_are_history_for_the_outliers(tmp_path, own_definitions):
    """The district's own rollups of earlier months, lying in the folder, give each unit's
    totals of those months (they are not rolled in: rejected as the unit's own output)."""
    from xltools.core.definitions import get_definitions

    own_definitions.replace("rules.toml", "min_history = 6", "min_history = 2")
    defs = get_definitions()
    settings, tables = sample_commune(defs=defs)
    reports = tables["reports"]
    reports.loc[reports["period"] == PERIOD, "tips"] = 0
    reports.loc[(reports["village_code"] == "01") & (reports["period"] == PERIOD), "tips"] = 60
    book = _book(tmp_path, settings, tables)
    folder = tmp_path / "district"
    for month in ("2023-10", "2023-11"):
        sub = export(book, month, tmp_path / "subs", force=True, defs=defs)
        rollup([sub], month, folder, unit_name="huyện A Lưới", unit_code="474", defs=defs)
    dec = export(book, PERIOD, folder, force=True, defs=defs)
    result = rollup([folder], PERIOD, tmp_path / "out", unit_name="huyện A Lưới", unit_code="474", defs=defs)
    assert [p.name for p, _ in result.rejected] == ["BC138_474_2023-10.xlsx", "BC138_474_2023-11.xlsx"]
    assert result.accepted == [dec]
    (outlier,) = [f for f in result.review.findings if f.rule == "report-outlier" and f.key == "tips"]
    assert outlier.value == 60 and outlier.part_code == "" and "tính trên 2 kỳ trước" in outlier.message


# ------------------------------------------------------------------------------ 2. feedback files
def test_feedback_writes_one_file_per_unit_with_decision_findings_and_sha(loop, defs):
    rolled = _rollup(loop)
    out = feedback(rolled.path, loop["tmp"] / "answers", decided_by="Lê Văn Tám")
    names = sorted(p.name for p, _ in out.written)
    assert names == sorted(f"PhanHoi_{c}_{PERIOD}.xlsx" for c in loop["codes"])
    bad = read_feedback(loop["tmp"] / "answers" / f"PhanHoi_{loop['codes'][1]}_{PERIOD}.xlsx", submission_limits(defs))
    assert bad.decision == "returned" and bad.get("decided_by") == "Lê Văn Tám"
    assert bad.get("from_unit_name") == "huyện A Lưới" and bad.get("unit_code") == loop["codes"][1]
    assert bad.get("submission_sha256") == hashlib.sha256(loop["files"][1].read_bytes()).hexdigest()
    assert {(f.rule, f.part_code, f.key) for f in bad.findings} >= {
        ("plan-reached-le-known", "02", "drug_people_reached"), ("plan-zalo-households", "02", "zalo_households")}


def test_a_feedback_file_edited_by_hand_is_refused(loop, defs, tmp_path):
    out = feedback(_rollup(loop).path, tmp_path / "answers")
    path = next(p for p, d in out.written if d.decision == "accepted")
    wb = openpyxl.load_workbook(path)
    ws = wb[review_words(defs)["feedback_info_sheet"]]
    row = next(r for r in ws.iter_rows() if r[0].value == "decision")
    row[2].value = "returned"
    wb.save(path)
    result = receive(loop["books"][0], [path])
    assert result.files[0].status == "rejected" and "đã bị sửa" in result.files[0].reason


# ------------------------------------------------------------------------------ 3. receive
@pytest.mark.slow
def test_a_returned_period_shows_on_the_dashboard_and_its_findings_at_their_cells(loop, defs):
    feedback(_rollup(loop).path, loop["tmp"] / "answers")
    book = loop["books"][1]
    result = receive(book, [loop["tmp"] / "answers"])  # the folder: PhanHoi_* files; the other commune's refused
    by_status = {r.status: r for r in result.files}
    assert by_status["received"].decision == "returned"
    assert "không phải xã của sổ này" in by_status["rejected"].reason
    wb = openpyxl.load_workbook(book)
    dashboard = wb[defs.sheet("dashboard").name]
    cell = next(f.cell for f in defs.sheet("dashboard").fields if f.key == "upper_feedback")
    assert dashboard[cell].value.startswith(f"{PERIOD}: bị trả lại: Số liệu có 2 lỗi")
    checks = [r for r in wb[defs.sheet("checks").name].iter_rows(values_only=True) if r[-1] == "feedback-returned"]
    reports = read_workbook(book, defs).tables["reports"]
    row = int(reports[(reports["village_code"] == "02") & (reports["period"] == PERIOD)]["_row"].iloc[0])
    letter = read_workbook(book, defs).letters["reports"]["drug_people_reached"]
    assert any(r[1] == defs.sheet("reports").name and r[2] == f"{letter}{row}" for r in checks), checks
    log = list(wb[defs.sheet("log").name].iter_rows(values_only=True))
    assert [r[1] for r in log[-2:]] == ["Nhận phản hồi", "Nhận phản hồi"]
    rows = len(read_workbook(book, defs).tables["feedback"])
    assert rows == 3  # the decision and its two findings
    again = receive(book, [loop["tmp"] / "answers" / f"PhanHoi_{loop['codes'][1]}_{PERIOD}.xlsx"])
    assert again.files[0].status == "unchanged"
    after = list(openpyxl.load_workbook(book)[defs.sheet("log").name].iter_rows(values_only=True))
    assert len(after) == len(log)  # a file received before is said, not logged again
    assert len(read_workbook(book, defs).tables["feedback"]) == rows  # nor added again


@pytest.mark.slow
def test_feedback_for_a_replaced_submission_is_refused(loop, tmp_path):
    out = feedback(_rollup(loop).path, tmp_path / "answers")
    first = next(p for p, d in out.written if d.unit_code == loop["codes"][0])
    resent = export(loop["books"][0], PERIOD, tmp_path / "again", new_number=True)  # a new submission
    assert resent.exists()
    result = receive(loop["books"][0], [first])
    assert result.files[0].status == "rejected"
    assert "đã được thay thế" in result.files[0].reason


@pytest.mark.slow
def test_a_workbook_made_before_the_feedback_sheet_is_told_to_upgrade_then_receives(loop, tmp_path, defs):
    """A 1.2 workbook (no Phản hồi cấp trên sheet, no dashboard line) gets one line saying to
    upgrade; `xltools upgrade` adds the sheet and the dashboard's label, then receive works."""
    book = loop["books"][0]
    wb = openpyxl.load_workbook(book)
    del wb[defs.sheet("feedback").name]
    dashboard = wb[defs.sheet("dashboard").name]
    field = next(f for f in defs.sheet("dashboard").fields if f.key == "upper_feedback")
    version = next(f for f in defs.sheet("dashboard").fields if f.key == "template_version")
    dashboard[f"B{dashboard[field.cell].row}"] = None
    dashboard[version.cell] = "1.2"
    settings = wb[defs.sheet("settings").name]
    next(r for r in settings.iter_rows() if r[0].value == "template_version")[2].value = "1.2"
    wb.save(book)
    feedback(_rollup(loop).path, tmp_path / "answers")
    answer = tmp_path / "answers" / f"PhanHoi_{loop['codes'][0]}_{PERIOD}.xlsx"
    result = CliRunner().invoke(main, ["receive", str(book), str(answer)])
    assert result.exit_code == 1 and "xltools upgrade" in result.output and "Traceback" not in result.output
    upgraded = CliRunner().invoke(main, ["upgrade", str(book)])
    assert upgraded.exit_code == 0 and defs.sheet("feedback").name in upgraded.output, upgraded.output
    received = CliRunner().invoke(main, ["receive", str(book), str(answer)])
    assert received.exit_code == 0, received.output
    dashboard = openpyxl.load_workbook(book)[defs.sheet("dashboard").name]
    assert dashboard[f"B{dashboard[field.cell].row}"].value == field.label
    assert dashboard[field.cell].value == f"{PERIOD}: cấp trên đã nhận"


# ------------------------------------------------------------------------------ 4. resubmission diff
@pytest.mark.slow
def test_a_resubmission_is_diffed_against_the_one_it_replaces(loop, tmp_path, defs):
    book = loop["books"][0]
    first = loop["files"][0]
    (tmp_path / "old").mkdir()
    shutil.copy2(first, tmp_path / "old" / first.name)
    frame = read_workbook(book, defs).tables["reports"]
    row = frame[(frame["village_code"] == "01") & (frame["period"] == PERIOD)].iloc[0]
    wb = openpyxl.load_workbook(book)
    letter = read_workbook(book, defs).letters["reports"]["tips"]
    old_value = int(row["tips"] or 0)
    wb[defs.sheet("reports").name][f"{letter}{int(row['_row'])}"] = old_value + 4
    wb.save(book)
    time.sleep(1.1)  # the newest is told by its creation time, to the second
    resent = export(book, PERIOD, tmp_path / "new")
    shutil.copy2(resent, loop["inbox"] / first.name.replace(".xlsx", " (2).xlsx"))
    result = _rollup(loop)
    assert result.superseded
    changes = {(c.part_code, c.key): (c.old, c.new) for c in result.review.changes if c.unit_code == loop["codes"][0]}
    assert changes[("01", "tips")] == (old_value, old_value + 4)
    total = changes[("", "tips")]
    assert total[1] - total[0] == 4
    decision = next(d for d in result.review.decisions if d.unit_code == loop["codes"][0])
    old_created = read_submission(tmp_path / "old" / first.name).created_at
    assert old_created is not None and decision.replaces == old_created.strftime("%d/%m/%Y %H:%M")
    rows = _sheet(result.path, review_words(defs)["changes_sheet"])
    assert any(r[2] == "01" and r[5] == old_value and r[6] == old_value + 4 and r[7] == 4 for r in rows if r[0])
    assert any(c["part"] == "01" and c["indicator"] == "tips" for c in result.as_dict()["changes"])
    out = feedback(result.path, tmp_path / "answers")
    fb = read_feedback(next(p for p, d in out.written if d.unit_code == loop["codes"][0]), submission_limits(defs))
    assert fb.get("replaces") == decision.replaces
    texts = [c for r in _sheet(fb.path, review_words(defs)["feedback_sheet"]) for c in r if isinstance(c, str)]
    assert f"Báo cáo này thay thế báo cáo ngày {decision.replaces}." in texts


# ------------------------------------------------------------------------------ 5. the lock
def _accepted(loop, tmp_path) -> Path:
    out = feedback(_rollup(loop, accepts=[loop["codes"][0]]).path, tmp_path / "answers")
    path = next(p for p, d in out.written if d.unit_code == loop["codes"][0])
    received = receive(loop["books"][0], [path]).files[0]
    assert received.decision == "accepted" and received.data_matches  # the workbook holds what was accepted
    return path


def _changed_form(book: Path, tmp_path: Path, village: str, key: str, delta: int, defs) -> Path:
    from xltools.core.frames import records
    from xltools.io.forms import fill_form
    from xltools.verbs.forms import make_forms

    forms = make_forms(book, PERIOD, tmp_path / "forms")
    form = next(f for f in forms if f.name.startswith(f"PhieuBaoCao_{village}_"))
    frame = read_workbook(book, defs).tables["reports"]
    row = records(frame[(frame["village_code"] == village) & (frame["period"] == PERIOD)])[0]
    return fill_form(form, {**row, key: int(row[key] or 0) + delta})


@pytest.mark.slow
def test_an_accepted_period_is_locked_against_a_changed_form_until_reopened(loop, tmp_path, defs):
    book = loop["books"][0]
    _accepted(loop, tmp_path)
    form = _changed_form(book, tmp_path, "01", "tips", 2, defs)
    refused = import_reports(book, [form], replace_manual=True)  # the sample's reports were typed in
    assert [f.file for f in refused.rejected] == [form.name]
    assert "đã được cấp trên chấp nhận" in refused.rejected[0].reasons[0]
    reopened = CliRunner().invoke(main, ["import", str(book), str(form), "--replace-manual", "--reopen"])
    assert reopened.exit_code == 0, reopened.output
    assert "Đã mở lại kỳ 2023-12" in reopened.output
    wb = openpyxl.load_workbook(book)
    log = [r for r in wb[defs.sheet("log").name].iter_rows(values_only=True)]
    assert any(r[1] == "Mở lại kỳ" and PERIOD in (r[5] or "") for r in log)
    assert not read_workbook(book, defs).tables["feedback"].empty
    from xltools.core.approval import locked_periods
    assert locked_periods(read_workbook(book, defs)) == {}


@pytest.mark.slow
def test_validation_flags_an_edit_of_an_accepted_period_and_receive_reopens_it(loop, tmp_path, defs):
    book = loop["books"][0]
    _accepted(loop, tmp_path)
    assert not [i for i in validate(book).issues if i.rule == "feedback-accepted-changed"]
    frame = read_workbook(book, defs).tables["reports"]
    row = int(frame[(frame["village_code"] == "02") & (frame["period"] == PERIOD)]["_row"].iloc[0])
    wb = openpyxl.load_workbook(book)
    wb[defs.sheet("reports").name][f"{read_workbook(book, defs).letters['reports']['tips']}{row}"] = 77
    wb.save(book)
    flagged = [i for i in validate(book).issues if i.rule == "feedback-accepted-changed"]
    assert len(flagged) == 1 and flagged[0].severity == "error" and "kỳ 2023-12 đã được cấp trên" in flagged[0].message.lower()
    done = CliRunner().invoke(main, ["receive", str(book), "--reopen", PERIOD, "--reason", "Sửa số tin báo thôn 02"])
    assert done.exit_code == 0, done.output
    assert not [i for i in validate(book).issues if i.rule == "feedback-accepted-changed"]
    not_locked = CliRunner().invoke(main, ["receive", str(book), "--reopen", PERIOD])
    assert not_locked.exit_code == 1 and "không phải kỳ đã được cấp trên chấp nhận" in not_locked.output


def test_an_indicator_added_by_a_later_release_does_not_unlock_or_flag_an_accepted_period(loop, tmp_path,
                                                                                         own_definitions):
    """The lock's checksum takes the indicators that hold a value: the empty column of a new
    indicator (read as not reported until the upgrade) leaves the accepted period as it was."""
    book = loop["books"][0]
    _accepted(loop, tmp_path)
    own_definitions.add_indicator()
    from xltools.core.definitions import load_definitions

    later = load_definitions(own_definitions.folder)  # read afresh: the release with one more indicator
    assert "school_talks" in [i.key for i in later.indicators]
    report = validate(book, defs=later)
    assert [i for i in report.issues if i.rule == "structure-upgrade-needed"]  # it is read as the newer release
    assert not [i for i in report.issues if i.rule == "feedback-accepted-changed"]


@pytest.mark.slow
def test_an_acceptance_of_figures_edited_after_the_export_locks_nothing_silently(loop, tmp_path, defs):
    """The figures were changed after the export that the level above accepted: receive says so,
    and validation flags the period until it is reopened (the lock never holds other numbers)."""
    book = loop["books"][0]
    out = feedback(_rollup(loop, accepts=[loop["codes"][0]]).path, tmp_path / "answers")
    path = next(p for p, d in out.written if d.unit_code == loop["codes"][0])
    frame = read_workbook(book, defs).tables["reports"]
    row = int(frame[(frame["village_code"] == "03") & (frame["period"] == PERIOD)]["_row"].iloc[0])
    wb = openpyxl.load_workbook(book)
    wb[defs.sheet("reports").name][f"{read_workbook(book, defs).letters['reports']['tips']}{row}"] = 55
    wb.save(book)
    result = receive(book, [path])
    assert result.files[0].status == "received" and not result.files[0].data_matches
    assert any("đã bị sửa sau khi xuất" in line for line in result.summary_lines())
    flagged = [i for i in validate(book).issues if i.rule == "feedback-accepted-changed"]
    assert len(flagged) == 1
    log = list(openpyxl.load_workbook(book)[defs.sheet("log").name].iter_rows(values_only=True))
    assert "đã bị sửa sau khi xuất" in log[-1][5]


# ------------------------------------------------------------------------------ 6. any level
def test_a_province_answers_a_district_with_the_same_files(loop, tmp_path, defs):
    district = _rollup(loop)
    (tmp_path / "province_inbox").mkdir()
    shutil.copy2(district.path, tmp_path / "province_inbox" / district.path.name)
    province = rollup([tmp_path / "province_inbox"], PERIOD, tmp_path / "prov", unit_name="tỉnh Thừa Thiên Huế",
                      unit_code="46", returns={"474": "Đề nghị huyện rà soát số hộ tham gia Zalo"})
    checks = [f for f in province.review.findings if f.unit_code == "474"]
    # the district's communes are its parts: the same rule, in the words for a part that is not a village
    assert any(f.rule == "plan-zalo-households" and f.part_code == loop["codes"][1] and f.message.startswith(
        f"{f.part_name} ({loop['codes'][1]}) kỳ {PERIOD}") for f in checks), checks
    out = feedback(province.path, tmp_path / "answers")
    (path, decision), = out.written
    assert path.name == f"PhanHoi_474_{PERIOD}.xlsx" and decision.decision == "returned"
    fb = read_feedback(path, submission_limits(defs))
    assert fb.get("submission_sha256") == hashlib.sha256(district.path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ real applications
# Runs under /usr/bin/python3 (python3-uno, ``conftest.run_uno``): open a workbook hidden, type each
# "A1=text" into a sheet as a user types it, save it as .xlsx with LibreOffice's own filter.
TYPE_AND_SAVE = r'''
path, out, sheet, edits = args[0], args[1], args[2], args[3:]
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(path), "_blank", 0, (prop("Hidden", True),))
ws = doc.Sheets.getByName(sheet)
for edit in edits:
    ref, value = edit.split("=", 1)
    ws.getCellRangeByName(ref).setFormula(value)
doc.storeToURL(uno.systemPathToFileUrl(out), (prop("FilterName", "Calc MS Excel 2007 XML"),))
doc.close(True)
'''


def _edit_in_libreoffice(path: Path, out: Path, sheet: str, edits: list[str], tmp_path: Path) -> Path:
    run = run_uno(TYPE_AND_SAVE, [str(path), str(out), sheet, *edits], tmp_path)
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.libreoffice
def test_the_clerk_decides_in_libreoffice_and_the_commune_receives_a_file_saved_there(loop, tmp_path, defs):
    w = review_words(defs)
    rolled = _rollup(loop).path
    rows = _sheet(rolled, w["decisions_sheet"])
    header = next(i for i, r in enumerate(rows) if r[0] == w["decisions_columns"][0])
    row = next(i for i, r in enumerate(rows) if r[0] == loop["codes"][0]) + 1
    assert row > header
    edited = _edit_in_libreoffice(rolled, tmp_path / "decided.xlsx", w["decisions_sheet"],
                                  [f"I{row}={w['decision_words']['returned']}", f"J{row}=Thiếu số liệu thôn 05",
                                   "C2=Hồ Văn Thử"], tmp_path)
    out = feedback(edited, tmp_path / "answers")
    decided = {d.unit_code: d for _, d in out.written}
    assert decided[loop["codes"][0]].decision == "returned"
    assert decided[loop["codes"][0]].reason == "Thiếu số liệu thôn 05"
    # the commune opens the feedback file in LibreOffice and saves it again before importing it
    path = next(p for p, d in out.written if d.unit_code == loop["codes"][0])
    (resaved,) = libreoffice_convert([path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "resaved")
    result = receive(loop["books"][0], [resaved])
    assert result.files[0].status == "received", result.files[0].reason
    assert read_feedback(resaved, submission_limits(defs)).get("decided_by") == "Hồ Văn Thử"
    states = read_workbook(loop["books"][0], defs).tables["feedback"]
    assert "Thiếu số liệu thôn 05" in states["reason"].tolist()


# ------------------------------------------------------------------------------ the button
def test_the_receive_button_writes_what_the_command_writes(loop, tmp_path, defs):
    """Nhận phản hồi cấp trên on the open book (xlwings' remote engine) takes the feedback folder of
    Cấu hình and writes the same Phản hồi cấp trên rows and dashboard line as `xltools receive`."""
    import os

    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    from conftest import actions, book_from_file, written_cells

    import xltools.excel as x

    feedback(_rollup(loop).path, tmp_path / "answers")
    book = loop["books"][1]
    folder = book.parent / str(defs.setting("feedback_dir").default)  # beside the workbook, as the default says
    shutil.copytree(tmp_path / "answers", folder)
    by_command = shutil.copy(book, tmp_path / "command.xlsx")
    assert receive(by_command, [folder]).files
    opened = book_from_file(book)
    text = x.receive(opened)
    assert "Đã xử lý 2 tệp phản hồi, nhận 1" in text and "không phải xã của sổ này" in text
    assert actions(opened, "alert")[0]["args"][3] == "info"
    sheet = defs.sheet("feedback").name
    cells = written_cells(opened, sheet)
    ws = openpyxl.load_workbook(by_command)[sheet]
    expected = {c.coordinate: c.value for row in ws.iter_rows(min_row=2) for c in row
                if c.value is not None and c.column > 1}  # column A: the time received
    got = {k: v for k, v in cells.items() if not k.startswith("A") and v not in (None, "")}
    assert got == expected
    dashboard = defs.sheet("dashboard")
    cell = next(f.cell for f in dashboard.fields if f.key == "upper_feedback")
    assert written_cells(opened, dashboard.name)[cell] == openpyxl.load_workbook(by_command)[dashboard.name][cell].value


def test_receive_without_files_takes_the_feedback_folder_of_the_settings(loop, tmp_path, defs):
    book = loop["books"][1]
    missing = CliRunner().invoke(main, ["receive", str(book)])
    assert missing.exit_code == 1 and missing.output.startswith("Lỗi: Chưa có thư mục ")
    assert defs.setting("feedback_dir").label in missing.output
    feedback(_rollup(loop).path, book.parent / str(defs.setting("feedback_dir").default))
    before = book.read_bytes()
    tried = CliRunner().invoke(main, ["receive", str(book), "--dry-run"])
    assert "Chạy thử (--dry-run): chưa ghi gì vào sổ." in tried.output and book.read_bytes() == before
    done = CliRunner().invoke(main, ["receive", str(book), "--format", "json"])
    files = {f["file"]: f for f in json.loads(done.stdout)["files"]}
    assert files[f"PhanHoi_{loop['codes'][1]}_{PERIOD}.xlsx"]["status"] == "received"
    assert files[f"PhanHoi_{loop['codes'][0]}_{PERIOD}.xlsx"]["status"] == "rejected"


@pytest.mark.slow
def test_the_add_ins_feedback_button_saves_the_rollup_and_writes_what_the_command_writes(loop, tmp_path, defs,
                                                                                         fake_com):
    """Gửi phản hồi cho đơn vị on the active rollup workbook (remote engine, Excel's COM faked):
    the book is saved first (the clerk's decisions), the files go beside it, as `xltools feedback`."""
    import os

    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    from conftest import actions, book_from_file

    import xltools.excel as x
    from xltools.io.review import review_words

    made = _rollup(loop).path
    by_command = feedback(made, tmp_path / "by_command")
    opened = book_from_file(made)
    com = fake_com(made, opened)
    saved = []
    com.book_api.Save = lambda: saved.append(True)

    text = x.addin_rollup_run("send_feedback", opened)

    assert saved == [True]
    folder = made.parent / review_words(defs)["feedback_out_dir"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p, _ in by_command.written)
    assert str(folder) in text and all(line.strip() in text for line in by_command.summary_lines()[1:])
    assert actions(opened, "alert")[0]["args"][3] == "info"
    # a commune workbook is not a rollup: one message box, nothing written
    commune = book_from_file(loop["books"][0])
    refused = x.addin_rollup_run("send_feedback", commune)
    assert "không phải báo cáo tổng hợp" in refused and actions(commune, "alert")[0]["args"][3] == "critical"


@pytest.mark.slow
def test_the_add_ins_rollup_button_rolls_a_picked_folder_up_and_remembers_the_unit(loop, defs, fake_com):
    """Tổng hợp báo cáo các đơn vị: the folder picked, the period proposed from its files, the unit
    asked once and kept beside the folder, the rollup written beside it and opened."""
    import os

    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    from conftest import actions, book_from_file

    import xltools.excel as x
    from xltools.core.definitions import report_defs
    from xltools.io.submission_reader import read_submission

    opened = book_from_file(loop["books"][0])  # whatever the clerk has open
    com = fake_com(loop["books"][0], opened)
    com.app.folder = loop["inbox"]
    com.app.answers = [PERIOD, "tỉnh Thừa Thiên Huế", "46"]  # the period, then the unit (asked once)

    text = x.addin_rollup_run("rollup_folder", opened)

    roll = report_defs(defs)["rollup"]
    made = loop["inbox"].parent / roll["out_dir"] / f"BC138_46_{PERIOD}.xlsx"
    assert made.is_file(), text
    assert PERIOD in com.app.prompts[0]  # the periods found in the folder are proposed
    assert com.app.opened == [str(made)]
    sub = read_submission(made, defs)
    assert sub.unit_name == "tỉnh Thừa Thiên Huế" and sub.unit_code == "46" and sub.info["parts"] == "2"
    assert actions(opened, "alert")[-1]["args"][3] == "info" and str(made) in text
    unit_file = loop["inbox"].parent / roll["unit_file"]
    assert 'unit_name = "tỉnh Thừa Thiên Huế"' in unit_file.read_text(encoding="utf-8")
    # the second click asks only for the period; Cancel on the picker rolls nothing up
    again = book_from_file(loop["books"][0])
    com = fake_com(loop["books"][0], again)
    com.app.folder = loop["inbox"]
    x.addin_rollup_run("rollup_folder", again)
    assert len(com.app.prompts) == 1
    com.app.folder = None
    assert x.addin_rollup_run("rollup_folder", book_from_file(loop["books"][0])) == "Đã hủy: chưa tổng hợp gì."
